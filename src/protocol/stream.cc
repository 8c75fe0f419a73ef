#include "protocol/stream.h"

#include <algorithm>
#include <cctype>
#include <chrono>

#include "protocol/errors.h"

namespace litehouse::protocol {
namespace {

using engine::Connection;
using engine::Statement;

// Skips whitespace and SQL comments from `i`; returns the index of the next meaningful character.
size_t SkipSpaceAndComments(std::string_view sql, size_t i) {
  while (i < sql.size()) {
    char c = sql[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      size_t nl = sql.find('\n', i);
      i = nl == std::string_view::npos ? sql.size() : nl + 1;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      size_t end = sql.find("*/", i + 2);
      i = end == std::string_view::npos ? sql.size() : end + 2;
    } else {
      break;
    }
  }
  return i;
}

// Reads the keyword starting at `*i` (letters, digits, underscore), upper-cased; advances `*i`.
std::string ReadWord(std::string_view sql, size_t* i) {
  std::string word;
  while (*i < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[*i])) || sql[*i] == '_')) {
    word += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[*i])));
    ++*i;
  }
  return word;
}

// BEGIN [DEFERRED] [TRANSACTION] READONLY: libsql's read-only transaction, which @libsql/client sends
// for transaction("read"). Stock SQLite parses READONLY as the (ignored) transaction name, so the
// statement itself is a deferred BEGIN; Litehouse gives it a reader connection, where any write fails.
bool IsReadonlyBegin(std::string_view sql) {
  size_t i = SkipSpaceAndComments(sql, 0);
  if (ReadWord(sql, &i) != "BEGIN") return false;
  for (int words = 0; words < 3; ++words) {
    i = SkipSpaceAndComments(sql, i);
    std::string w = ReadWord(sql, &i);
    if (w == "READONLY") return true;
    if (w != "TRANSACTION" && w != "DEFERRED") return false;
  }
  return false;
}

Error NoStatement() { return MakeError("SQL_NO_STATEMENT", "SQL string does not contain any statement"); }
Error ManyStatements() { return MakeError("SQL_MANY_STATEMENTS", "SQL string contains more than one statement"); }

// Binds the statement's arguments. Too many is ARGS_INVALID, and so is a parameter left without a
// value (sqld's "value for parameter X not found"), except under EXPLAIN, which runs nothing: a
// program's mistake must fail, not write NULLs.
std::optional<Error> BindArgs(const Stmt& stmt, Statement& prepared) {
  if (!stmt.args.empty() && !stmt.named_args.empty()) {
    return MakeError("ARGS_BOTH_POSITIONAL_AND_NAMED", "Specifying both positional and named arguments is not supported");
  }
  int param_count = prepared.param_count();
  if (stmt.args.size() > static_cast<size_t>(param_count)) {
    return MakeError("ARGS_INVALID", "Arguments do not match SQL parameters: too many parameters, expected " +
                                         std::to_string(param_count) + " found " + std::to_string(stmt.args.size()));
  }
  if (stmt.named_args.size() > static_cast<size_t>(param_count)) {
    return MakeError("ARGS_INVALID", "Arguments do not match SQL parameters: too many parameters, expected " +
                                         std::to_string(param_count) + " found " + std::to_string(stmt.named_args.size()));
  }
  std::vector<bool> bound(static_cast<size_t>(param_count) + 1, false);
  for (size_t i = 0; i < stmt.args.size(); ++i) {
    // As sqld: positional values go to `?` and `?NNN` parameters only; a named one (:a, @a, $a)
    // takes only a named value.
    const int index = static_cast<int>(i) + 1;
    std::string_view name = prepared.param_name(index);
    if (!name.empty() && name[0] != '?') continue;
    Status s = prepared.Bind(index, stmt.args[i]);
    if (!s.ok()) return ErrorFromStatus(s);
    bound[static_cast<size_t>(index)] = true;
  }
  for (const NamedArg& arg : stmt.named_args) {
    int index = 0;
    if (!arg.name.empty() && (arg.name[0] == ':' || arg.name[0] == '@' || arg.name[0] == '$' || arg.name[0] == '?')) {
      index = prepared.ParamIndex(arg.name);
    } else {
      for (const char* prefix : {":", "@", "$"}) {
        index = prepared.ParamIndex(prefix + arg.name);
        if (index) break;
      }
    }
    // A named argument the statement does not mention is ignored (within the count above), as sqld.
    if (index == 0) continue;
    Status s = prepared.Bind(index, arg.value);
    if (!s.ok()) return ErrorFromStatus(s);
    bound[static_cast<size_t>(index)] = true;
  }
  if (prepared.is_explain()) return std::nullopt;
  for (int i = 1; i <= param_count; ++i) {
    if (bound[static_cast<size_t>(i)]) continue;
    std::string_view name = prepared.param_name(i);
    return MakeError("ARGS_INVALID", "Arguments do not match SQL parameters: value for parameter " +
                                         (name.empty() ? std::to_string(i) : std::string(name)) + " not found");
  }
  return std::nullopt;
}

// True for an INSERT or REPLACE statement, a WITH clause before it or not.
bool IsInsert(std::string_view sql, const Statement& prepared) {
  const std::string keyword = FirstKeyword(sql);
  if (keyword == "INSERT" || keyword == "REPLACE") return true;
  if (keyword != "WITH" || prepared.readonly()) return false;
  // After the common table expressions comes the statement's own verb: the first INSERT, REPLACE,
  // UPDATE or DELETE outside parentheses, comments and quotes.
  int depth = 0;
  for (size_t i = 0; i < sql.size();) {
    size_t at = SkipSpaceAndComments(sql, i);
    if (at >= sql.size()) break;
    char c = sql[at];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == '\'' || c == '"' || c == '`' || c == '[') {
      char close = c == '[' ? ']' : c;
      size_t end = sql.find(close, at + 1);
      i = end == std::string_view::npos ? sql.size() : end + 1;
      continue;
    }
    size_t word_end = at;
    std::string word = ReadWord(sql, &word_end);
    if (word.empty()) {
      i = at + 1;
      continue;
    }
    if (depth == 0 && (word == "INSERT" || word == "REPLACE")) return true;
    if (depth == 0 && (word == "UPDATE" || word == "DELETE" || word == "SELECT" || word == "VALUES")) return false;
    i = word_end;
  }
  return false;
}

std::vector<Col> Columns(const Statement& prepared) {
  std::vector<Col> cols;
  int n = prepared.column_count();
  cols.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    Col col;
    col.name = std::string(prepared.column_name(i));
    if (const char* decl = prepared.column_decltype(i)) col.decltype_ = decl;
    cols.push_back(std::move(col));
  }
  return cols;
}

// Collects a batch's output into a BatchResult.
class BatchCollector : public BatchSink {
 public:
  BatchCollector(BatchResult* out, size_t steps) : out_(out) {
    out_->step_results.assign(steps, std::nullopt);
    out_->step_errors.assign(steps, std::nullopt);
  }
  void StepBegin(uint32_t step) override {
    current_ = step;
    out_->step_results[step].emplace();
  }
  void Begin(std::vector<Col> cols) override { out_->step_results[current_]->cols = std::move(cols); }
  void Row(std::vector<Value> row) override { out_->step_results[current_]->rows.push_back(std::move(row)); }
  void End(const StmtEnd& end) override { static_cast<StmtEnd&>(*out_->step_results[current_]) = end; }
  void StepError(uint32_t step, Error error) override {
    out_->step_results[step].reset();
    out_->step_errors[step] = std::move(error);
  }

 private:
  BatchResult* out_;
  uint32_t current_ = 0;
};

bool EvalCond(const BatchCond& cond, const std::vector<StepOutcome>& outcomes, const Connection& conn) {
  switch (cond.kind) {
    case BatchCond::Kind::kOk: return cond.step < outcomes.size() && outcomes[cond.step] == StepOutcome::kOk;
    case BatchCond::Kind::kError: return cond.step < outcomes.size() && outcomes[cond.step] == StepOutcome::kError;
    case BatchCond::Kind::kNot: return !cond.conds.empty() && !EvalCond(cond.conds[0], outcomes, conn);
    case BatchCond::Kind::kAnd:
      for (const auto& c : cond.conds)
        if (!EvalCond(c, outcomes, conn)) return false;
      return true;
    case BatchCond::Kind::kOr:
      for (const auto& c : cond.conds)
        if (EvalCond(c, outcomes, conn)) return true;
      return false;
    case BatchCond::Kind::kIsAutocommit: return conn.autocommit();
  }
  return false;
}

bool CondRefersBefore(const BatchCond& cond, uint32_t step) {
  if ((cond.kind == BatchCond::Kind::kOk || cond.kind == BatchCond::Kind::kError) && cond.step >= step) return false;
  for (const BatchCond& c : cond.conds)
    if (!CondRefersBefore(c, step)) return false;
  return true;
}

}  // namespace

std::optional<Error> CheckBatch(const Batch& batch) {
  for (uint32_t i = 0; i < batch.steps.size(); ++i) {
    const auto& cond = batch.steps[i].condition;
    if (cond && !CondRefersBefore(*cond, i)) return MakeError("INVALID_REQUEST", "Invalid reference to step in a batch condition");
  }
  return std::nullopt;
}

std::string FirstKeyword(std::string_view sql) {
  size_t i = SkipSpaceAndComments(sql, 0);
  while (i < sql.size() && sql[i] == ';') i = SkipSpaceAndComments(sql, i + 1);  // empty statements, as SQLite
  return ReadWord(sql, &i);
}

bool IsBlankSql(std::string_view sql) {
  size_t i = 0;
  while (true) {
    i = SkipSpaceAndComments(sql, i);
    if (i < sql.size() && sql[i] == ';') {
      ++i;
      continue;
    }
    return i >= sql.size();
  }
}

std::optional<Error> SqlStore::Store(int32_t sql_id, std::string sql) {
  if (sqls_.count(sql_id)) return MakeError("SQL_ID_EXISTS", "SQL text " + std::to_string(sql_id) + " already exists");
  if (sqls_.size() >= max_count_) {
    return MakeError("SQL_STORE_TOO_MANY",
                     "The server already stores " + std::to_string(sqls_.size()) + " SQL texts, it cannot store more");
  }
  if (max_text_bytes_ > 0 && sql.size() > max_text_bytes_) {
    // What executing the same text would answer (SQLITE_LIMIT_SQL_LENGTH), so a client sees one error
    // for one cause whether it stores the text first or not.
    return MakeError("SQLITE_TOOBIG", "The SQL text of " + std::to_string(sql.size()) +
                                          " bytes is too long to store: statements may be at most " +
                                          std::to_string(max_text_bytes_) + " bytes");
  }
  if (max_total_bytes_ > 0 && sql.size() > max_total_bytes_ - std::min(total_bytes_, max_total_bytes_)) {
    return MakeError("SQL_STORE_TOO_LARGE", "Storing " + std::to_string(sql.size()) + " more bytes of SQL text would take " +
                                                "the stored texts past the limit of " + std::to_string(max_total_bytes_) +
                                                " bytes (" + std::to_string(total_bytes_) +
                                                " stored now); close some with close_sql first");
  }
  total_bytes_ += sql.size();
  sqls_.emplace(sql_id, std::move(sql));
  return std::nullopt;
}

void SqlStore::Close(int32_t sql_id) {
  auto it = sqls_.find(sql_id);
  if (it == sqls_.end()) return;
  total_bytes_ -= it->second.size();
  sqls_.erase(it);
}

const std::string* SqlStore::Find(int32_t sql_id) const {
  auto it = sqls_.find(sql_id);
  return it == sqls_.end() ? nullptr : &it->second;
}

void InlineStoredSql(const SqlStore& store, StreamRequest* request) {
  auto inline_one = [&](std::optional<std::string>* sql, std::optional<int32_t>* sql_id) {
    if (sql->has_value() || !sql_id->has_value()) return;
    if (const std::string* text = store.Find(**sql_id)) {
      *sql = *text;
      sql_id->reset();
    }
  };
  switch (request->type) {
    case StreamRequest::Type::kExecute: inline_one(&request->stmt.sql, &request->stmt.sql_id); break;
    case StreamRequest::Type::kBatch:
      for (auto& step : request->batch.steps) inline_one(&step.stmt.sql, &step.stmt.sql_id);
      break;
    case StreamRequest::Type::kSequence:
    case StreamRequest::Type::kDescribe: inline_one(&request->sql, &request->sql_id); break;
    default: break;
  }
}

std::optional<Error> Stream::ResolveSql(const std::optional<std::string>& sql, const std::optional<int32_t>& sql_id,
                                        std::string_view* out) const {
  if (sql && sql_id) return MakeError("INVALID_REQUEST", "Both 'sql' and 'sql_id' were given");
  if (sql) {
    *out = *sql;
    return std::nullopt;
  }
  if (!sql_id) return MakeError("INVALID_REQUEST", "Neither 'sql' nor 'sql_id' was given");
  const std::string* stored = sqls_->Find(*sql_id);
  if (!stored) return MakeError("SQL_NOT_FOUND", "SQL text " + std::to_string(*sql_id) + " not found");
  *out = *stored;
  return std::nullopt;
}

Access Stream::ClassifySql(std::string_view sql, Connection& reader, bool single) const {
  size_t offset = 0;
  do {
    std::string_view rest = sql.substr(offset);
    size_t tail = 0;
    auto prepared = single ? reader.PrepareCached(rest, &tail) : reader.Prepare(rest, &tail);
    auto setting = reader.guard().TakeSetting();  // classifying sets nothing
    if (!prepared.ok()) return Access::kWrite;
    offset += tail;
    if (prepared->empty()) break;
    // sqlite3_stmt_readonly: BEGIN (deferred), SAVEPOINT, COMMIT and ROLLBACK take no write lock;
    // BEGIN IMMEDIATE and EXCLUSIVE do.
    if (!prepared->readonly()) return Access::kWrite;
  } while (!single && offset < sql.size());
  return Access::kRead;
}

Access Stream::Classify(const StreamRequest& request, Connection& reader) const {
  std::string_view sql;
  if (read_only_ || (txn_read_only_ && !reader.autocommit())) {
    switch (request.type) {
      case StreamRequest::Type::kExecute:
      case StreamRequest::Type::kBatch:
      case StreamRequest::Type::kSequence:
      case StreamRequest::Type::kDescribe: return Access::kRead;
      default: return Access::kNone;
    }
  }
  switch (request.type) {
    case StreamRequest::Type::kExecute:
      if (ResolveSql(request.stmt.sql, request.stmt.sql_id, &sql)) return Access::kRead;  // fails without SQL
      return ClassifySql(sql, reader, true);
    case StreamRequest::Type::kBatch:
      // A batch that opens with BEGIN ... READONLY (@libsql/client's batch(..., "read")) runs on a
      // reader whatever follows: a write inside it must fail, not be routed to the writer.
      if (!request.batch.steps.empty() && !ResolveSql(request.batch.steps[0].stmt.sql, request.batch.steps[0].stmt.sql_id, &sql) &&
          IsReadonlyBegin(sql)) {
        return Access::kRead;
      }
      for (const BatchStep& step : request.batch.steps) {
        if (ResolveSql(step.stmt.sql, step.stmt.sql_id, &sql)) continue;
        if (ClassifySql(sql, reader, true) == Access::kWrite) return Access::kWrite;
      }
      return Access::kRead;
    case StreamRequest::Type::kSequence:
      if (ResolveSql(request.sql, request.sql_id, &sql)) return Access::kRead;
      if (IsReadonlyBegin(sql)) return Access::kRead;
      return ClassifySql(sql, reader, false);
    case StreamRequest::Type::kDescribe: return Access::kRead;
    default: return Access::kNone;
  }
}

bool Stream::CanJoinGroup(const StreamRequest& request, Connection& conn) const {
  if (request.type != StreamRequest::Type::kExecute || read_only_ || !settings_.empty() || !conn.autocommit()) return false;
  std::string_view sql;
  if (ResolveSql(request.stmt.sql, request.stmt.sql_id, &sql)) return false;
  static constexpr std::string_view kAlone[] = {"BEGIN", "COMMIT", "END",    "ROLLBACK", "SAVEPOINT",
                                                "RELEASE", "VACUUM", "PRAGMA", "ATTACH",   "DETACH"};
  const std::string keyword = FirstKeyword(sql);
  for (std::string_view k : kAlone)
    if (keyword == k) return false;
  return true;
}

std::optional<Error> Stream::StartStmt(const Stmt& stmt, Connection& conn, RunningStmt* out) {
  std::string_view sql;
  if (auto err = ResolveSql(stmt.sql, stmt.sql_id, &sql)) return err;
  size_t tail = 0;
  auto prepared = conn.PrepareCached(sql, &tail);
  auto setting = conn.guard().TakeSetting();
  if (!prepared.ok()) return PrepareError(prepared.status(), conn.last_error_offset());
  if (prepared->empty()) return NoStatement();
  if (!IsBlankSql(sql.substr(tail))) return ManyStatements();
  if (auto err = BindArgs(stmt, *prepared)) return err;

  out->prepared = std::move(prepared).value();
  out->sql = sql;
  out->want_rows = stmt.want_rows;
  out->setting = std::move(setting);
  out->rows_returned = 0;
  out->changes_before = conn.total_changes();
  conn.set_last_insert_rowid(last_insert_rowid_);
  out->started = std::chrono::steady_clock::now();
  conn.guard().StartQuery();
  return std::nullopt;
}

Result<bool> Stream::StepStmt(RunningStmt& run, std::vector<Value>* row) {
  row->clear();
  auto step = run.prepared.Step();
  if (!step.ok()) return step.status();
  if (!*step) return false;
  ++run.rows_returned;
  if (!run.want_rows) return true;
  const int ncols = run.prepared.column_count();
  row->reserve(static_cast<size_t>(ncols));
  for (int i = 0; i < ncols; ++i) row->push_back(run.prepared.column(i));
  return true;
}

StmtEnd Stream::FinishStmt(RunningStmt& run, Connection& conn) {
  // sqlite3_changes() keeps the count of the last INSERT/UPDATE/DELETE on this connection, which may
  // be another client's on a shared connection: report it only if this statement changed rows.
  bool changed = conn.total_changes() != run.changes_before && !run.prepared.readonly();
  // The connection's last rowid is the stream's own (put back above) unless this statement inserted.
  // As sqld, an INSERT reports it even when it inserted nothing (OR IGNORE): the stream's last one.
  last_insert_rowid_ = conn.last_insert_rowid();
  // As sqld (which reports it for statements its parser calls inserts): every INSERT or REPLACE,
  // with or without a WITH clause before it, reports it, 0 on a stream that never inserted; other
  // statements report none.
  StmtEnd end;
  end.affected_row_count = changed ? static_cast<uint64_t>(conn.changes()) : 0;
  if (IsInsert(run.sql, run.prepared)) end.last_insert_rowid = last_insert_rowid_;
  end.rows_written = end.affected_row_count;
  end.rows_read = std::max<uint64_t>(run.rows_returned, static_cast<uint64_t>(sqlite3_stmt_status(
                                                            run.prepared.raw(), SQLITE_STMTSTATUS_FULLSCAN_STEP, 0)));
  end.query_duration_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - run.started).count();
  KeepSetting(std::move(run.setting));
  NoteTransaction(run.sql, conn);
  return end;
}

std::optional<Error> Stream::ExecuteStmt(const Stmt& stmt, Connection& conn, RowSink& sink) {
  RunningStmt run;
  if (auto err = StartStmt(stmt, conn, &run)) return err;
  sink.Begin(Columns(run.prepared));
  std::vector<Value> row;
  while (true) {
    auto more = StepStmt(run, &row);
    if (!more.ok()) return ErrorFromStatus(more.status());
    if (!*more) break;
    if (!run.want_rows) continue;
    if (auto err = ChargeResponse(row)) return err;
    sink.Row(std::move(row));
  }
  sink.End(FinishStmt(run, conn));
  return std::nullopt;
}

std::optional<Error> Stream::ExecuteSequence(std::string_view sql, Connection& conn) {
  size_t offset = 0;
  while (offset < sql.size()) {
    size_t tail = 0;
    auto prepared = conn.Prepare(sql.substr(offset), &tail);
    auto setting = conn.guard().TakeSetting();
    if (!prepared.ok()) return PrepareError(prepared.status(), conn.last_error_offset());
    offset += tail;
    if (prepared->empty()) break;
    conn.guard().StartQuery();
    conn.set_last_insert_rowid(last_insert_rowid_);
    while (true) {
      auto step = prepared->Step();
      if (!step.ok()) return ErrorFromStatus(step.status());
      if (!*step) break;
    }
    last_insert_rowid_ = conn.last_insert_rowid();
    KeepSetting(std::move(setting));
    NoteTransaction(sql.substr(offset - tail, tail), conn);
  }
  return std::nullopt;
}

std::optional<Error> Stream::Describe(std::string_view sql, Connection& conn, DescribeResult* out) {
  size_t tail = 0;
  auto prepared = conn.Prepare(sql, &tail);
  (void)conn.guard().TakeSetting();  // describing sets nothing
  if (!prepared.ok()) return PrepareError(prepared.status(), conn.last_error_offset());
  if (prepared->empty()) return NoStatement();
  if (!IsBlankSql(sql.substr(tail))) return ManyStatements();
  for (int i = 1; i <= prepared->param_count(); ++i) {
    DescribeParam param;
    std::string_view name = prepared->param_name(i);
    if (!name.empty()) param.name = std::string(name);
    out->params.push_back(std::move(param));
  }
  out->cols = Columns(*prepared);
  out->is_explain = prepared->is_explain();
  out->is_readonly = prepared->readonly();
  return std::nullopt;
}

size_t ValueBytes(const Value& value) {
  if (const auto* text = std::get_if<std::string>(&value)) return text->size();
  if (const auto* blob = std::get_if<engine::Blob>(&value)) return blob->bytes.size();
  return 8;
}

size_t ResultRowBytes(const StreamResult& result) {
  if (!result.ok) return 0;
  auto rows_of = [](const StmtResult& r) {
    size_t bytes = 0;
    for (const auto& row : r.rows)
      for (const Value& v : row) bytes += ValueBytes(v);
    return bytes;
  };
  size_t bytes = rows_of(result.response.stmt_result);
  for (const auto& step : result.response.batch_result.step_results)
    if (step) bytes += rows_of(*step);
  return bytes;
}

std::optional<Error> Stream::ChargeResponse(const std::vector<Value>& row) {
  if (max_response_bytes_ == 0) return std::nullopt;
  for (const Value& v : row) response_bytes_ += ValueBytes(v);
  if (response_bytes_ <= max_response_bytes_) return std::nullopt;
  return MakeError("RESPONSE_TOO_LARGE", "Response is too large (the limit is " + std::to_string(max_response_bytes_) +
                                             " bytes of rows per request)");
}

void Stream::NoteTransaction(std::string_view sql, Connection& conn) {
  if (conn.autocommit()) {
    if (txn_read_only_ && !read_only_) (void)conn.SetQueryOnly(false);  // the READONLY transaction ended
    txn_read_only_ = false;
  } else if (IsReadonlyBegin(sql)) {
    // A write inside it fails as it starts (SQLITE_READONLY); the engine clears query_only when the
    // connection goes back to the pool.
    txn_read_only_ = true;
    (void)conn.SetQueryOnly(true);
  }
}

void Stream::BeginRequest(Connection* conn) {
  response_bytes_ = 0;
  if (!conn) return;
  if (conn->autocommit()) txn_read_only_ = false;
  // A read-only stream's connection is query_only too: the guard refuses writes as they are prepared,
  // and query_only refuses what the guard cannot tell from a read, BEGIN IMMEDIATE and EXCLUSIVE
  // taking SQLite's write lock. The engine clears it when the connection goes back to the pool.
  if (read_only_) (void)conn->SetQueryOnly(true);
  conn->guard().set_read_only(read_only_);
  for (const auto& [name, value] : settings_) {
    std::string sql = "PRAGMA " + name + "='";
    for (char c : value) {
      if (c == '\'') sql.push_back('\'');
      sql.push_back(c);
    }
    sql += "'";
    (void)conn->Exec(sql.c_str());  // only settable pragmas get here; each was accepted once already
  }
  (void)conn->guard().TakeSetting();
}

void Stream::KeepSetting(std::optional<std::pair<std::string, std::string>> setting) {
  if (!setting) return;
  for (auto& kept : settings_) {
    if (kept.first == setting->first) {
      kept.second = std::move(setting->second);
      return;
    }
  }
  settings_.push_back(std::move(*setting));
}

void Stream::RunBatch(const Batch& batch, Connection& conn, BatchSink& sink) {
  BeginRequest(&conn);
  std::vector<StepOutcome> outcomes(batch.steps.size(), StepOutcome::kNotRun);
  for (uint32_t i = 0; i < batch.steps.size(); ++i) {
    const BatchStep& step = batch.steps[i];
    if (step.condition && !EvalCond(*step.condition, outcomes, conn)) continue;
    sink.StepBegin(i);
    if (auto err = ExecuteStmt(step.stmt, conn, sink)) {
      outcomes[i] = StepOutcome::kError;
      sink.StepError(i, std::move(*err));
    } else {
      outcomes[i] = StepOutcome::kOk;
    }
  }
}

StreamResult Stream::Handle(const StreamRequest& request, Connection* conn) {
  BeginRequest(conn);
  StreamResult result;
  result.response.type = request.type;
  std::optional<Error> err;
  std::string_view sql;
  switch (request.type) {
    case StreamRequest::Type::kClose: break;
    case StreamRequest::Type::kExecute: {
      StmtCollector collector(&result.response.stmt_result);
      err = ExecuteStmt(request.stmt, *conn, collector);
      break;
    }
    case StreamRequest::Type::kBatch: {
      err = CheckBatch(request.batch);
      if (err) break;
      BatchCollector collector(&result.response.batch_result, request.batch.steps.size());
      RunBatch(request.batch, *conn, collector);
      break;
    }
    case StreamRequest::Type::kSequence:
      err = ResolveSql(request.sql, request.sql_id, &sql);
      if (!err) err = ExecuteSequence(sql, *conn);
      break;
    case StreamRequest::Type::kDescribe:
      err = ResolveSql(request.sql, request.sql_id, &sql);
      if (!err) err = Describe(sql, *conn, &result.response.describe_result);
      break;
    case StreamRequest::Type::kStoreSql:
      if (!request.sql_id || !request.sql) {
        err = MakeError("INVALID_REQUEST", "store_sql needs 'sql_id' and 'sql'");
      } else {
        err = sqls_->Store(*request.sql_id, *request.sql);
      }
      break;
    case StreamRequest::Type::kCloseSql:
      if (request.sql_id) sqls_->Close(*request.sql_id);
      break;
    case StreamRequest::Type::kGetAutocommit: result.response.is_autocommit = conn ? conn->autocommit() : true; break;
  }
  if (err) {
    result.ok = false;
    result.error = std::move(*err);
  }
  return result;
}

BatchCursor::BatchCursor(Stream& stream, Batch batch) : stream_(stream), batch_(std::move(batch)) {
  outcomes_.assign(batch_.steps.size(), StepOutcome::kNotRun);
}

bool BatchCursor::Run(Connection& conn, BatchSink& sink, const std::function<bool()>& enough) {
  if (done_) return true;
  if (!begun_) {
    stream_.BeginRequest(&conn);
    begun_ = true;
  } else {
    conn.guard().ResumeClock();
  }
  std::vector<Value> row;
  while (step_ < batch_.steps.size()) {
    const BatchStep& step = batch_.steps[step_];
    if (!running_) {
      if (step.condition && !EvalCond(*step.condition, outcomes_, conn)) {
        ++step_;
        continue;
      }
      sink.StepBegin(step_);
      running_.emplace();
      // A step still naming an id was not stored when the batch came (InlineStoredSql): never look
      // in the store here, which the connection's thread changes meanwhile.
      std::optional<Error> missing;
      if (!step.stmt.sql && step.stmt.sql_id) {
        missing = MakeError("SQL_NOT_FOUND", "SQL text " + std::to_string(*step.stmt.sql_id) + " not found");
      }
      if (auto err = missing ? std::move(missing) : stream_.StartStmt(step.stmt, conn, &*running_)) {
        running_.reset();
        outcomes_[step_] = StepOutcome::kError;
        sink.StepError(step_++, std::move(*err));
        if (enough()) break;
        continue;
      }
      sink.Begin(Columns(running_->prepared));
      if (on_statement_start_) on_statement_start_();
      if (enough()) break;
    }
    auto more = stream_.StepStmt(*running_, &row);
    if (!more.ok()) {
      running_.reset();
      outcomes_[step_] = StepOutcome::kError;
      sink.StepError(step_++, ErrorFromStatus(more.status()));
      if (enough()) break;
      continue;
    }
    if (!*more) {
      StmtEnd end = stream_.FinishStmt(*running_, conn);
      running_.reset();
      outcomes_[step_++] = StepOutcome::kOk;
      sink.End(end);
      if (enough()) break;
      continue;
    }
    if (!running_->want_rows) continue;
    // One row is still bounded by the response limit (a cursor has no total limit), and the sink
    // may refuse it (a connection's cursors past their room).
    std::optional<Error> refused;
    if (const size_t limit = stream_.max_response_bytes_; limit != 0) {
      size_t bytes = 0;
      for (const Value& v : row) bytes += ValueBytes(v);
      if (bytes > limit)
        refused = MakeError("RESPONSE_TOO_LARGE", "Response is too large (a row of " + std::to_string(bytes) +
                                                      " bytes; the limit is " + std::to_string(limit) + " bytes)");
    }
    if (!refused) refused = sink.Admit(row);
    if (refused) {
      running_.reset();
      outcomes_[step_] = StepOutcome::kError;
      sink.StepError(step_++, std::move(*refused));
      if (enough()) break;
      continue;
    }
    sink.Row(std::move(row));
    if (enough()) break;
  }
  done_ = step_ >= batch_.steps.size();
  if (!done_) conn.guard().PauseClock();
  return done_;
}

void BatchCursor::Abandon() {
  running_.reset();
  done_ = true;
}

}  // namespace litehouse::protocol
