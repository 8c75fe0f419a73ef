#include "backup/backup.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <random>

#include "backup/lz4.h"
#include "common/file_io.h"
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
  auto db = ReadWholeFile(options_.db_path);
  if (!db.ok()) return db.status();
  const std::string key = "generations/" + generation_ + "/snapshots/" + Hex8(0) + ".snapshot.lz4";
  if (Status s = client_->Put(key, Lz4Compress(*db), WallClock::now()); !s.ok()) return s;
  LH_LOG_INFO("backup to {}: generation {}, snapshot of {} bytes", client_->url(), generation_, db->size());
  if (options_.interval.count() > 0) {
    shipper_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!stopping_) {
        cv_.wait_for(lock, options_.interval, [this] { return stopping_; });
        if (stopping_) break;
        lock.unlock();
        (void)Sync();
        lock.lock();
      }
    });
  }
  return Status::OK();
}

void Backup::OnTransaction(const replication::CommittedTransaction& txn) {
  const WallClock::time_point now = WallClock::now();
  std::lock_guard<std::mutex> lock(mu_);
  if (!lost_.ok()) return;
  if (txn.wal_restarted) {
    // A new WAL: the next index, from its header.
    ++index_;
    open_segment_ = false;
  }
  if (index_ < 0) return;  // cannot happen: capture starts on an empty WAL, whose first commit restarts it
  if (!open_segment_) {
    // The segment's offset is its first frame's place in the WAL; the one at the WAL's start
    // carries the header before it.
    const uint64_t frame_bytes = 24 + uint64_t{txn.page_size};
    const uint64_t offset = txn.first_frame == 1 ? 0 : kWalHeaderBytes + (txn.first_frame - 1) * frame_bytes;
    pending_.push_back(Segment{static_cast<uint32_t>(index_), offset, {}, now});
    open_segment_ = true;
    if (offset == 0) pending_.back().bytes.assign(txn.wal_header);
  }
  Segment& seg = pending_.back();
  seg.bytes.append(txn.frames);
  seg.last_commit = now;
}

void Backup::OnCaptureLost(const Status& why) {
  std::lock_guard<std::mutex> lock(mu_);
  lost_ = Status::IoError("the commit capture failed, the backup misses transactions from here on: " + why.message());
  LH_LOG_ERROR("{}", lost_.ToString());
}

Status Backup::Sync() {
  std::lock_guard<std::mutex> one_at_a_time(sync_mu_);
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
    const std::string key = "generations/" + generation_ + "/wal/" + Hex8(seg->index) + "_" + Hex8(seg->offset) + ".wal.lz4";
    Status s = client_->Put(key, Lz4Compress(seg->bytes), seg->last_commit);
    std::lock_guard<std::mutex> lock(mu_);
    if (!s.ok()) {
      if (status_.ok()) LH_LOG_ERROR("backup upload of {} failed, retrying at the next tick: {}", key, s.ToString());
      status_ = s;
      return s;
    }
    pending_.pop_front();
  }
  std::lock_guard<std::mutex> lock(mu_);
  status_ = Status::OK();
  return Status::OK();
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

size_t Backup::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.size();
}

}  // namespace litehouse::backup
