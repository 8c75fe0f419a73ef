#include "replication/replica.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <optional>
#include <sstream>

#include "common/file_io.h"
#include "common/log.h"

namespace litehouse::replication {
namespace {

constexpr const char* kPositionFile = "replica-position";
constexpr const char* kPositionMagic = "litehouse-replica 1";

uint64_t GetLe(const char* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// A frame's header fields (frame_log.h's layout).
struct FrameHead {
  uint64_t frame_no;
  uint32_t page_no;
  uint32_t size_after;
};

Result<FrameHead> Head(const LogFrame& f) {
  if (f.size() != kLogFrameBytes) {
    return Status::Corruption("a frame from the primary is " + std::to_string(f.size()) + " bytes, not " +
                              std::to_string(kLogFrameBytes));
  }
  FrameHead h{GetLe(f.data(), 8), static_cast<uint32_t>(GetLe(f.data() + 16, 4)),
              static_cast<uint32_t>(GetLe(f.data() + 20, 4))};
  if (h.page_no == 0) return Status::Corruption("a frame from the primary names page 0");
  return h;
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool IsNeedSnapshot(const Status& s) { return s.IsNotFound() && s.message() == "NEED_SNAPSHOT"; }

// Writes each transaction [begin, end) of `frames` as one SQLite transaction on `db` (the engine's
// writer connection, its guard stood aside): the pages through sqlite_dbpage, then the file cut to
// the commit's size. The last commit runs with synchronous=FULL, so the WAL holding them all is on
// disk when this returns.
Status WriteTransactions(sqlite3* db, const std::vector<LogFrame>& frames,
                         const std::vector<std::pair<size_t, size_t>>& txns) {
  int synchronous = 1;
  {
    sqlite3_stmt* q = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA main.synchronous", -1, &q, nullptr) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) {
      synchronous = sqlite3_column_int(q, 0);
    }
    sqlite3_finalize(q);
  }
  auto exec = [&](const std::string& sql) -> Status {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return Status::OK();
    Status s = Status::Sqlite(sqlite3_extended_errcode(db), std::string(err ? err : sqlite3_errstr(rc)) + " (" + sql + ")");
    sqlite3_free(err);
    return s;
  };
  sqlite3_stmt* put = nullptr;
  if (sqlite3_prepare_v2(db, "INSERT INTO main.sqlite_dbpage(pgno, data) VALUES (?1, ?2)", -1, &put, nullptr) != SQLITE_OK) {
    return Status::Internal(std::string("cannot write pages through sqlite_dbpage: ") + sqlite3_errmsg(db));
  }
  struct Finalize {
    sqlite3_stmt* s;
    ~Finalize() { sqlite3_finalize(s); }
  } finalize{put};

  for (size_t t = 0; t < txns.size(); ++t) {
    const bool last_txn = t + 1 == txns.size();
    // The batch's last commit syncs the WAL (and with it every commit before it) before the position
    // names it.
    if (last_txn && synchronous < 2) {
      if (Status s = exec("PRAGMA main.synchronous=FULL"); !s.ok()) return s;
    }
    if (Status s = exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    uint32_t size_after = 0;
    Status failed;
    // Page 1 goes last (its last image only): it holds the schema cookie, and a statement that finds
    // the cookie changed reloads the schema, which, read from a half-written transaction, is corrupt.
    std::optional<size_t> page1;
    for (size_t n = txns[t].first; n <= txns[t].second && failed.ok(); ++n) {
      size_t i = n;
      if (n == txns[t].second) {
        if (!page1) break;
        i = *page1;
      }
      const LogFrame& frame = frames[i];
      FrameHead h = *Head(frame);
      if (h.size_after != 0 && n != txns[t].second) size_after = h.size_after;
      if (h.page_no == 1 && n != txns[t].second) {
        page1 = i;
        continue;
      }
      sqlite3_bind_int64(put, 1, h.page_no);
      sqlite3_bind_blob(put, 2, frame.data() + kLogFrameHeaderBytes, kLogPageSize, SQLITE_STATIC);
      if (sqlite3_step(put) != SQLITE_DONE) {
        failed = Status::Sqlite(sqlite3_extended_errcode(db), std::string("writing page ") + std::to_string(h.page_no) +
                                                                    ": " + sqlite3_errmsg(db));
      }
      sqlite3_reset(put);
    }
    if (failed.ok() && size_after != 0) {
      // Pages past the transaction's size are cut off (a VACUUM or an incremental vacuum shrank it).
      sqlite3_stmt* q = nullptr;
      int64_t pages = 0;
      if (sqlite3_prepare_v2(db, "PRAGMA main.page_count", -1, &q, nullptr) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) {
        pages = sqlite3_column_int64(q, 0);
      }
      sqlite3_finalize(q);
      if (pages > static_cast<int64_t>(size_after)) {
        failed = exec("INSERT INTO main.sqlite_dbpage(pgno, data) VALUES (" + std::to_string(size_after + 1) + ", NULL)");
      }
    }
    if (failed.ok()) failed = exec("COMMIT");
    if (!failed.ok()) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      if (last_txn && synchronous < 2) (void)exec("PRAGMA main.synchronous=" + std::to_string(synchronous));
      return failed;
    }
    if (last_txn && synchronous < 2) {
      if (Status s = exec("PRAGMA main.synchronous=" + std::to_string(synchronous)); !s.ok()) return s;
    }
  }
  return Status::OK();
}

}  // namespace

Replica::Replica(ReplicaOptions options, LogSource* source)
    : options_(std::move(options)), clock_(options_.clock ? *options_.clock : Clock::Steady()), source_(source) {}

Replica::~Replica() { Stop(); }

Result<std::unique_ptr<Replica>> Replica::Prepare(ReplicaOptions options, LogSource* source,
                                                  std::function<bool()> give_up) {
  std::unique_ptr<Replica> r(new Replica(std::move(options), source));
  bool found = false;
  if (Status s = r->LoadPosition(&found); !s.ok()) return s;
  std::error_code ec;
  if (found && std::filesystem::exists(r->options_.db_path, ec)) {
    MutexLock lock(&r->mu_);
    LH_LOG_INFO("replica: resuming history {} at frame {}", r->log_id_, r->next_frame_no_);
    r->replaying_ = true;
    return r;
  }
  if (std::filesystem::exists(r->options_.db_path, ec)) {
    LH_LOG_WARN("replica: {} has no replication position: it is replaced by a copy of the primary's database",
                r->options_.db_path);
  }
  std::chrono::milliseconds backoff = r->options_.retry_min;
  while (true) {
    Status s = r->Bootstrap();
    if (s.ok()) break;
    LH_LOG_WARN("replica: bootstrap from {} failed: {}; retrying", r->options_.primary, s.ToString());
    if (give_up && give_up()) return Status::Unavailable("the primary could not be reached to bootstrap: " + s.message());
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, r->options_.retry_max);
  }
  return r;
}

Status Replica::LoadPosition(bool* found) {
  *found = false;
  const std::string path = options_.dir + "/" + kPositionFile;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::OK();
  auto text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  std::istringstream in(*text);
  std::string magic, id, next;
  std::getline(in, magic);
  std::getline(in, id);
  std::getline(in, next);
  if (magic != kPositionMagic || id.empty() || next.empty() ||
      next.find_first_not_of("0123456789") != std::string::npos) {
    LH_LOG_WARN("replica: {} is not a position this version wrote: bootstrapping again", path);
    return Status::OK();
  }
  MutexLock lock(&mu_);
  log_id_ = id;
  next_frame_no_ = std::stoull(next);
  *found = true;
  return Status::OK();
}

namespace {

Status WritePositionFile(const std::string& dir, const std::string& log_id, uint64_t next_frame_no) {
  const std::string text = std::string(kPositionMagic) + "\n" + log_id + "\n" + std::to_string(next_frame_no) + "\n";
  const std::string path = dir + "/" + kPositionFile;
  const std::string tmp = path + ".tmp";
  Fd f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
  if (f.fd < 0) return ErrnoStatus("cannot create " + tmp);
  if (!PwriteFull(f.fd, text.data(), text.size(), 0)) return ErrnoStatus("cannot write " + tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoStatus("cannot rename " + tmp);
  return Status::OK();
}

}  // namespace

Status Replica::SavePosition() {
  std::string log_id;
  uint64_t next;
  {
    MutexLock lock(&mu_);
    log_id = log_id_;
    next = next_frame_no_;
  }
  return WritePositionFile(options_.dir, log_id, next);
}

Status Replica::SeedPosition(const std::string& dir, const std::string& log_id, uint64_t next_frame_no) {
  if (Status s = WritePositionFile(dir, log_id, next_frame_no); !s.ok()) return s;
  if (Status s = SyncFile(dir + "/" + kPositionFile); !s.ok()) return s;
  SyncDirectory(dir);
  return Status::OK();
}

Status Replica::Bootstrap() {
  auto hello = source_->Hello();
  if (!hello.ok()) return hello.status();
  if (!hello->last_frame_no) return Status::Unavailable("the primary's replication log holds no frame yet");
  const uint64_t last = *hello->last_frame_no;
  const std::string tmp = options_.db_path + ".bootstrap";
  Fd f{::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
  if (f.fd < 0) return ErrnoStatus("cannot create " + tmp);
  uint64_t next = 0;
  std::vector<LogFrame> frames;
  while (next <= last) {
    frames.clear();
    Status s = source_->Frames(next, &frames);
    if (IsNeedSnapshot(s)) {
      frames.clear();
      s = source_->Snapshot(next, &frames);
    }
    if (!s.ok()) return s;
    for (const LogFrame& frame : frames) {
      auto h = Head(frame);
      if (!h.ok()) return h.status();
      if (!PwriteFull(f.fd, frame.data() + kLogFrameHeaderBytes, kLogPageSize,
                      static_cast<off_t>(h->page_no - 1) * kLogPageSize)) {
        return ErrnoStatus("cannot write " + tmp);
      }
      if (h->size_after != 0 && ::ftruncate(f.fd, static_cast<off_t>(h->size_after) * kLogPageSize) != 0) {
        return ErrnoStatus("cannot truncate " + tmp);
      }
      next = std::max(next, h->frame_no + 1);
    }
  }
  if (::fsync(f.fd) != 0) return ErrnoStatus("cannot sync " + tmp);
  ::unlink((options_.db_path + "-wal").c_str());
  ::unlink((options_.db_path + "-shm").c_str());
  if (::rename(tmp.c_str(), options_.db_path.c_str()) != 0) return ErrnoStatus("cannot rename " + tmp);
  SyncDirectory(std::filesystem::path(options_.db_path).parent_path().string());
  {
    MutexLock lock(&mu_);
    log_id_ = hello->log_id;
    next_frame_no_ = next;
    state_.primary_frame_no = last;
    state_.connected = true;
    state_.snapshots_applied++;
  }
  LH_LOG_INFO("replica: bootstrapped {} from {} (history {}, frames 0..{})", options_.db_path, options_.primary,
              hello->log_id, next - 1);
  return SavePosition();
}

void Replica::Start(engine::Database* db, std::function<void(uint64_t)> on_applied) {
  db_ = db;
  on_applied_ = std::move(on_applied);
  stopping_ = false;
  hello_done_ = false;
  source_->Resume();
  thread_ = std::thread([this] { Run(); });
}

void Replica::Stop() {
  if (!thread_.joinable()) return;
  {
    MutexLock lock(&stop_mu_);
    stopping_ = true;
  }
  source_->Cancel();
  stop_cv_.SignalAll();
  thread_.join();
}

void Replica::Run() {
  std::chrono::milliseconds backoff = options_.retry_min;
  while (!stopping_) {
    Status s = Step();
    if (stopping_) break;
    if (s.ok()) {
      backoff = options_.retry_min;
      continue;
    }
    NoteError(s);
    hello_done_ = false;  // after any failure, greet again: the primary may have a new history
    const auto deadline = std::chrono::steady_clock::now() + backoff;
    MutexLock lock(&stop_mu_);
    while (!stopping_ && stop_cv_.WaitUntil(&stop_mu_, deadline)) {
    }
    backoff = std::min(backoff * 2, options_.retry_max);
  }
}

void Replica::NoteError(const Status& s) {
  MutexLock lock(&mu_);
  if (state_.last_error != s.ToString() || state_.connected) {
    LH_LOG_WARN("replica: {}: {}", options_.primary, s.ToString());
  }
  state_.connected = false;
  state_.last_error = s.ToString();
}

Status Replica::Step() {
  if (!hello_done_) {
    auto hello = source_->Hello();
    if (!hello.ok()) return hello.status();
    MutexLock lock(&mu_);
    state_.primary_frame_no = hello->last_frame_no;
    state_.connected = true;
    state_.last_error.clear();
    if (hello->log_id != log_id_) {
      // A new history: its first frames (or its snapshot) hold every page of the database.
      LH_LOG_WARN("replica: the primary began a new history {} (was {}): catching up from its start", hello->log_id,
                  log_id_);
      log_id_ = hello->log_id;
      next_frame_no_ = 0;
      ++history_;
    }
    hello_done_ = true;
  }
  uint64_t next;
  {
    MutexLock lock(&mu_);
    next = next_frame_no_;
  }
  std::vector<LogFrame> frames;
  Status s = source_->Frames(next, &frames);
  bool snapshot = false;
  if (IsNeedSnapshot(s)) {
    frames.clear();
    s = source_->Snapshot(next, &frames);
    snapshot = true;
  }
  if (!s.ok()) return s;
  {
    MutexLock lock(&mu_);
    state_.connected = true;
    state_.last_error.clear();
    if (frames.empty()) {
      state_.behind_since.reset();
      return Status::OK();
    }
    if (!state_.behind_since) state_.behind_since = clock_.Now();
  }
  Status applied = Apply(frames, snapshot || replaying_, snapshot);
  if (applied.ok()) replaying_ = false;
  return applied;
}

Status Replica::Apply(const std::vector<LogFrame>& frames, bool as_one, bool snapshot) {
  // Whole transactions: each ends with a frame whose size_after is set.
  std::vector<std::pair<size_t, size_t>> txns;  // [begin, end) into frames
  uint64_t last_frame = 0;
  {
    size_t begin = 0;
    for (size_t i = 0; i < frames.size(); ++i) {
      auto h = Head(frames[i]);
      if (!h.ok()) return h.status();
      last_frame = std::max(last_frame, h->frame_no);
      if (h->size_after != 0) {
        txns.emplace_back(begin, i + 1);
        begin = i + 1;
      }
    }
    if (begin != frames.size()) return Status::Corruption("the primary sent a transaction without its commit frame");
  }
  if (as_one) txns.assign(1, {0, frames.size()});

  std::promise<engine::Lease> granted;
  auto lease_future = granted.get_future();
  db_->AcquireWriter([&granted](engine::Lease lease) { granted.set_value(std::move(lease)); });
  engine::Lease lease = lease_future.get();
  // The engine's own statements, past the client guard: sqlite_dbpage is refused to clients, and
  // DEFENSIVE makes it read-only (the connection is closed after, so neither is put back).
  lease->guard().set_engine_statement(true);
  lease->guard().StopClock();
  sqlite3_db_config(lease->raw(), SQLITE_DBCONFIG_DEFENSIVE, 0, nullptr);
  Status written = WriteTransactions(lease->raw(), frames, txns);
  // The connection is closed, not pooled: sqlite_dbpage wrote the pages under the b-tree layer,
  // which keeps what it parsed of each cached page (its cells), and the schema it read from them, so
  // this connection would go on reading the database as it was. (The engine checkpoints there first
  // if the WAL is long.)
  lease.Discard();
  if (!written.ok()) return written;
  {
    MutexLock lock(&mu_);
    next_frame_no_ = last_frame + 1;
    state_.transactions_applied += snapshot ? 0 : txns.size();
    state_.snapshots_applied += snapshot ? 1 : 0;
    if (!state_.primary_frame_no || *state_.primary_frame_no < last_frame) state_.primary_frame_no = last_frame;
    if (*state_.primary_frame_no <= last_frame) state_.behind_since.reset();
  }
  if (Status s = SavePosition(); !s.ok()) return s;
  if (on_applied_) on_applied_(last_frame);
  return Status::OK();
}

std::optional<uint64_t> Replica::applied_frame_no() const {
  MutexLock lock(&mu_);
  if (next_frame_no_ == 0) return std::nullopt;
  return next_frame_no_ - 1;
}

ReplicaState Replica::state() const {
  MutexLock lock(&mu_);
  ReplicaState s = state_;
  s.log_id = log_id_;
  if (next_frame_no_ > 0) s.applied_frame_no = next_frame_no_ - 1;
  return s;
}

}  // namespace litehouse::replication
