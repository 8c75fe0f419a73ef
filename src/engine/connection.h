// Connection and Statement: thin RAII owners of a sqlite3* and a sqlite3_stmt*.
//
// They turn SQLite result codes into Status (the only place in Litehouse that does), and nothing else:
// what runs on which connection is Database's business (database.h), what a request means is protocol's.
//
// Thread safety: SQLite is built in multi-thread mode (SQLITE_THREADSAFE=2), so a Connection and its
// Statements may move between threads but must never be used by two threads at once. Database's
// leases are what guarantee that.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"
#include "engine/alter_column.h"
#include "engine/sql_guard.h"
#include "engine/vector_ddl.h"
#include "engine/value.h"

namespace litehouse::engine {

class Connection;

class Statement {
 public:
  Statement() = default;
  // `cached`: the statement belongs to `conn`'s statement cache (Connection::PrepareCached), which
  // gets it back, reset, when this is destroyed; otherwise it is finalized.
  Statement(sqlite3_stmt* stmt, Connection* conn, bool cached = false) : stmt_(stmt), conn_(conn), cached_(cached) {}
  ~Statement() { Finish(); }
  Statement(Statement&& o) noexcept
      : stmt_(o.stmt_), conn_(o.conn_), cached_(o.cached_), alter_(std::move(o.alter_)), alter_done_(o.alter_done_),
        vector_ddl_(std::move(o.vector_ddl_)), vector_ddl_done_(o.vector_ddl_done_) {
    o.stmt_ = nullptr;
  }
  Statement& operator=(Statement&& o) noexcept {
    std::swap(stmt_, o.stmt_);
    std::swap(conn_, o.conn_);
    std::swap(cached_, o.cached_);
    std::swap(alter_, o.alter_);
    std::swap(alter_done_, o.alter_done_);
    std::swap(vector_ddl_, o.vector_ddl_);
    std::swap(vector_ddl_done_, o.vector_ddl_done_);
    return *this;
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // True when the text held no statement (only whitespace or comments).
  bool empty() const { return stmt_ == nullptr; }

  int param_count() const { return sqlite3_bind_parameter_count(stmt_); }
  // The name of 1-based parameter `i` with its prefix (":a", "$a", "@a", "?1"), or "" when anonymous.
  std::string_view param_name(int i) const;
  // The 1-based index of the parameter named exactly `name` (prefix included), or 0.
  int ParamIndex(const std::string& name) const { return sqlite3_bind_parameter_index(stmt_, name.c_str()); }
  // Binds 1-based parameter `i`. Fails with kSqlite (SQLITE_RANGE, SQLITE_TOOBIG, ...).
  Status Bind(int i, const Value& value);

  // Runs to the next row: true when a row is ready, false when done. A failure carries SQLite's code.
  Result<bool> Step();
  Status Reset();

  int column_count() const { return sqlite3_column_count(stmt_); }
  std::string_view column_name(int i) const;
  // The declared type of column `i`, or nullptr for an expression.
  const char* column_decltype(int i) const { return sqlite3_column_decltype(stmt_, i); }
  // The value of column `i` of the current row.
  Value column(int i) const;

  bool readonly() const { return sqlite3_stmt_readonly(stmt_) != 0; }
  bool is_explain() const { return sqlite3_stmt_isexplain(stmt_) != 0; }
  sqlite3_stmt* raw() const { return stmt_; }

 private:
  friend class Connection;
  void Finish();
  sqlite3_stmt* stmt_ = nullptr;
  Connection* conn_ = nullptr;
  bool cached_ = false;
  // libSQL's ALTER COLUMN (alter_column.h): stmt_ is its stand-in, and the change runs at the first
  // Step (again after a Reset).
  std::shared_ptr<const AlterColumn> alter_;
  bool alter_done_ = false;
  // A vector index statement (vector_ddl.h): stmt_ is the statement as written, run at the first
  // Step with the index work after it, in one savepoint.
  std::shared_ptr<const VectorDdl> vector_ddl_;
  bool vector_ddl_done_ = false;
};

enum class Role {
  kWriter,      // a server connection that may write; wal_autocheckpoint=0, the engine checkpoints
  kReader,      // query_only=1: a write through it fails with SQLITE_READONLY
  kStandalone,  // the only user of its file (the client library's local database): it writes, and
                // checkpoints itself as SQLite does by default (wal_autocheckpoint=1000), since no
                // engine does it for it
};

class Connection {
 public:
  // Opens (creating if needed) the database at `path` in WAL mode, configured for `role`, with the
  // client-facing guard (sql_guard.h) installed.
  // `vfs` names the SQLite VFS to open it with (null: the default).
  static Result<std::unique_ptr<Connection>> Open(const std::string& path, Role role,
                                                  const GuardOptions& guard = GuardOptions(), const char* vfs = nullptr);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Prepares the first statement in `sql`. `*tail_offset` receives the byte offset just past it.
  // Text holding no statement gives an empty Statement, not an error.
  Result<Statement> Prepare(std::string_view sql, size_t* tail_offset);
  // As Prepare, through the connection's statement cache: a text prepared before on this connection,
  // in the same read-only mode of the guard, is reused instead of parsed again (its authorization
  // held when it was prepared, and SQLite prepares it again itself if the schema or a setting
  // changed). Statements that set a per-connection pragma are never cached: the guard must see each
  // of them. Bounded to kStatementCacheSize texts, the least recently used evicted.
  Result<Statement> PrepareCached(std::string_view sql, size_t* tail_offset);
  static constexpr size_t kStatementCacheSize = 64;
  // Runs `sql` (one or more statements, no arguments, rows discarded).
  Status Exec(const char* sql);
  // Runs `sql`, one statement of the engine's own that it runs again and again (BEGIN IMMEDIATE,
  // SAVEPOINT, RELEASE, COMMIT of a group commit), prepared once and kept for the connection's life
  // (up to kKeptStatements texts; others run as Exec does). Parsing it anew each time (sqlite3_exec)
  // cost a group commit's member about 3,000 instructions for its SAVEPOINT and RELEASE
  // (BENCHMARKS). The caller sets the guard's engine flag, as for Exec.
  Status ExecKept(const char* sql);
  static constexpr size_t kKeptStatements = 8;

  bool autocommit() const { return sqlite3_get_autocommit(db_) != 0; }
  // SQLITE_TXN_NONE, SQLITE_TXN_READ (a snapshot is held) or SQLITE_TXN_WRITE, for the main schema.
  int txn_state() const { return sqlite3_txn_state(db_, "main"); }
  // Turns PRAGMA query_only on or off (the engine's own statement, past the guard): a write then
  // fails with SQLITE_READONLY as it starts. For a reader lease and a `BEGIN TRANSACTION READONLY`
  // transaction. Setting it makes SQLite expire the connection's prepared statements, so it is not
  // what guards the write lock (see set_may_write).
  Status SetQueryOnly(bool on);
  bool query_only() const { return query_only_; }
  // Whether a transaction that wrote may commit on this connection: true only while the one holding
  // it holds the database's write lock. A commit without it is refused by a commit hook
  // (SQLITE_CONSTRAINT_COMMITHOOK) and rolled back, so no write can ever land without the lock,
  // whatever classified it. A flag, not a statement: it costs nothing per request.
  void set_may_write(bool may) { may_write_ = may; }
  bool may_write() const { return may_write_; }
  int64_t changes() const { return sqlite3_changes64(db_); }
  int64_t total_changes() const { return sqlite3_total_changes64(db_); }
  int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
  // Connections are pooled: a stream puts its own last rowid back before its statements run.
  void set_last_insert_rowid(int64_t rowid) { sqlite3_set_last_insert_rowid(db_, rowid); }
  Role role() const { return role_; }
  sqlite3* raw() const { return db_; }

  // True once a statement prepared here set a per-connection pragma since the last call; clears it.
  // Database::Release then restores the defaults, so the next holder never inherits a setting.
  bool TakeSettingsChanged() { return guard_.TakeSettingsChanged(); }
  SqlGuard& guard() { return guard_; }
  // Restores every pragma a client may set to its default.
  Status ResetSettings();

  // The byte offset in the SQL of the last error, or -1 when SQLite cannot point at one.
  int last_error_offset() const { return sqlite3_error_offset(db_); }
  // The Status for result code `rc` just returned on this connection (extended code and message).
  Status ErrorStatus(int rc) const;

 private:
  Connection(sqlite3* db, Role role) : db_(db), role_(role) {}
  std::string ErrorMessage(int code) const;
  friend class Statement;
  struct CachedStatement {
    sqlite3_stmt* stmt;
    size_t tail;
    bool in_use;
    uint64_t last_used;
  };
  // Gives a statement of the cache back (Statement's destructor): reset, bindings cleared.
  void ReturnToCache(sqlite3_stmt* stmt);
  // ALTER COLUMN (alter_column.h): checked and its stand-in prepared; then run at its first Step.
  // libSQL's statements stock SQLite cannot run as written (ALTER COLUMN, RANDOM ROWID, vector index
  // DDL), recognised by their first word; nullopt for every other statement.
  std::optional<Result<Statement>> PrepareLibsqlDialect(std::string_view sql, size_t* tail_offset);
  Result<Statement> PrepareAlterColumn(AlterColumn alter, size_t* tail_offset);
  Status RunAlterColumn(const AlterColumn& alter);
  // A vector index statement (vector_ddl.h): prepared as written and checked; then run with its
  // index work at its first Step.
  Result<Statement> PrepareVectorDdl(VectorDdl ddl, std::string_view sql, size_t* tail_offset);
  Status RunVectorDdl(sqlite3_stmt* stmt, const VectorDdl& ddl);

  sqlite3* db_;
  const Role role_;
  bool query_only_ = false;
  bool may_write_ = true;  // Role::kStandalone and unpooled connections write freely
  static int RefuseCommitWithoutLock(void* self);
  // The statement cache, by guard mode ('r'/'w') and SQL text.
  std::unordered_map<std::string, CachedStatement> cache_;
  // ExecKept's statements, by SQL text.
  std::vector<std::pair<std::string, sqlite3_stmt*>> kept_;
  uint64_t cache_clock_ = 0;
  SqlGuard guard_;
};

// The name of a SQLite primary result code ("SQLITE_CONSTRAINT" for any SQLITE_CONSTRAINT_*).
const char* PrimaryCodeName(int code);

}  // namespace litehouse::engine
