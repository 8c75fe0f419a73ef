#include "engine/connection.h"

#include <climits>

#include "common/strings.h"
#include "engine/libsql_schema.h"
#include "engine/sql_tokens.h"
#include "engine/vector_ddl.h"
#include "vector/sql_functions.h"

namespace litehouse::engine {
Status Connection::ResetSettings() { return Exec(SqlGuard::ResetSettingsSql()); }

std::string_view Statement::param_name(int i) const {
  const char* name = sqlite3_bind_parameter_name(stmt_, i);
  return name ? std::string_view(name) : std::string_view();
}

Status Statement::Bind(int i, const Value& value) {
  int rc = SQLITE_OK;
  switch (value.index()) {
    case 0: rc = sqlite3_bind_null(stmt_, i); break;
    case 1: rc = sqlite3_bind_int64(stmt_, i, std::get<int64_t>(value)); break;
    case 2: rc = sqlite3_bind_double(stmt_, i, std::get<double>(value)); break;
    case 3: {
      const auto& text = std::get<std::string>(value);
      rc = sqlite3_bind_text64(stmt_, i, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      break;
    }
    case 4: {
      const auto& blob = std::get<Blob>(value).bytes;
      // A zero-length blob must stay a blob, not NULL: sqlite3_bind_blob64 with a null pointer binds NULL.
      rc = blob.empty() ? sqlite3_bind_zeroblob(stmt_, i, 0)
                        : sqlite3_bind_blob64(stmt_, i, blob.data(), blob.size(), SQLITE_TRANSIENT);
      break;
    }
  }
  if (rc == SQLITE_OK) return Status::OK();
  sqlite3* db = sqlite3_db_handle(stmt_);
  return Status::Sqlite(rc, rc == SQLITE_RANGE ? "bind index out of range" : sqlite3_errmsg(db));
}

void Statement::Finish() {
  if (!stmt_) return;
  if (cached_) conn_->ReturnToCache(stmt_);
  else sqlite3_finalize(stmt_);
  stmt_ = nullptr;
}

Result<bool> Statement::Step() {
  if (alter_ && !alter_done_) {
    // The stand-in first, on the schema it was prepared for (after the change a DELETE from a table
    // that now names a missing parent would fail with foreign keys on), then the change.
    int rc = sqlite3_step(stmt_);
    if (rc != SQLITE_DONE) return conn_->ErrorStatus(rc);
    if (Status s = conn_->RunAlterColumn(*alter_); !s.ok()) return s;
    alter_done_ = true;
    return false;
  }
  if (vector_ddl_ && !vector_ddl_done_) {
    vector_ddl_done_ = true;
    if (Status s = conn_->RunVectorDdl(stmt_, *vector_ddl_); !s.ok()) return s;
    return false;
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return conn_->ErrorStatus(rc);
}

Status Statement::Reset() {
  alter_done_ = false;
  vector_ddl_done_ = false;
  int rc = sqlite3_reset(stmt_);
  if (rc == SQLITE_OK) return Status::OK();
  sqlite3* db = sqlite3_db_handle(stmt_);
  return Status::Sqlite(sqlite3_extended_errcode(db), sqlite3_errmsg(db));
}

std::string_view Statement::column_name(int i) const {
  const char* name = sqlite3_column_name(stmt_, i);
  return name ? std::string_view(name) : std::string_view();
}

Value Statement::column(int i) const {
  switch (sqlite3_column_type(stmt_, i)) {
    case SQLITE_INTEGER: return static_cast<int64_t>(sqlite3_column_int64(stmt_, i));
    case SQLITE_FLOAT: return sqlite3_column_double(stmt_, i);
    case SQLITE_TEXT: {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
      return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, i)));
    }
    case SQLITE_BLOB: {
      const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, i));
      size_t n = static_cast<size_t>(sqlite3_column_bytes(stmt_, i));
      return Blob{p ? std::string(p, n) : std::string()};
    }
    default: return std::monostate{};
  }
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path, Role role, const GuardOptions& guard,
                                                     const char* vfs) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, vfs);
  if (rc != SQLITE_OK) {
    Status s = Status::Sqlite(rc, db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close_v2(db);
    return s;
  }
  std::unique_ptr<Connection> conn(new Connection(db, role));
  sqlite3_extended_result_codes(db, 1);
  // Waits on locks held by other processes (a backup tool, the sqlite3 CLI). Inside this process the
  // writer lease already serializes writers, so this is rarely reached.
  sqlite3_busy_timeout(db, 5000);
  // libSQL's SQL functions, on every connection Litehouse opens (server, client library, tools):
  // before the first statement, so that a schema using them (a CHECK, an index) reads as in libSQL.
  Status registered = vector::RegisterSqlFunctions(db);
  if (registered.ok()) registered = RegisterVectorIndexSync(db);
  if (!registered.ok()) return registered;
  const char* setup = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=1000;";
  if (role == Role::kWriter) setup = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0;";
  if (role == Role::kReader) setup = "PRAGMA wal_autocheckpoint=0; PRAGMA query_only=1;";
  Status s = conn->Exec(setup);
  // The schema is read now, so that one SQLite cannot parse (libSQL's RANDOM ROWID) is said at open,
  // naming its table, whatever the role (a reader's setup does not read it).
  if (s.ok()) s = conn->Exec("SELECT 1 FROM sqlite_schema LIMIT 1");
  if (!s.ok()) return ExplainSchemaError(path, s, vfs);
  conn->query_only_ = role == Role::kReader;
  sqlite3_commit_hook(db, &Connection::RefuseCommitWithoutLock, conn.get());
  // From here on, clients' statements are checked (sql_guard.h).
  conn->guard_.Install(db, guard);
  return conn;
}

Connection::~Connection() {
  for (auto& [sql, cached] : cache_) sqlite3_finalize(cached.stmt);
  for (auto& [sql, stmt] : kept_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

std::optional<Result<Statement>> Connection::PrepareLibsqlDialect(std::string_view sql, size_t* tail_offset) {
  // One look at the first word: most statements are none of these.
  const std::string_view word = engine::sql::FirstWord(sql);
  if (!EqualsIgnoreCase(word, "ALTER") && !EqualsIgnoreCase(word, "CREATE") && !EqualsIgnoreCase(word, "DROP") &&
      !EqualsIgnoreCase(word, "REINDEX")) {
    return std::nullopt;
  }
  if (auto alter = MatchAlterColumn(sql)) {
    if (!alter->ok()) return Result<Statement>(alter->status());
    return PrepareAlterColumn(std::move(alter->value()), tail_offset);
  }
  if (auto refused = RefuseRandomRowid(sql)) return Result<Statement>(*refused);
  if (auto ddl = MatchVectorDdl(sql)) {
    if (!ddl->ok()) return Result<Statement>(ddl->status());
    return PrepareVectorDdl(std::move(ddl->value()), sql, tail_offset);
  }
  return std::nullopt;
}

Result<Statement> Connection::PrepareCached(std::string_view sql, size_t* tail_offset) {
  // libSQL's statements are rare: never cached.
  if (auto dialect = PrepareLibsqlDialect(sql, tail_offset)) return std::move(*dialect);
  std::string key;
  key.reserve(sql.size() + 1);
  key.push_back(guard_.read_only() ? 'r' : 'w');
  key.append(sql);
  auto it = cache_.find(key);
  if (it != cache_.end() && !it->second.in_use) {
    it->second.in_use = true;
    it->second.last_used = ++cache_clock_;
    if (tail_offset) *tail_offset = it->second.tail;
    return Statement(it->second.stmt, this, /*cached=*/true);
  }
  if (sql.size() > INT_MAX) return Status::Sqlite(SQLITE_TOOBIG, "SQL text too long");
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
  if (rc != SQLITE_OK) return ErrorStatus(rc);
  size_t tail_at = tail ? static_cast<size_t>(tail - sql.data()) : sql.size();
  if (tail_offset) *tail_offset = tail_at;
  // In use already (the same text twice in one request), empty, or a setting the guard must see:
  // not cached.
  if (it != cache_.end() || !stmt || guard_.HasPendingSetting()) return Statement(stmt, this);
  if (cache_.size() >= kStatementCacheSize) {
    auto victim = cache_.end();
    for (auto c = cache_.begin(); c != cache_.end(); ++c) {
      if (!c->second.in_use && (victim == cache_.end() || c->second.last_used < victim->second.last_used)) victim = c;
    }
    if (victim == cache_.end()) return Statement(stmt, this);
    sqlite3_finalize(victim->second.stmt);
    cache_.erase(victim);
  }
  cache_.emplace(std::move(key), CachedStatement{stmt, tail_at, true, ++cache_clock_});
  return Statement(stmt, this, /*cached=*/true);
}

void Connection::ReturnToCache(sqlite3_stmt* stmt) {
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  for (auto& [sql, cached] : cache_) {
    if (cached.stmt == stmt) {
      cached.in_use = false;
      return;
    }
  }
  sqlite3_finalize(stmt);  // not found: never happens, but never leak
}

int Connection::RefuseCommitWithoutLock(void* self) {
  // SQLite calls it only for a transaction that wrote. Non-zero turns the COMMIT into a rollback.
  return static_cast<Connection*>(self)->may_write_ ? 0 : 1;
}

Status Connection::SetQueryOnly(bool on) {
  if (on == query_only_) return Status::OK();
  guard_.set_engine_statement(true);
  Status s = Exec(on ? "PRAGMA query_only=1" : "PRAGMA query_only=0");
  guard_.set_engine_statement(false);
  if (s.ok()) query_only_ = on;
  return s;
}

Result<Statement> Connection::Prepare(std::string_view sql, size_t* tail_offset) {
  if (auto dialect = PrepareLibsqlDialect(sql, tail_offset)) return std::move(*dialect);
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  if (sql.size() > INT_MAX) return Status::Sqlite(SQLITE_TOOBIG, "SQL text too long");
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), 0, &stmt, &tail);
  if (rc != SQLITE_OK) return ErrorStatus(rc);
  if (tail_offset) *tail_offset = tail ? static_cast<size_t>(tail - sql.data()) : sql.size();
  return Statement(stmt, this);
}

Result<Statement> Connection::PrepareAlterColumn(AlterColumn alter, size_t* tail_offset) {
  // Reading the schema is the engine's business; the stand-in is the client's, under the guard.
  guard_.set_engine_statement(true);
  Status checked = CheckAlterColumn(db_, alter);
  guard_.set_engine_statement(false);
  if (!checked.ok()) return checked;
  const std::string stand_in = StandInStatement(alter);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, stand_in.c_str(), -1, 0, &stmt, nullptr);
  if (rc != SQLITE_OK) return ErrorStatus(rc);
  if (tail_offset) *tail_offset = alter.length;
  Statement st(stmt, this);
  st.alter_ = std::make_shared<const AlterColumn>(std::move(alter));
  return st;
}

Status Connection::RunAlterColumn(const AlterColumn& alter) {
  // writable_schema needs DEFENSIVE off, and the schema's rows are not the client's to write: the
  // guard lets the engine's own statements by, for the length of the change.
  guard_.set_engine_statement(true);
  int defensive = 1;
  sqlite3_db_config(db_, SQLITE_DBCONFIG_DEFENSIVE, -1, &defensive);
  sqlite3_db_config(db_, SQLITE_DBCONFIG_DEFENSIVE, 0, nullptr);
  Status s = ApplyAlterColumn(db_, alter);
  sqlite3_db_config(db_, SQLITE_DBCONFIG_DEFENSIVE, defensive, nullptr);
  guard_.set_engine_statement(false);
  return s;
}

Result<Statement> Connection::PrepareVectorDdl(VectorDdl ddl, std::string_view sql, size_t* tail_offset) {
  if (sql.size() > INT_MAX) return Status::Sqlite(SQLITE_TOOBIG, "SQL text too long");
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  // SQLite's own checks first (the guard's read-only refusal, "no such table"), then the index's.
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), 0, &stmt, &tail);
  if (rc != SQLITE_OK) return ErrorStatus(rc);
  if (tail_offset) *tail_offset = tail ? static_cast<size_t>(tail - sql.data()) : sql.size();
  Statement st(stmt, this);
  if (!stmt) return st;
  guard_.set_engine_statement(true);
  Status checked = CheckVectorDdl(db_, ddl);
  guard_.set_engine_statement(false);
  if (!checked.ok()) return checked;
  st.vector_ddl_ = std::make_shared<const VectorDdl>(std::move(ddl));
  return st;
}

Status Connection::RunVectorDdl(sqlite3_stmt* stmt, const VectorDdl& ddl) {
  // The savepoint makes the statement and the index work one change, inside the client's
  // transaction if there is one. The client's statement itself runs under the guard as prepared;
  // the index's statements are the engine's.
  guard_.set_engine_statement(true);
  const bool existed = ddl.kind == VectorDdl::Kind::kCreateIndex && IndexExists(db_, ddl.index.name);
  Status s = Exec("SAVEPOINT litehouse_vector_ddl");
  guard_.set_engine_statement(false);
  if (!s.ok()) return s;
  int rc;
  int rows = 0;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && rows < 1000) ++rows;  // these statements return none
  if (rc != SQLITE_DONE) s = ErrorStatus(rc);
  sqlite3_reset(stmt);
  guard_.set_engine_statement(true);
  // The index's own inserts must not change what last_insert_rowid() tells the client.
  const int64_t last_rowid = sqlite3_last_insert_rowid(db_);
  if (s.ok()) s = ApplyVectorDdl(db_, ddl, existed);
  sqlite3_set_last_insert_rowid(db_, last_rowid);
  if (!s.ok()) {
    (void)Exec("ROLLBACK TO litehouse_vector_ddl");
    (void)Exec("RELEASE litehouse_vector_ddl");
  } else {
    s = Exec("RELEASE litehouse_vector_ddl");
  }
  guard_.set_engine_statement(false);
  return s;
}

Status Connection::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::OK();
  int code = sqlite3_extended_errcode(db_);
  int primary = code & 0xff;
  Status s = Status::Sqlite(code, primary == SQLITE_AUTH || primary == SQLITE_INTERRUPT
                                      ? ErrorMessage(code)
                                      : std::string(err ? err : sqlite3_errstr(rc)));
  sqlite3_free(err);
  return s;
}

Status Connection::ExecKept(const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  for (const auto& [text, kept] : kept_) {
    if (text == sql) {
      stmt = kept;
      break;
    }
  }
  if (!stmt) {
    if (kept_.size() >= kKeptStatements) return Exec(sql);
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
    if (rc != SQLITE_OK) return ErrorStatus(rc);
    if (!stmt || (tail && *tail)) {  // empty, or more than one statement: not kept
      sqlite3_finalize(stmt);
      return Exec(sql);
    }
    kept_.emplace_back(sql, stmt);
  }
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
  }
  Status s = rc == SQLITE_DONE ? Status::OK() : ErrorStatus(rc);
  sqlite3_reset(stmt);
  return s;
}

Status Connection::ErrorStatus(int rc) const {
  int code = sqlite3_extended_errcode(db_);
  if ((code & 0xff) != (rc & 0xff)) code = rc;
  return Status::Sqlite(code, ErrorMessage(code));
}

std::string Connection::ErrorMessage(int code) const {
  int primary = code & 0xff;
  // A guard's refusal says why, in place of SQLite's bare "not authorized" or "interrupted".
  if ((primary == SQLITE_AUTH || primary == SQLITE_INTERRUPT) && !guard_.DenialReason().empty()) {
    return std::string(sqlite3_errmsg(db_)) + ": " + guard_.DenialReason();
  }
  return sqlite3_errmsg(db_);
}

const char* PrimaryCodeName(int code) {
  switch (code & 0xff) {
    case SQLITE_OK: return "SQLITE_OK";
    case SQLITE_ERROR: return "SQLITE_ERROR";
    case SQLITE_INTERNAL: return "SQLITE_INTERNAL";
    case SQLITE_PERM: return "SQLITE_PERM";
    case SQLITE_ABORT: return "SQLITE_ABORT";
    case SQLITE_BUSY: return "SQLITE_BUSY";
    case SQLITE_LOCKED: return "SQLITE_LOCKED";
    case SQLITE_NOMEM: return "SQLITE_NOMEM";
    case SQLITE_READONLY: return "SQLITE_READONLY";
    case SQLITE_INTERRUPT: return "SQLITE_INTERRUPT";
    case SQLITE_IOERR: return "SQLITE_IOERR";
    case SQLITE_CORRUPT: return "SQLITE_CORRUPT";
    case SQLITE_NOTFOUND: return "SQLITE_NOTFOUND";
    case SQLITE_FULL: return "SQLITE_FULL";
    case SQLITE_CANTOPEN: return "SQLITE_CANTOPEN";
    case SQLITE_PROTOCOL: return "SQLITE_PROTOCOL";
    case SQLITE_EMPTY: return "SQLITE_EMPTY";
    case SQLITE_SCHEMA: return "SQLITE_SCHEMA";
    case SQLITE_TOOBIG: return "SQLITE_TOOBIG";
    case SQLITE_CONSTRAINT: return "SQLITE_CONSTRAINT";
    case SQLITE_MISMATCH: return "SQLITE_MISMATCH";
    case SQLITE_MISUSE: return "SQLITE_MISUSE";
    case SQLITE_NOLFS: return "SQLITE_NOLFS";
    case SQLITE_AUTH: return "SQLITE_AUTH";
    case SQLITE_FORMAT: return "SQLITE_FORMAT";
    case SQLITE_RANGE: return "SQLITE_RANGE";
    case SQLITE_NOTADB: return "SQLITE_NOTADB";
    case SQLITE_NOTICE: return "SQLITE_NOTICE";
    case SQLITE_WARNING: return "SQLITE_WARNING";
  }
  return "SQLITE_UNKNOWN";
}

}  // namespace litehouse::engine
