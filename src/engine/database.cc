#include "engine/database.h"

#include <algorithm>
#include <condition_variable>
#include <filesystem>

#include "common/log.h"

namespace litehouse::engine {

Lease& Lease::operator=(Lease&& o) noexcept {
  if (this != &o) {
    Release();
    db_ = o.db_, conn_ = o.conn_;
    o.db_ = nullptr, o.conn_ = nullptr;
  }
  return *this;
}

void Lease::Release() {
  if (!conn_) return;
  Database* db = db_;
  Connection* conn = conn_;
  db_ = nullptr, conn_ = nullptr;
  db->Release(conn);
}

Result<std::unique_ptr<Database>> Database::Open(const DatabaseOptions& options) {
  std::unique_ptr<Database> db(new Database(options));
  db->open_name_ = options.path;
  if (options.hide_directory) {
    std::error_code ec;
    std::filesystem::path path = std::filesystem::absolute(options.path, ec);
    if (ec) return Status::IoError("cannot resolve " + options.path + ": " + ec.message());
    auto vfs = HiddenDirVfs::Register(path.parent_path().string());
    if (!vfs.ok()) return vfs.status();
    db->vfs_ = std::move(vfs).value();
    db->open_name_ = path.filename().string();
  }
  auto writer = db->OpenConnection(Role::kWriter);
  if (!writer.ok()) return writer.status();
  db->writer_ = std::move(writer).value();
  sqlite3_wal_hook(db->writer_->raw(), &Database::OnWalCommit, db.get());
  auto reader = db->OpenConnection(Role::kReader);
  if (!reader.ok()) return reader.status();
  db->idle_readers_.push_back(std::move(reader).value());
  db->stats_.readers_open = 1;
  return db;
}

Result<std::unique_ptr<Connection>> Database::OpenConnection(Role role) const {
  return Connection::Open(open_name_, role, options_.guard, vfs_ ? vfs_->name() : nullptr);
}

Database::~Database() {
  std::lock_guard<std::mutex> lock(mu_);
  assert(!writer_taken_ && busy_readers_.empty());
  idle_readers_.clear();
  // Closing the writer last lets SQLite checkpoint and remove the WAL file.
  if (writer_) sqlite3_wal_hook(writer_->raw(), nullptr, nullptr);
  writer_.reset();
}

void Database::AcquireWriter(WriterCallback granted) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (writer_taken_) {
      writer_waiters_.push_back(std::move(granted));
      return;
    }
    writer_taken_ = true;
    ++stats_.writer_leases;
  }
  granted(Lease(this, writer_.get()));
}

Result<Lease> Database::AcquireReader() {
  std::unique_ptr<Connection> conn;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_readers_.empty()) {
      conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    }
  }
  if (!conn) {
    auto opened = OpenConnection(Role::kReader);
    if (!opened.ok()) return opened.status();
    conn = std::move(opened).value();
  }
  Connection* raw = conn.get();
  std::lock_guard<std::mutex> lock(mu_);
  busy_readers_.push_back(std::move(conn));
  stats_.readers_open = idle_readers_.size() + busy_readers_.size();
  return Lease(this, raw);
}

void Database::Release(Connection* conn) {
  if (!conn->autocommit()) {
    // The holder left a transaction open (a stream that expired or closed mid-transaction).
    // Never hand an open transaction to the next holder.
    LH_LOG_WARN("releasing a connection with an open transaction: rolling it back");
    (void)conn->Exec("ROLLBACK");
  }
  conn->guard().set_read_only(false);
  if (conn->TakeSettingsChanged()) {
    Status s = conn->ResetSettings();
    if (!s.ok()) LH_LOG_WARN("cannot restore connection settings: {}", s.ToString());
  }
  if (conn == writer_.get()) return ReleaseWriter();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::find_if(busy_readers_.begin(), busy_readers_.end(), [&](auto& c) { return c.get() == conn; });
  assert(it != busy_readers_.end());
  std::unique_ptr<Connection> owned = std::move(*it);
  busy_readers_.erase(it);
  if (idle_readers_.size() < options_.max_idle_readers) idle_readers_.push_back(std::move(owned));
  stats_.readers_open = idle_readers_.size() + busy_readers_.size();
}

void Database::ReleaseWriter() {
  // Still the holder here: checkpoint before anyone else may write. PASSIVE never waits on readers;
  // frames that readers still need stay in the WAL and are copied by a later checkpoint.
  if (wal_frames_ >= options_.checkpoint_threshold_frames) {
    int log_frames = 0, checkpointed = 0;
    int rc = sqlite3_wal_checkpoint_v2(writer_->raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &checkpointed);
    if (rc != SQLITE_OK) LH_LOG_WARN("passive checkpoint failed: {}", sqlite3_errstr(rc));
    wal_frames_ = 0;
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.checkpoints;
  }
  WriterCallback next;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (writer_waiters_.empty()) {
      writer_taken_ = false;
      return;
    }
    next = std::move(writer_waiters_.front());
    writer_waiters_.pop_front();
    ++stats_.writer_leases;
  }
  next(Lease(this, writer_.get()));
}

int Database::OnWalCommit(void* self, sqlite3*, const char*, int frames) {
  static_cast<Database*>(self)->wal_frames_ = frames;
  return SQLITE_OK;
}

Status Database::Checkpoint(int mode) {
  std::mutex m;
  std::condition_variable cv;
  Lease lease;
  AcquireWriter([&](Lease granted) {
    std::lock_guard<std::mutex> lock(m);
    lease = std::move(granted);
    cv.notify_one();
  });
  {
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return static_cast<bool>(lease); });
  }
  int log_frames = 0, checkpointed = 0;
  int rc = sqlite3_wal_checkpoint_v2(lease->raw(), nullptr, mode, &log_frames, &checkpointed);
  Status s = rc == SQLITE_OK ? Status::OK() : lease->ErrorStatus(rc);
  if (rc == SQLITE_OK) {
    wal_frames_ = 0;
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.checkpoints;
  }
  return s;
}

DatabaseStats Database::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  DatabaseStats s = stats_;
  s.writer_waiters = writer_waiters_.size();
  return s;
}

}  // namespace litehouse::engine
