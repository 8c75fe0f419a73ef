#include "replication/frame_log.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <random>

#include "common/file_io.h"
#include "common/log.h"

namespace litehouse::replication {
namespace {

constexpr size_t kHeaderBytes = 64;
constexpr size_t kSnapshotHeaderBytes = 48;
constexpr uint64_t kMagic = 0x004c415744514c53ull;  // "SQLDWAL\0" read as a little-endian u64
constexpr uint32_t kVersion = 2;
constexpr size_t kFrameCountOffset = 40;

void PutLe(char* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint64_t GetLe(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// The UUID's 16 bytes (big-endian, as written) <-> sqld's u128 in a file (little-endian).
void PutUuid(char* p, const std::array<uint8_t, 16>& u) {
  for (int i = 0; i < 16; ++i) p[i] = static_cast<char>(u[15 - i]);
}
std::array<uint8_t, 16> GetUuid(const char* p) {
  std::array<uint8_t, 16> u{};
  for (int i = 0; i < 16; ++i) u[i] = static_cast<uint8_t>(p[15 - i]);
  return u;
}

std::string SnapshotName(const std::array<uint8_t, 16>& id, uint64_t start, uint64_t end) {
  return UuidText(id) + "-" + std::to_string(start) + "-" + std::to_string(end) + ".snap";
}

}  // namespace

std::array<uint8_t, 16> NewUuid() {
  std::random_device rd;
  std::array<uint8_t, 16> u{};
  for (size_t i = 0; i < u.size(); i += 4) {
    uint32_t r = rd();
    std::memcpy(u.data() + i, &r, 4);
  }
  u[6] = static_cast<uint8_t>((u[6] & 0x0f) | 0x40);  // version 4
  u[8] = static_cast<uint8_t>((u[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return u;
}

std::string UuidText(const std::array<uint8_t, 16>& u) {
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += hex[u[i] >> 4];
    s += hex[u[i] & 15];
  }
  return s;
}

// One wallog file: its descriptor stays open while anyone reads it, even after compaction renamed
// or removed it.
struct FrameLog::Segment {
  int fd = -1;
  std::string path;
  uint64_t start_frame_no = 0;
  uint64_t frame_count = 0;  // guarded by FrameLog::mu_ while the segment is live, as is path
  ~Segment() {
    if (fd >= 0) ::close(fd);
  }
  off_t OffsetOf(uint64_t frame_no) const { return static_cast<off_t>(kHeaderBytes + (frame_no - start_frame_no) * kLogFrameBytes); }
};

FrameLog::FrameLog(FrameLogOptions options)
    : options_(std::move(options)), clock_(options_.clock ? *options_.clock : Clock::Steady()) {}

Result<std::unique_ptr<FrameLog>> FrameLog::Open(FrameLogOptions options) {
  std::unique_ptr<FrameLog> log(new FrameLog(std::move(options)));
  const std::string& dir = log->options_.dir;
  ::mkdir(dir.c_str(), 0755);
  ::mkdir((dir + "/snapshots").c_str(), 0755);
  if (!Exists(dir)) return ErrnoStatus("create " + dir);
  const std::string sentinel = dir + "/.sentinel";
  MutexLock lock(&log->mu_);  // nobody else sees the log yet; the fields say mu_ all the same
  bool usable = false;
  if (Exists(sentinel)) {
    LH_LOG_WARN("the replication log was not closed cleanly: starting a new history (replicas bootstrap again)");
  } else if (Exists(dir + "/wallog")) {
    if (Status s = log->OpenExisting(&usable); !s.ok()) return s;
    if (!usable) LH_LOG_WARN("the replication log does not match the database: starting a new history (replicas bootstrap again)");
  }
  if (!usable) {
    if (Status s = log->StartNewHistory(); !s.ok()) return s;
  }
  int fd = ::open(sentinel.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("create " + sentinel);
  ::close(fd);
  SyncDirectory(dir);
  log->live_started_ = log->clock_.Now();
  return log;
}

Status FrameLog::OpenExisting(bool* usable) {
  *usable = false;
  const std::string path = options_.dir + "/wallog";
  auto seg = std::make_shared<Segment>();
  seg->path = path;
  seg->fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (seg->fd < 0) return ErrnoStatus("open " + path);
  char h[kHeaderBytes];
  if (!PreadFull(seg->fd, h, sizeof h, 0)) return Status::OK();  // too short: start anew
  if (GetLe(h, 8) != kMagic || GetLe(h + 48, 4) != kVersion || GetLe(h + 52, 4) != kLogPageSize) return Status::OK();
  log_id_ = GetUuid(h + 16);
  seg->start_frame_no = GetLe(h + 32, 8);
  seg->frame_count = GetLe(h + 40, 8);
  struct stat st;
  if (::fstat(seg->fd, &st) != 0 || static_cast<uint64_t>(st.st_size) < kHeaderBytes + seg->frame_count * kLogFrameBytes) {
    return Status::OK();
  }
  uint32_t size_after = 0;
  if (seg->frame_count > 0) {
    char fh[kLogFrameHeaderBytes];
    if (!PreadFull(seg->fd, fh, sizeof fh, seg->OffsetOf(seg->start_frame_no + seg->frame_count - 1))) return Status::OK();
    size_after = static_cast<uint32_t>(GetLe(fh + 20, 4));
    last_frame_no_ = seg->start_frame_no + seg->frame_count - 1;
  } else if (seg->start_frame_no > 0) {
    last_frame_no_ = seg->start_frame_no - 1;
  }
  // The snapshot that holds every frame before the live log.
  if (seg->start_frame_no > 0) {
    std::string name = SnapshotName(log_id_, 0, seg->start_frame_no - 1);
    std::string snap = options_.dir + "/snapshots/" + name;
    int fd = ::open(snap.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::OK();
    char sh[kSnapshotHeaderBytes];
    bool ok = PreadFull(fd, sh, sizeof sh, 0);
    ::close(fd);
    if (!ok) return Status::OK();
    if (seg->frame_count == 0) size_after = static_cast<uint32_t>(GetLe(sh + 40, 4));
    snapshot_path_ = snap;
    snapshot_end_ = seg->start_frame_no - 1;
  }
  // The database must be what the log says it is: its size in pages is the last commit's.
  if (options_.db == nullptr) return Status::OK();
  auto db_size = options_.db->FileSize();
  if (!db_size.ok() || static_cast<uint64_t>(*db_size) != uint64_t{size_after} * kLogPageSize) return Status::OK();
  // A torn tail past the committed frames is cut off.
  if (::ftruncate(seg->fd, static_cast<off_t>(kHeaderBytes + seg->frame_count * kLogFrameBytes)) != 0) return ErrnoStatus("truncate " + path);
  last_size_after_ = size_after;
  live_ = std::move(seg);
  *usable = true;
  return Status::OK();
}

Status FrameLog::StartNewHistory() {
  const std::string& dir = options_.dir;
  // The database file holds every committed page (its WAL was checkpointed): they are the new
  // history's first transaction.
  if (options_.db == nullptr) return Status::InvalidArgument("the replication log needs the database to start a history");
  engine::Database& db = *options_.db;
  auto db_size = db.FileSize();
  if (!db_size.ok()) return db_size.status();
  const int64_t size = *db_size;
  if (size >= 100) {
    char hdr[100];
    if (Status read = db.ReadFile(0, sizeof hdr, hdr); !read.ok()) return read;
    uint32_t page_size = (static_cast<unsigned char>(hdr[16]) << 8) | static_cast<unsigned char>(hdr[17]);
    if (page_size == 1) page_size = 65536;
    if (page_size != kLogPageSize) {
      return Status::InvalidArgument("the database's page size is " + std::to_string(page_size) +
                                     " bytes; replication needs 4096 (sqld's): convert it with `PRAGMA page_size=4096; VACUUM;`");
    }
  }
  if (size % kLogPageSize != 0) {
    return Status::Corruption("the database file is " + std::to_string(size) + " bytes, not a whole number of pages");
  }
  const uint64_t pages = static_cast<uint64_t>(size) / kLogPageSize;

  // Every snapshot of an earlier history is useless now.
  if (DIR* d = ::opendir((dir + "/snapshots").c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") ::unlink((dir + "/snapshots/" + name).c_str());
    }
    ::closedir(d);
  }
  log_id_ = NewUuid();
  const std::string tmp = dir + "/wallog.new";
  auto seg = std::make_shared<Segment>();
  seg->fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (seg->fd < 0) return ErrnoStatus("create " + tmp);
  char h[kHeaderBytes] = {};
  PutLe(h, kMagic, 8);
  PutLe(h + 8, 0, 8);
  PutUuid(h + 16, log_id_);
  PutLe(h + 32, 0, 8);
  PutLe(h + 40, pages, 8);
  PutLe(h + 48, kVersion, 4);
  PutLe(h + 52, kLogPageSize, 4);
  if (!PwriteFull(seg->fd, h, sizeof h, 0)) return ErrnoStatus("write " + tmp);
  std::string pages_read, chunk;
  constexpr uint64_t kPagesPerWrite = 256;
  for (uint64_t first = 0; first < pages; first += kPagesPerWrite) {
    uint64_t n = std::min(kPagesPerWrite, pages - first);
    // The run of pages in one read (one lease of the engine's), then each into its frame.
    pages_read.resize(n * kLogPageSize);
    Status read = db.ReadFile(static_cast<int64_t>(first * kLogPageSize), pages_read.size(), pages_read.data());
    if (!read.ok()) return read;
    chunk.resize(n * kLogFrameBytes);  // every byte written below, as in Append
    for (uint64_t i = 0; i < n; ++i) {
      char* f = chunk.data() + i * kLogFrameBytes;
      std::memcpy(f + kLogFrameHeaderBytes, pages_read.data() + i * kLogPageSize, kLogPageSize);
      PutLe(f, first + i, 8);
      PutLe(f + 8, 0, 8);  // checksum: see the top of frame_log.h
      PutLe(f + 16, first + i + 1, 4);
      PutLe(f + 20, first + i + 1 == pages ? pages : 0, 4);
    }
    if (!PwriteFull(seg->fd, chunk.data(), chunk.size(), static_cast<off_t>(kHeaderBytes + first * kLogFrameBytes))) {
      return ErrnoStatus("write " + tmp);
    }
  }
  if (::fsync(seg->fd) != 0) return ErrnoStatus("sync " + tmp);
  seg->path = dir + "/wallog";
  if (::rename(tmp.c_str(), seg->path.c_str()) != 0) return ErrnoStatus("rename " + tmp);
  SyncDirectory(dir);
  seg->frame_count = pages;
  last_size_after_ = static_cast<uint32_t>(pages);
  last_frame_no_ = pages > 0 ? std::optional<uint64_t>(pages - 1) : std::nullopt;
  snapshot_path_.clear();
  snapshot_end_ = 0;
  live_ = std::move(seg);
  LH_LOG_INFO("replication log {}: a new history from the database's {} pages", UuidText(log_id_), pages);
  return Status::OK();
}

FrameLog::~FrameLog() {
  WaitForCompaction();
  MutexLock lock(&mu_);
  closed_ = true;
  frame_cv_.SignalAll();
  char count[8];
  if (live_) PutLe(count, live_->frame_count, 8);
  if (live_ && PwriteFull(live_->fd, count, sizeof count, kFrameCountOffset) && ::fsync(live_->fd) == 0 && status_.ok()) {
    // Closed cleanly: the next start may continue this history.
    ::unlink((options_.dir + "/.sentinel").c_str());
    SyncDirectory(options_.dir);
  }
}

std::string FrameLog::log_id() const {
  MutexLock lock(&mu_);
  return UuidText(log_id_);
}

std::optional<uint64_t> FrameLog::last_frame_no() const {
  MutexLock lock(&mu_);
  return last_frame_no_;
}

std::optional<FrameLog::Head> FrameLog::head() const {
  MutexLock lock(&mu_);
  if (!status_.ok()) return std::nullopt;
  return Head{UuidText(log_id_), last_frame_no_ ? *last_frame_no_ + 1 : 0};
}

uint64_t FrameLog::start_frame_no() const {
  MutexLock lock(&mu_);
  return live_->start_frame_no;
}

Status FrameLog::status() const {
  MutexLock lock(&mu_);
  return status_;
}

void FrameLog::OnTransaction(const CommittedTransaction& txn) {
  {
    MutexLock lock(&mu_);
    if (!status_.ok()) return;
  }
  Status s = Append(txn);
  if (!s.ok()) {
    LH_LOG_ERROR("the replication log lost a transaction, replicas are refused until a restart: {}", s.ToString());
    MutexLock lock(&mu_);
    status_ = s;
    frame_cv_.SignalAll();
    return;
  }
  {
    MutexLock lock(&listener_mu_);
    if (listener_) listener_();
  }
  bool due;
  {
    MutexLock lock(&mu_);
    due = !compacting_ && live_->frame_count >= compact_retry_at_ && (live_->frame_count > options_.max_log_frames ||
                           (options_.max_log_age.count() > 0 && live_->frame_count > 0 &&
                            clock_.Now() - live_started_ >= options_.max_log_age));
  }
  if (due) Compact();
}

void FrameLog::SetListener(std::function<void()> listener) {
  MutexLock lock(&listener_mu_);
  listener_ = std::move(listener);
}

void FrameLog::OnCaptureLost(const Status& why) {
  MutexLock lock(&mu_);
  if (status_.ok()) status_ = Status::IoError("the commit capture failed, the log misses transactions: " + why.message());
  frame_cv_.SignalAll();
}

Status FrameLog::Append(const CommittedTransaction& txn) {
  if (txn.page_size != kLogPageSize) {
    return Status::InvalidArgument("a transaction wrote pages of " + std::to_string(txn.page_size) + " bytes; the log holds 4096");
  }
  std::shared_ptr<Segment> seg;
  uint64_t next;
  {
    MutexLock lock(&mu_);
    seg = live_;
    next = seg->start_frame_no + seg->frame_count;
  }
  // Pages past the database's new end (a VACUUM that shrank it) are not part of its state.
  std::vector<std::pair<uint32_t, std::string_view>> pages;
  for (const auto& [page_no, data] : txn.pages)
    if (page_no <= txn.db_size_pages) pages.emplace_back(page_no, data);
  if (pages.empty()) return Status::OK();
  // Every byte of it is written below: resized, not cleared (zeroing it first cost ~4,000
  // instructions a page, 6% of a 1-row INSERT's). Kept from one commit to the next.
  std::string& buf = append_buf_;
  buf.resize(pages.size() * kLogFrameBytes);
  for (size_t i = 0; i < pages.size(); ++i) {
    char* f = buf.data() + i * kLogFrameBytes;
    PutLe(f, next + i, 8);
    PutLe(f + 8, 0, 8);  // checksum: see the top of frame_log.h
    PutLe(f + 16, pages[i].first, 4);
    PutLe(f + 20, i + 1 == pages.size() ? txn.db_size_pages : 0, 4);
    std::memcpy(f + kLogFrameHeaderBytes, pages[i].second.data(), kLogPageSize);
  }
  // The header's frame_count is written at a clean close, not per commit: after an unclean stop the
  // log is not trusted anyway (the sentinel), and readers count in memory.
  if (!PwriteFull(seg->fd, buf.data(), buf.size(), seg->OffsetOf(next))) return ErrnoStatus("append to " + seg->path);
  MutexLock lock(&mu_);
  seg->frame_count += pages.size();
  last_frame_no_ = next + pages.size() - 1;
  last_size_after_ = txn.db_size_pages;
  frame_cv_.SignalAll();
  return Status::OK();
}

ReadOutcome FrameLog::ReadFrames(uint64_t next, size_t max_frames, std::vector<LogFrame>* out, Status* error) const {
  std::shared_ptr<Segment> seg;
  std::string path;  // for errors
  uint64_t end;      // one past the last committed frame
  {
    MutexLock lock(&mu_);
    if (!status_.ok()) {
      *error = status_;
      return ReadOutcome::kFrames;
    }
    seg = live_;
    path = seg->path;
    if (next < seg->start_frame_no) return compacting_ ? ReadOutcome::kSnapshotPending : ReadOutcome::kNeedSnapshot;
    end = seg->start_frame_no + seg->frame_count;
  }
  // Whole transactions: past max_frames, only up to the next commit frame.
  for (uint64_t f = next; f < end; ++f) {
    LogFrame frame(kLogFrameBytes, '\0');
    if (!PreadFull(seg->fd, frame.data(), kLogFrameBytes, seg->OffsetOf(f))) {
      *error = ErrnoStatus("read " + path);
      out->clear();
      return ReadOutcome::kFrames;
    }
    const bool commit = GetLe(frame.data() + 20, 4) != 0;
    out->push_back(std::move(frame));
    if (commit && out->size() >= max_frames) break;
  }
  return ReadOutcome::kFrames;
}

ReadOutcome FrameLog::ReadSnapshot(uint64_t next, std::vector<LogFrame>* out, Status* error) const {
  std::string path;
  {
    MutexLock lock(&mu_);
    if (snapshot_path_.empty() || next > snapshot_end_) return compacting_ ? ReadOutcome::kSnapshotPending : ReadOutcome::kFrames;
    path = snapshot_path_;
  }
  // Compaction may replace the file meanwhile; an open descriptor keeps the one we chose.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    // A compaction replaced it between choosing and opening: the replica asks again.
    if (errno == ENOENT) return ReadOutcome::kSnapshotPending;
    *error = ErrnoStatus("open " + path);
    return ReadOutcome::kFrames;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  char h[kSnapshotHeaderBytes];
  if (!PreadFull(fd, h, sizeof h, 0)) {
    *error = ErrnoStatus("read " + path);
    return ReadOutcome::kFrames;
  }
  const uint64_t count = GetLe(h + 32, 8);
  const uint32_t size_after = static_cast<uint32_t>(GetLe(h + 40, 4));
  for (uint64_t i = 0; i < count; ++i) {
    LogFrame frame(kLogFrameBytes, '\0');
    if (!PreadFull(fd, frame.data(), kLogFrameBytes, static_cast<off_t>(kSnapshotHeaderBytes + i * kLogFrameBytes))) {
      *error = ErrnoStatus("read " + path);
      out->clear();
      return ReadOutcome::kFrames;
    }
    // Descending frame_no: the frames a replica at `next` lacks come first.
    if (GetLe(frame.data(), 8) < next) break;
    out->push_back(std::move(frame));
  }
  // The whole snapshot applies as one transaction: its last frame commits, at the snapshot's size.
  if (!out->empty()) PutLe(out->back().data() + 20, size_after, 4);
  return ReadOutcome::kFrames;
}

bool FrameLog::WaitForFrame(std::optional<uint64_t> after, std::chrono::steady_clock::time_point deadline) const {
  MutexLock lock(&mu_);
  while (!WaitIsOver(after)) {
    if (!frame_cv_.WaitUntil(&mu_, deadline)) break;
  }
  return !closed_ && status_.ok() && last_frame_no_ && (!after || *last_frame_no_ > *after);
}

bool FrameLog::WaitIsOver(std::optional<uint64_t> after) const {
  return closed_ || !status_.ok() || (last_frame_no_ && (!after || *last_frame_no_ > *after));
}

void FrameLog::Compact() {
  // Under the write lock, at a transaction's end: the live log ends here, a new one begins.
  std::shared_ptr<Segment> old;
  uint32_t size_after;
  {
    MutexLock lock(&mu_);
    old = live_;
    size_after = last_size_after_;
  }
  const std::string& dir = options_.dir;
  const uint64_t end = old->start_frame_no + old->frame_count - 1;
  const std::string retired = dir + "/to_compact-" + std::to_string(old->start_frame_no) + "-" + std::to_string(end);
  auto seg = std::make_shared<Segment>();
  const std::string tmp = dir + "/wallog.new";
  seg->fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  char h[kHeaderBytes] = {};
  PutLe(h, kMagic, 8);
  PutLe(h + 8, 0, 8);  // start_checksum
  PutUuid(h + 16, log_id_);
  PutLe(h + 32, end + 1, 8);
  PutLe(h + 40, 0, 8);
  PutLe(h + 48, kVersion, 4);
  PutLe(h + 52, kLogPageSize, 4);
  const std::string live_path = dir + "/wallog";
  bool retired_it = false;
  const bool swapped = seg->fd >= 0 && PwriteFull(seg->fd, h, sizeof h, 0) &&
                       (retired_it = ::rename(live_path.c_str(), retired.c_str()) == 0) && ::rename(tmp.c_str(), live_path.c_str()) == 0;
  if (!swapped) {
    LH_LOG_ERROR("compacting the replication log failed, it goes on growing (retried after as many frames again): {}",
                 std::strerror(errno));
    if (retired_it) ::rename(retired.c_str(), live_path.c_str());  // the live log stays where it was
    ::unlink(tmp.c_str());
    MutexLock lock(&mu_);
    compact_retry_at_ = old->frame_count + std::max<uint64_t>(1, options_.max_log_frames);
    return;
  }
  // The renames are synced by the compactor, off the committing thread (a directory's fsync took
  // milliseconds there, with every writer waiting): a crash before it leaves the log unclean
  // (.sentinel), and the next start begins a new history whatever the directory shows.
  seg->path = live_path;
  seg->start_frame_no = end + 1;
  std::string previous_snapshot;
  {
    MutexLock lock(&mu_);
    old->path = retired;  // readers name it in errors, under the mutex
    compact_retry_at_ = 0;
    live_ = seg;
    live_started_ = clock_.Now();
    compacting_ = true;
    previous_snapshot = snapshot_path_;
  }
  if (compactor_.joinable()) compactor_.join();
  const auto id = log_id_;
  compactor_ = std::thread([this, old, previous_snapshot, end, size_after, id] {
    // The new snapshot: for each page its last version among the old snapshot and the retired log,
    // pages past the database's size dropped, in descending frame_no order.
    struct Source {
      int fd;
      off_t offset;
    };
    SyncDirectory(options_.dir);
    std::map<uint32_t, std::pair<uint64_t, Source>> latest;  // page_no -> (frame_no, where)
    int snap_fd = previous_snapshot.empty() ? -1 : ::open(previous_snapshot.c_str(), O_RDONLY | O_CLOEXEC);
    char fh[kLogFrameHeaderBytes];
    bool ok = true;
    if (snap_fd >= 0) {
      char sh[kSnapshotHeaderBytes];
      ok = PreadFull(snap_fd, sh, sizeof sh, 0);
      const uint64_t count = ok ? GetLe(sh + 32, 8) : 0;
      for (uint64_t i = 0; ok && i < count; ++i) {
        off_t at = static_cast<off_t>(kSnapshotHeaderBytes + i * kLogFrameBytes);
        ok = PreadFull(snap_fd, fh, sizeof fh, at);
        if (ok) latest[static_cast<uint32_t>(GetLe(fh + 16, 4))] = {GetLe(fh, 8), Source{snap_fd, at}};
      }
    }
    for (uint64_t i = 0; ok && i < old->frame_count; ++i) {
      off_t at = old->OffsetOf(old->start_frame_no + i);
      ok = PreadFull(old->fd, fh, sizeof fh, at);
      if (ok) latest[static_cast<uint32_t>(GetLe(fh + 16, 4))] = {GetLe(fh, 8), Source{old->fd, at}};
    }
    std::vector<std::pair<uint64_t, Source>> order;
    for (const auto& [page_no, where] : latest)
      if (page_no <= size_after) order.push_back(where);
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    const std::string name = options_.dir + "/snapshots/" + SnapshotName(id, 0, end);
    const std::string snap_tmp = name + ".tmp";
    int out = ok ? ::open(snap_tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
    ok = out >= 0;
    if (ok) {
      char sh[kSnapshotHeaderBytes] = {};
      PutUuid(sh, id);
      PutLe(sh + 16, 0, 8);
      PutLe(sh + 24, end, 8);
      PutLe(sh + 32, order.size(), 8);
      PutLe(sh + 40, size_after, 4);
      ok = PwriteFull(out, sh, sizeof sh, 0);
      std::string frame(kLogFrameBytes, '\0');
      for (size_t i = 0; ok && i < order.size(); ++i) {
        ok = PreadFull(order[i].second.fd, frame.data(), kLogFrameBytes, order[i].second.offset);
        PutLe(frame.data() + 20, 0, 4);
        ok = ok && PwriteFull(out, frame.data(), kLogFrameBytes, static_cast<off_t>(kSnapshotHeaderBytes + i * kLogFrameBytes));
      }
      ok = ok && ::fsync(out) == 0;
      ::close(out);
      ok = ok && ::rename(snap_tmp.c_str(), name.c_str()) == 0;
    }
    if (snap_fd >= 0) ::close(snap_fd);
    SyncDirectory(options_.dir + "/snapshots");
    MutexLock lock(&mu_);
    compacting_ = false;
    if (!ok) {
      // The frames before the live log are lost to new replicas: only a new history brings them back.
      status_ = Status::IoError("making the snapshot " + name + " failed: " + std::strerror(errno));
      LH_LOG_ERROR("{}", status_.ToString());
      return;
    }
    snapshot_path_ = name;
    snapshot_end_ = end;
    if (!previous_snapshot.empty()) ::unlink(previous_snapshot.c_str());
    ::unlink(old->path.c_str());
    LH_LOG_INFO("replication log compacted: frames 0..{} in one snapshot of {} pages", end, order.size());
  });
}

void FrameLog::WaitForCompaction() {
  if (compactor_.joinable()) compactor_.join();
}

}  // namespace litehouse::replication
