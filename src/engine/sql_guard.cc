#include "engine/sql_guard.h"

#include <string_view>

#include "common/strings.h"
#include "vector/index_sql.h"

namespace litehouse::engine {
namespace {

// Pragmas a client may set. Each changes only how this connection runs its own statements, and
// ResetSettingsSql() puts it back when the connection changes hands. Every other pragma may be read
// but not set: the rest configure the file, the WAL or the connection's role (journal_mode,
// synchronous, wal_autocheckpoint, query_only, locking_mode, ...), which belong to the engine.
constexpr std::string_view kSettablePragmas[] = {
    "foreign_keys",        "defer_foreign_keys",       "recursive_triggers",       "legacy_alter_table",
    "case_sensitive_like", "ignore_check_constraints", "reverse_unordered_selects", "automatic_index"};
constexpr const char* kResetSettings =
    "PRAGMA foreign_keys=1; PRAGMA defer_foreign_keys=0; PRAGMA recursive_triggers=0; PRAGMA legacy_alter_table=0;"
    "PRAGMA case_sensitive_like=0; PRAGMA ignore_check_constraints=0; PRAGMA reverse_unordered_selects=0;"
    "PRAGMA automatic_index=1;";

// Pragmas whose argument names a schema object, not a value: they only read (table_info(t), ...).
constexpr std::string_view kArgumentQueryPragmas[] = {
    "table_info",       "table_xinfo",       "index_list",      "index_info",  "index_xinfo",
    "foreign_key_list", "foreign_key_check", "integrity_check", "quick_check", "table_list"};
// Pragmas that write to the database file itself: ordinary writes for a read-write client (a
// migration tool keeps its version in user_version), refused in read-only mode.
constexpr std::string_view kDatabasePragmas[] = {"user_version", "application_id", "optimize", "incremental_vacuum"};

constexpr const char* kTempRefusal =
    "temporary tables, views, indexes and triggers (the temp schema) are not supported: connections are shared";

// How many virtual machine instructions run between two looks at the query clock.
constexpr int kProgressOps = 10000;


// True when `sql`, after white space and comments, begins with the keyword `keyword` (lower case).
bool StartsWithKeyword(const char* sql, std::string_view keyword) {
  std::string_view s = sql ? sql : "";
  for (;;) {
    size_t i = s.find_first_not_of(" \t\r\n\f\v");
    s.remove_prefix(i == std::string_view::npos ? s.size() : i);
    if (s.substr(0, 2) == "--") {
      size_t nl = s.find('\n');
      s.remove_prefix(nl == std::string_view::npos ? s.size() : nl);
    } else if (s.substr(0, 2) == "/*") {
      size_t end = s.find("*/", 2);
      s.remove_prefix(end == std::string_view::npos ? s.size() : end + 2);
    } else {
      break;
    }
  }
  if (s.size() < keyword.size() || !EqualsIgnoreCase(s.substr(0, keyword.size()), keyword)) return false;
  if (s.size() == keyword.size()) return true;
  unsigned char next = static_cast<unsigned char>(s[keyword.size()]);
  return !(std::isalnum(next) || next == '_' || next >= 0x80);
}

bool IsWrite(int action) {
  switch (action) {
    case SQLITE_INSERT: case SQLITE_UPDATE: case SQLITE_DELETE:
    case SQLITE_CREATE_INDEX: case SQLITE_CREATE_TABLE: case SQLITE_CREATE_TRIGGER: case SQLITE_CREATE_VIEW:
    case SQLITE_CREATE_VTABLE: case SQLITE_DROP_INDEX: case SQLITE_DROP_TABLE: case SQLITE_DROP_TRIGGER:
    case SQLITE_DROP_VIEW: case SQLITE_DROP_VTABLE: case SQLITE_ALTER_TABLE: case SQLITE_REINDEX:
    case SQLITE_ANALYZE:
      return true;
    default:
      return false;
  }
}

// A vector index's own tables (vector/index_sql.h) are written by the index only (SyncRow, which its
// triggers call, and which can only make the graph agree with the table). A client's direct write
// would leave the index disagreeing with its table for every client, as a crafted FTS5 shadow row
// would (DEFENSIVE).
// Its triggers are not guarded: SQLite authorizes dropping each trigger of a table it drops, and a
// DROP TABLE can be prepared again when the schema changed, so no state of this guard tells the two
// apart; a client that drops one stops its own writes from reaching the index until REINDEX.
Status GuardVectorIndex(int action, const char* arg1, const char* arg2) {
  if (vector::InIndexMaintenance()) return Status::OK();
  std::string_view a1 = arg1 ? arg1 : "", a2 = arg2 ? arg2 : "";
  const auto refuse = [](std::string_view what) {
    return Status::InvalidArgument(std::string(what) + " belongs to a vector index, which keeps it itself");
  };
  switch (action) {
    case SQLITE_INSERT: case SQLITE_UPDATE: case SQLITE_DELETE: case SQLITE_DROP_TABLE:
      if (vector::IsIndexTableName(a1)) return refuse("table " + std::string(a1));
      break;
    case SQLITE_CREATE_TABLE:
      if (vector::IsIndexTableName(a1)) return Status::InvalidArgument("table name " + std::string(a1) + " is reserved for vector indexes");
      break;
    case SQLITE_ALTER_TABLE: case SQLITE_CREATE_TRIGGER:
      if (vector::IsIndexTableName(a2)) return refuse("table " + std::string(a2));
      break;
    default: break;
  }
  return Status::OK();
}

}  // namespace

void SqlGuard::Install(sqlite3* db, const GuardOptions& options) {
  query_timeout_ = options.query_timeout;
  // Shadow tables (FTS5's f_data, R*Tree's r_node, ...) belong to their module: a crafted row corrupts
  // the index for every client, so statements may read them and only the virtual table writes them
  // ("table f_data may not be modified"). DEFENSIVE also refuses writable_schema, journal_mode=OFF
  // and schema_version=N, which the authorizer refuses already. Dumps therefore carry virtual tables
  // as rows of the virtual table (dump.h).
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, options.max_sql_length_bytes);
  if (options.max_value_length_bytes > 0) sqlite3_limit(db, SQLITE_LIMIT_LENGTH, options.max_value_length_bytes);
  db_ = db;
  sqlite3_set_authorizer(db, &SqlGuard::Authorize, this);
  // Always: the inline budget (StartBudget) needs it too. It reads the clock every kProgressOps VM
  // operations, tens of microseconds apart.
  sqlite3_progress_handler(db, kProgressOps, &SqlGuard::Progress, this);
}

void SqlGuard::StartQuery() {
  denial_.clear();
  paused_left_.reset();
  if (query_timeout_.count() > 0) deadline_ = std::chrono::steady_clock::now() + query_timeout_;
}

std::optional<std::pair<std::string, std::string>> SqlGuard::TakeSetting() {
  auto out = std::move(setting_);
  setting_.reset();
  return out;
}

bool SqlGuard::TakeSettingsChanged() {
  bool changed = settings_changed_;
  settings_changed_ = false;
  return changed;
}

template <size_t N>
bool IsOneOf(std::string_view name, const std::string_view (&list)[N]) {
  for (std::string_view item : list)
    if (EqualsIgnoreCase(name, item)) return true;
  return false;
}

bool SqlGuard::IsSettablePragma(const char* name) { return IsOneOf(name, kSettablePragmas); }

const char* SqlGuard::ResetSettingsSql() { return kResetSettings; }

int SqlGuard::Deny(std::string reason) {
  denial_ = std::move(reason);
  return SQLITE_DENY;
}

int SqlGuard::Authorize(void* self, int action, const char* arg1, const char* arg2, const char* db_name,
                        const char*) {
  auto* guard = static_cast<SqlGuard*>(self);
  if (guard->engine_statement_) return SQLITE_OK;
  std::string_view a1 = arg1 ? arg1 : "";
  // The temp schema belongs to the connection, and connections are shared: whatever is created in
  // it, however it is named (CREATE TEMP TABLE, CREATE TABLE temp.x, a trigger in temp on a main
  // table, a virtual table in temp), would outlive the request and act on other clients' statements.
  // SQLite reports the unqualified TEMP forms with their own action codes, and every qualified one
  // with the schema it lands in.
  const bool in_temp = db_name && EqualsIgnoreCase(db_name, "temp");
  // ALTER TABLE ... RENAME (of a table or a column) rewrites the temp schema's own table as well,
  // for temp triggers and views that might name the table: there are none here, and a client's own
  // UPDATE of that table is refused by SQLite itself (DEFENSIVE; writable_schema cannot be set).
  const bool temp_schema_table =
      action == SQLITE_UPDATE && (EqualsIgnoreCase(a1, "sqlite_temp_master") || EqualsIgnoreCase(a1, "sqlite_master"));
  if (in_temp && IsWrite(action) && !temp_schema_table) return guard->Deny(kTempRefusal);
  if (Status refused = GuardVectorIndex(action, arg1, arg2); !refused.ok()) return guard->Deny(refused.message());
  switch (action) {
    case SQLITE_ATTACH:
      // VACUUM attaches a temporary database named "" while it runs: allowed. Anything a client
      // attaches itself is refused: a named file (ATTACH, VACUUM INTO) reads or writes outside the
      // database, and '' or ':memory:' would stay attached to a shared connection.
      if (a1.empty() && guard->InVacuum()) {
        return guard->read_only_ ? guard->Deny("VACUUM is a write, and this access is read-only") : SQLITE_OK;
      }
      if (a1.empty() || a1 == ":memory:") return guard->Deny("ATTACH is not allowed: connections are shared");
      return guard->Deny("ATTACH and VACUUM INTO are not allowed: they reach files outside the database");
    case SQLITE_DETACH: return guard->Deny("DETACH is not allowed");
    case SQLITE_CREATE_TEMP_INDEX:
    case SQLITE_CREATE_TEMP_TABLE:
    case SQLITE_CREATE_TEMP_TRIGGER:
    case SQLITE_CREATE_TEMP_VIEW:
      return guard->Deny(kTempRefusal);
    case SQLITE_READ:
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE:
      if (EqualsIgnoreCase(a1, "sqlite_dbpage")) return guard->Deny("sqlite_dbpage is reserved to the server");
      break;
    case SQLITE_CREATE_VTABLE:
      if (arg2 && EqualsIgnoreCase(arg2, "sqlite_dbpage")) return guard->Deny("sqlite_dbpage is reserved to the server");
      break;
    case SQLITE_PRAGMA: {
      if (EqualsIgnoreCase(a1, "wal_checkpoint")) return guard->Deny("checkpoints are run by the server");
      if (arg2 == nullptr || IsOneOf(a1, kArgumentQueryPragmas)) return SQLITE_OK;  // reading
      if (IsOneOf(a1, kDatabasePragmas)) {
        if (in_temp) return guard->Deny(kTempRefusal);  // PRAGMA temp.user_version=1 creates the temp file
        return guard->read_only_ ? guard->Deny("this access is read-only: writes are not allowed") : SQLITE_OK;
      }
      if (!IsSettablePragma(arg1)) return guard->Deny("PRAGMA " + std::string(a1) + " cannot be set by clients");
      guard->settings_changed_ = true;
      guard->setting_.emplace(AsciiLower(a1), arg2);
      return SQLITE_OK;
    }
    default: break;
  }
  if (guard->read_only_ && IsWrite(action)) return guard->Deny("this access is read-only: writes are not allowed");
  return SQLITE_OK;
}

// True while a VACUUM statement runs on this connection. VACUUM's own ATTACH of "" is prepared while
// the VACUUM statement is stepping, so it is the one busy statement; a client's ATTACH is prepared
// at the top level, with no VACUUM running (SQLite refuses VACUUM while other statements run).
bool SqlGuard::InVacuum() const {
  for (sqlite3_stmt* s = sqlite3_next_stmt(db_, nullptr); s; s = sqlite3_next_stmt(db_, s)) {
    if (sqlite3_stmt_busy(s) && StartsWithKeyword(sqlite3_sql(s), "vacuum")) return true;
  }
  return false;
}

int SqlGuard::Progress(void* self) {
  auto* guard = static_cast<SqlGuard*>(self);
  auto now = std::chrono::steady_clock::now();
  if (now >= guard->budget_deadline_) {
    guard->over_budget_ = true;
    guard->denial_ = "the statement ran past its time on the network thread; it runs again on the SQL pool";
    return 1;
  }
  if (now < guard->deadline_) return 0;
  guard->denial_ = "the query ran longer than the limit of " + std::to_string(guard->query_timeout_.count()) + " ms";
  return 1;
}

}  // namespace litehouse::engine
