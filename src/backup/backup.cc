#include "backup/backup.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <random>

#include "backup/catalog.h"
#include "backup/lz4.h"
#include "common/log.h"

namespace litehouse::backup {
namespace {

constexpr size_t kWalHeaderBytes = 32;

std::string Hex8(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%08" PRIx64, v);
  return buf;
}

std::string NewGeneration() {
  std::random_device rd;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  return buf;
}

}  // namespace

Backup::Backup(std::unique_ptr<ReplicaClient> client, BackupOptions options)
    : client_(std::move(client)), options_(std::move(options)), generation_(NewGeneration()) {}

Backup::~Backup() { (void)Stop(); }

Status Backup::Start() {
  if (options_.db == nullptr) return Status::InvalidArgument("a backup needs the database");
  auto db_size = options_.db->FileSize();
  if (!db_size.ok()) return db_size.status();
  std::string image(static_cast<size_t>(*db_size), '\0');
  if (Status read = options_.db->ReadFile(0, image.size(), image.data()); !read.ok()) return read;
  const WallClock::time_point taken = Now();
  const size_t size = image.size();
  std::optional<LogPosition> log = options_.log_position ? options_.log_position() : std::nullopt;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_snapshot_ = taken;
    pending_.push_back(Segment{0, 0, std::move(image), taken, true, 0, generation_, taken, std::move(log)});
  }
  LH_LOG_INFO("backup to {}: generation {}, snapshot of {} bytes", client_->url(), generation_, size);
  // A store that fails now (down, slow) does not keep the database from serving: the snapshot stays
  // first in line, and every tick tries it again, as it tries segments. (A store that cannot be read
  // at all, or refuses the keys, was already said by the listing before the start.)
  if (Status s = Sync(); !s.ok()) {
    LH_LOG_WARN("backup to {}: the first snapshot is not uploaded yet, tried again at every tick: {}", client_->url(), s.ToString());
  }
  if (options_.interval.count() > 0) {
    shipper_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!stopping_) {
        lock.unlock();
        (void)Sync();
        if (SnapshotDue() && Snapshot().ok()) (void)Sync();
        lock.lock();
        cv_.wait_for(lock, options_.interval, [this] { return stopping_; });
      }
    });
  }
  return Status::OK();
}

bool Backup::SnapshotDue() const {
  std::chrono::milliseconds every = options_.snapshot_interval.count() > 0 ? options_.snapshot_interval : options_.retention;
  if (!options_.db || every.count() <= 0) return false;
  const WallClock::time_point now = Now();
  std::lock_guard<std::mutex> lock(mu_);
  return changed_ && lost_.ok() && status_.ok() && now - last_snapshot_ >= every && now >= next_snapshot_try_;
}

Status Backup::Snapshot() {
  std::lock_guard<std::mutex> one_at_a_time(sync_mu_);
  return TakeSnapshot(false);
}

Status Backup::StartNewGeneration() {
  std::lock_guard<std::mutex> one_at_a_time(sync_mu_);
  return TakeSnapshot(true);
}

// With sync_mu_ held.
Status Backup::TakeSnapshot(bool new_generation) {
  if (!options_.db) return Status::InvalidArgument("this backup takes no snapshots after its first (no database given)");
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!changed_ && !new_generation) return Status::OK();  // the last snapshot is the database
  }
  uint32_t index = 0;
  std::string generation;
  WallClock::time_point taken;
  WallClock::time_point previous_snapshot;
  bool restarted = false;
  std::optional<LogPosition> log;
  auto image = options_.db->ReadImageAtWalRestart([&] {
    // No commit can run here: the next one begins WAL index index_+1, of which this is the state.
    taken = Now();
    restarted = true;
    if (options_.log_position) log = options_.log_position();
    std::lock_guard<std::mutex> lock(mu_);
    if (new_generation) {
      // From here the new generation's WAL is captured (index 0 at the next commit); if the image
      // cannot be read, the overflow stands again and nothing of this generation is shipped.
      generation_ = NewGeneration();
      index_ = -1;
      overflowed_ = false;
      ++generations_started_;
    }
    generation = generation_;
    index = static_cast<uint32_t>(index_ + 1);
    open_segment_ = false;
    expect_restart_ = true;
    changed_ = false;
    previous_snapshot = last_snapshot_;
    last_snapshot_ = taken;
  });
  if (!image.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    if (restarted) {
      // Nothing was taken after all: what was committed since still needs a snapshot.
      changed_ = true;
      last_snapshot_ = previous_snapshot;
      if (new_generation) overflowed_ = true;  // the next Sync drops what was captured for it and tries again
    }
    next_snapshot_try_ = Now() + std::chrono::minutes(1);
    LH_LOG_WARN("backup snapshot not taken, tried again in a minute: {}", image.status().ToString());
    return image.status();
  }
  if (new_generation) LH_LOG_WARN("backup to {}: a new generation {} begins", client_->url(), generation);
  std::lock_guard<std::mutex> lock(mu_);
  // Behind every segment of the indexes before it (queued before the restart), ahead of or among
  // the segments of its own index: those need it, not the other way round. The segment a commit
  // opened meanwhile is closed: the next commit opens one after the snapshot (OnTransaction never
  // appends to a snapshot).
  pending_.push_back(Segment{index, 0, std::move(image).value(), taken, true, 0, generation, taken, std::move(log)});
  open_segment_ = false;
  return Status::OK();
}

Status Backup::EnforceRetention() {
  if (options_.retention.count() <= 0) return Status::OK();
  auto catalog = ReadCatalog(*client_);
  if (!catalog.ok()) return catalog.status();
  const WallClock::time_point cutoff = Now() - options_.retention;
  const std::string current = generation();
  Status result;
  auto remove = [&](const std::string& key) {
    if (Status s = client_->Delete(key); !s.ok() && result.ok()) result = s;
  };
  for (const GenerationInfo& g : *catalog) {
    const SnapshotFile* oldest_kept = nullptr;
    for (const SnapshotFile& s : g.snapshots) {
      if (s.created >= cutoff && (!oldest_kept || s.index < oldest_kept->index)) oldest_kept = &s;
    }
    if (!oldest_kept && g.id == current && !g.snapshots.empty()) oldest_kept = &g.snapshots.back();  // its latest
    if (!oldest_kept) {
      if (g.id == current) continue;  // its first snapshot is not listed yet
      auto all = client_->List("generations/" + g.id + "/");
      if (!all.ok()) return all.status();
      // Its WAL first, then its snapshots, then the rest (the position): as below, a listing never
      // shows segments without their snapshot.
      auto rank = [](const std::string& key) { return key.find("/wal/") != std::string::npos ? 0 : key.find("/snapshots/") != std::string::npos ? 1 : 2; };
      std::stable_sort(all->begin(), all->end(), [&](const ObjectInfo& a, const ObjectInfo& b) { return rank(a.key) < rank(b.key); });
      for (const ObjectInfo& o : *all) remove(o.key);
      LH_LOG_INFO("backup retention: generation {} deleted (its last snapshot is older than the retention)", g.id);
      continue;
    }
    // The segments first: a snapshot without its segments still restores (to its own time), while
    // segments whose snapshot is gone are of no use, and a listing must never show them so.
    for (const SegmentFile& s : g.segments)
      if (s.index < oldest_kept->index) remove(s.key);
    for (const SnapshotFile& s : g.snapshots)
      if (s.index < oldest_kept->index) remove(s.key);
  }
  return result;
}

void Backup::OnTransaction(const replication::CommittedTransaction& txn) {
  const WallClock::time_point now = Now();
  std::optional<LogPosition> log = options_.log_position ? options_.log_position() : std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  if (!lost_.ok()) return;
  changed_ = true;
  if (overflowed_) return;  // dropped: the next Sync begins a new generation
  if (expect_restart_ && !txn.wal_restarted) {
    // The snapshot was labelled with the index this commit should have begun: it would restore
    // without this transaction. Said, never shipped as if continuous.
    lost_ = Status::Internal("the WAL did not restart after the backup's snapshot: the backup cannot prove continuity from here on");
    LH_LOG_ERROR("{}", lost_.ToString());
    return;
  }
  expect_restart_ = false;
  if (txn.wal_restarted) {
    // A new WAL: the next index, from its header.
    ++index_;
    open_segment_ = false;
  }
  if (index_ < 0) return;  // cannot happen: capture starts on an empty WAL, whose first commit restarts it
  if (!open_segment_ || pending_.empty() || pending_.back().snapshot) {
    // The segment's offset is its first frame's place in the WAL; the one at the WAL's start
    // carries the header before it.
    const uint64_t frame_bytes = 24 + uint64_t{txn.page_size};
    const uint64_t offset = txn.first_frame == 1 ? 0 : kWalHeaderBytes + (txn.first_frame - 1) * frame_bytes;
    pending_.push_back(Segment{static_cast<uint32_t>(index_), offset, {}, now, false, 0, generation_, now});
    open_segment_ = true;
    if (offset == 0) {
      pending_.back().bytes.assign(txn.wal_header);
      pending_bytes_ += txn.wal_header.size();
    }
  }
  Segment& seg = pending_.back();
  seg.bytes.append(txn.frames);
  seg.last_commit = now;
  seg.log_end = std::move(log);
  ++seg.transactions;
  pending_bytes_ += txn.frames.size();
  ++pending_transactions_;
  if (pending_bytes_ > options_.max_pending_bytes && options_.db) {
    // The store has not taken them for a while: rather than grow without bound, they go, and so
    // does the continuity of this generation.
    overflowed_ = true;
    LH_LOG_ERROR("backup to {}: {} bytes of commits wait to be shipped, past the bound of {}: they are dropped, and a new "
                 "generation begins once the store takes uploads again",
                 client_->url(), pending_bytes_, options_.max_pending_bytes);
  }
}

void Backup::OnCaptureLost(const Status& why) {
  std::lock_guard<std::mutex> lock(mu_);
  lost_ = Status::IoError("the commit capture failed, the backup misses transactions from here on: " + why.message());
  LH_LOG_ERROR("{}", lost_.ToString());
}

Status Backup::Sync() {
  std::lock_guard<std::mutex> one_at_a_time(sync_mu_);
  bool overflowed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    overflowed = overflowed_;
    if (overflowed) {
      // Only Sync removes segments, and it holds sync_mu_: none is being read.
      pending_.clear();
      pending_bytes_ = 0;
      pending_transactions_ = 0;
      open_segment_ = false;
    }
  }
  if (overflowed) {
    {
      // After a snapshot that a reader kept from being taken, not before a minute (each try holds
      // writers up to 200 ms).
      std::lock_guard<std::mutex> lock(mu_);
      if (Now() < next_snapshot_try_) return Status::Busy("a new backup generation waits to be tried again");
    }
    // A new generation only once the store answers again: until then its snapshot would only wait
    // in memory (a cheap listing is the probe).
    auto probe = client_->List("generations/" + generation() + "/snapshots/");
    if (!probe.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      status_ = probe.status();
      return probe.status();
    }
    if (Status s = TakeSnapshot(true); !s.ok()) return s;
  }
  size_t closed;
  {
    // The segments pending now are complete: later commits go to a new one, which the next Sync
    // ships. Only Sync removes segments, so these stay at the front until uploaded.
    std::lock_guard<std::mutex> lock(mu_);
    open_segment_ = false;
    closed = pending_.size();
  }
  for (; closed > 0; --closed) {
    // A closed segment is never written again, and only Sync (one at a time) removes segments, so it
    // is read here without the mutex: no copy under the lock that commits need.
    const Segment* seg;
    {
      std::lock_guard<std::mutex> lock(mu_);
      seg = &pending_.front();  // a deque keeps its elements in place as others are added
    }
    Status s = Upload(*seg);
    std::lock_guard<std::mutex> lock(mu_);
    if (!s.ok()) {
      if (status_.ok()) LH_LOG_ERROR("backup upload of {} failed, retrying at the next tick: {}", KeyOf(*seg), s.ToString());
      status_ = s;
      return s;
    }
    if (seg->log_end) {
      position_ = BackupPosition{seg->generation, seg->index, seg->snapshot ? 0 : seg->offset + seg->bytes.size(), *seg->log_end};
      position_stored_ = false;
    } else if (position_ && position_->generation != seg->generation) {
      position_.reset();  // a new generation without a known position: the old one's stays as it is
    }
    if (seg->snapshot) {
      retention_due_ = true;
      ++snapshots_;
    } else {
      pending_bytes_ -= std::min<uint64_t>(pending_bytes_, seg->bytes.size());
      pending_transactions_ -= std::min<uint64_t>(pending_transactions_, seg->transactions);
      transactions_shipped_ += seg->transactions;
      if (options_.coalesce_window.count() > 0) {
        if (!shipped_.empty() && shipped_.front().key.rfind("generations/" + seg->generation + "/", 0) != 0) shipped_.clear();
        shipped_.push_back(Shipped{seg->index, seg->offset, KeyOf(*seg), seg->last_commit});
      }
    }
    last_shipped_ = Now();
    pending_.pop_front();
  }
  bool retention, stopping;
  {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = Status::OK();
    retention = retention_due_;
    retention_due_ = false;
    stopping = stopping_;
  }
  if (Status s = PutPosition(retention || stopping); !s.ok()) LH_LOG_WARN("backup: storing its position: {}", s.ToString());
  if (retention) {
    if (Status s = EnforceRetention(); !s.ok()) LH_LOG_WARN("backup retention: {}", s.ToString());
  }
  if (Status s = Coalesce(); !s.ok()) LH_LOG_WARN("backup: coalescing segments: {}", s.ToString());
  return Status::OK();
}

// With sync_mu_ held. Not an upload failure: a replica that finds no position, or an older one,
// bootstraps or tails a little more from the primary.
Status Backup::PutPosition(bool now) {
  constexpr auto kPositionEvery = std::chrono::seconds(5);
  if (!position_ || position_stored_) return Status::OK();
  const WallClock::time_point t = Now();
  if (!now && t - position_put_ < kPositionEvery) return Status::OK();
  if (Status s = client_->Put(PositionKey(position_->generation), EncodePosition(*position_), t); !s.ok()) return s;
  position_stored_ = true;
  position_put_ = t;
  return Status::OK();
}

Status Backup::Coalesce() {
  const auto window = options_.coalesce_window;
  if (window.count() <= 0 || shipped_.empty()) return Status::OK();
  const std::string current = "generations/" + generation() + "/";
  if (shipped_.front().key.rfind(current, 0) != 0) {
    shipped_.clear();  // a new generation began: the old one's segments stay as they are
    return Status::OK();
  }
  auto bucket = [&](WallClock::time_point t) { return t.time_since_epoch() / window; };
  const auto open_bucket = bucket(Now());
  Status result;
  size_t i = 0;
  std::vector<Shipped> kept;
  while (i < shipped_.size()) {
    size_t j = i + 1;
    while (j < shipped_.size() && shipped_[j].index == shipped_[i].index && bucket(shipped_[j].last_commit) == bucket(shipped_[i].last_commit)) ++j;
    if (bucket(shipped_[i].last_commit) >= open_bucket) {
      kept.insert(kept.end(), shipped_.begin() + static_cast<std::ptrdiff_t>(i), shipped_.end());  // not over yet
      break;
    }
    if (j - i >= 2 && result.ok()) {
      // One object for the run, under its first segment's key (the offset where it begins), with
      // its last commit's time; then the others go. A restore listing in between sees the merged
      // object and the later parts, which it covers: restore skips those (restore.cc).
      std::string merged;
      Status s;
      for (size_t k = i; k < j && s.ok(); ++k) {
        auto bytes = client_->Get(shipped_[k].key);
        if (!bytes.ok()) {
          s = bytes.status();
          break;
        }
        auto plain = Lz4Decompress(*bytes);
        if (!plain.ok()) {
          s = Status::Corruption(shipped_[k].key + ": " + plain.status().message());
          break;
        }
        merged += *plain;
      }
      if (s.ok()) s = client_->Put(shipped_[i].key, Lz4Compress(merged), shipped_[j - 1].last_commit);
      for (size_t k = i + 1; k < j && s.ok(); ++k) s = client_->Delete(shipped_[k].key);
      if (!s.ok()) result = s;  // left as they are: each part still restores
    }
    i = j;
  }
  shipped_ = std::move(kept);
  return result;
}

std::string Backup::KeyOf(const Segment& seg) const {
  const std::string dir = "generations/" + seg.generation;
  return seg.snapshot ? dir + "/snapshots/" + Hex8(seg.index) + ".snapshot.lz4"
                      : dir + "/wal/" + Hex8(seg.index) + "_" + Hex8(seg.offset) + ".wal.lz4";
}

Status Backup::Upload(const Segment& seg) {
  Status s = client_->Put(KeyOf(seg), Lz4Compress(seg.bytes), seg.last_commit);
  if (!s.ok()) return s;
  if (seg.snapshot) LH_LOG_INFO("backup: snapshot {} of generation {} ({} bytes)", Hex8(seg.index), seg.generation, seg.bytes.size());
  return s;
}

Status Backup::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (shipper_.joinable()) shipper_.join();
  return Sync();
}

Status Backup::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lost_.ok() ? status_ : lost_;
}

std::string Backup::generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

BackupReport Backup::Report() const {
  std::lock_guard<std::mutex> lock(mu_);
  BackupReport r;
  r.url = client_->url();
  r.generation = generation_;
  r.status = lost_.ok() ? status_ : lost_;
  r.pending_transactions = pending_transactions_;
  r.pending_bytes = pending_bytes_;
  for (const Segment& seg : pending_) {
    if (!seg.snapshot && seg.transactions > 0) {
      r.oldest_pending = seg.first_commit;
      break;
    }
  }
  r.last_shipped = last_shipped_;
  r.transactions_shipped = transactions_shipped_;
  r.snapshots = snapshots_;
  r.generations_started = generations_started_;
  return r;
}

size_t Backup::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

}  // namespace litehouse::backup
