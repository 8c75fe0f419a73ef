// Database: owns every SQLite connection to one database file and decides who may use which.
//
//   - exactly one writer connection; every write in the process goes through it, one lease at a time
//     (a later module captures committed pages there, so it must stay the single owner of writes);
//   - a pool of reader connections (query_only), opened on demand, kept while idle up to a bound;
//   - checkpoints under our control: wal_autocheckpoint is off on every connection, and the writer
//     runs a PASSIVE checkpoint when a lease ends with the WAL past a threshold.
//
// Small API, as dqlite's vfs.h: AcquireWriter / AcquireReader hand out RAII leases; a lease gives its
// holder exclusive use of one Connection until the lease is destroyed. See DESIGN.md for why.
//
// Thread safety: all methods may be called from any thread. A lease, like the connection it holds,
// is used by one thread at a time; it may be moved to another thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/connection.h"
#include "engine/vfs.h"

namespace litehouse::engine {

class Database;

// Exclusive use of one connection until destroyed. Moving transfers it; a moved-from lease is empty.
class Lease {
 public:
  Lease() = default;
  Lease(Lease&& o) noexcept : db_(o.db_), conn_(o.conn_) { o.db_ = nullptr, o.conn_ = nullptr; }
  Lease& operator=(Lease&& o) noexcept;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease() { Release(); }

  explicit operator bool() const { return conn_ != nullptr; }
  Connection* operator->() const { return conn_; }
  Connection& operator*() const { return *conn_; }
  Connection* get() const { return conn_; }
  // Gives the connection back now. If a transaction is still open it is rolled back first.
  void Release();

 private:
  friend class Database;
  Lease(Database* db, Connection* conn) : db_(db), conn_(conn) {}
  Database* db_ = nullptr;
  Connection* conn_ = nullptr;
};

struct DatabaseOptions {
  std::string path;                       // the database file; its directory must exist
  size_t max_idle_readers = 8;            // idle reader connections kept open
  int64_t checkpoint_threshold_frames = 1000;  // PASSIVE checkpoint once the WAL holds this many frames
  GuardOptions guard;                          // limits every client connection gets (sql_guard.h)
  // Open the file through a HiddenDirVfs (vfs.h), so that SQLite, and PRAGMA database_list, know it
  // by its file name alone, never by the server's directory.
  bool hide_directory = false;
};

struct DatabaseStats {
  uint64_t writer_leases = 0;
  uint64_t checkpoints = 0;
  size_t readers_open = 0;
  size_t writer_waiters = 0;
};

class Database {
 public:
  // Opens the writer (creating the file, switching it to WAL) and one reader.
  static Result<std::unique_ptr<Database>> Open(const DatabaseOptions& options);
  // Requires every lease to have been released.
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  using WriterCallback = std::function<void(Lease)>;
  // Hands the writer to `granted` as soon as it is free, in request order: at once on the calling
  // thread if nobody holds it, otherwise on the thread that releases the previous lease. `granted`
  // must not block; it should hand the lease to its own executor and return.
  void AcquireWriter(WriterCallback granted);
  // A reader connection: an idle one, or a newly opened one. Fails only if opening fails.
  Result<Lease> AcquireReader();

  // Runs a checkpoint on the writer now (mode: SQLITE_CHECKPOINT_PASSIVE/FULL/RESTART/TRUNCATE).
  // Only for callers holding no lease: it takes the writer like anyone else, synchronously.
  Status Checkpoint(int mode);

  DatabaseStats stats() const;
  const std::string& path() const { return options_.path; }

 private:
  friend class Lease;
  explicit Database(DatabaseOptions options) : options_(std::move(options)) {}
  void Release(Connection* conn);
  void ReleaseWriter();
  // Called by SQLite on the writer after each commit (sqlite3_wal_hook).
  static int OnWalCommit(void* self, sqlite3* db, const char* schema, int frames);

  Result<std::unique_ptr<Connection>> OpenConnection(Role role) const;

  // Constant after construction.
  const DatabaseOptions options_;
  std::unique_ptr<HiddenDirVfs> vfs_;  // when hide_directory; outlives every connection
  std::string open_name_;              // what connections open: the path, or its name under vfs_
  std::unique_ptr<Connection> writer_;

  // Written only by the writer lease's holder.
  int64_t wal_frames_ = 0;

  mutable std::mutex mu_;
  // Guarded by mu_.
  bool writer_taken_ = false;
  std::deque<WriterCallback> writer_waiters_;
  std::vector<std::unique_ptr<Connection>> idle_readers_;
  std::vector<std::unique_ptr<Connection>> busy_readers_;
  DatabaseStats stats_;
};

}  // namespace litehouse::engine
