// Stream: the semantics of one Hrana stream, with no transport and no encoding.
//
// A Stream executes requests on whatever connection its caller hands it; choosing and holding that
// connection (a reader, or the one writer while a transaction is open) is the server's job, guided
// by Classify(). The Stream itself keeps only what the protocol says a stream owns: its stored SQL.
//
// Thread safety: distinct Streams are independent; one Stream is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/connection.h"
#include "protocol/hrana.h"

namespace litehouse::protocol {

// Receives the output of statements as they run, so a cursor can stream rows while a plain execute
// collects them (StmtCollector). Calls come in the order Begin, Row*, End; or Error alone.
class RowSink {
 public:
  virtual ~RowSink() = default;
  virtual void Begin(std::vector<Col> cols) = 0;
  virtual void Row(std::vector<Value> row) = 0;
  virtual void End(const StmtEnd& end) = 0;
};

// Collects one statement's output into a StmtResult.
class StmtCollector : public RowSink {
 public:
  explicit StmtCollector(StmtResult* out) : out_(out) {}
  void Begin(std::vector<Col> cols) override { out_->cols = std::move(cols); }
  void Row(std::vector<Value> row) override { out_->rows.push_back(std::move(row)); }
  void End(const StmtEnd& end) override { static_cast<StmtEnd&>(*out_) = end; }

 private:
  StmtResult* out_;
};

// Receives a batch's output step by step (a cursor's entries, or a BatchResult).
class BatchSink : public RowSink {
 public:
  virtual void StepBegin(uint32_t step) = 0;
  virtual void StepError(uint32_t step, Error error) = 0;
  // Asked before each row is given to Row() by a BatchCursor: an error refuses the row, and its step
  // fails with that error (its statement stopped), as a row past the response limit does.
  virtual std::optional<Error> Admit(const std::vector<Value>& row) {
    (void)row;
    return std::nullopt;
  }
};

// How a step of a batch went, for the conditions of the steps after it.
enum class StepOutcome { kNotRun, kOk, kError };

// What a request needs from the connection pool when the stream holds no connection.
enum class Access {
  kNone,   // no SQL runs (store_sql, close_sql, close, get_autocommit)
  kRead,   // every statement is read-only: any reader will do
  kWrite,  // something writes, opens a read-write transaction, or could not be classified
};

// SQL texts stored under client-chosen ids (store_sql / close_sql). Over HTTP each stream has its own;
// over WebSocket every stream of a connection shares the connection's.
//
// Bounded three ways, so stored SQL cannot grow a server's memory without limit: at most
// max_count() texts (sqld's limits: kMaxStoredSqlHttp per HTTP stream, kMaxStoredSqlWs per WebSocket
// connection; @libsql/client over ws caches up to 100 texts and does not expect a refusal), none longer
// than the longest statement the engine would run (--max-sql-length: refused as SQLITE_TOOBIG, as
// executing it would be), and at most max_total_bytes of text together (--max-stored-sql-size:
// SQL_STORE_TOO_LARGE).
class SqlStore {
 public:
  static constexpr size_t kMaxStoredSqlHttp = 50;
  static constexpr size_t kMaxStoredSqlWs = 150;

  // Texts longer than `max_text_bytes`, or that would take the store past `max_total_bytes`, are
  // refused from now on; 0 leaves that bound off (the default, for local databases). More than
  // `max_count` texts are refused (SQL_STORE_TOO_MANY).
  void set_limits(size_t max_text_bytes, size_t max_total_bytes, size_t max_count = kMaxStoredSqlHttp) {
    max_text_bytes_ = max_text_bytes;
    max_total_bytes_ = max_total_bytes;
    max_count_ = max_count;
  }
  size_t max_count() const { return max_count_; }
  std::optional<Error> Store(int32_t sql_id, std::string sql);
  void Close(int32_t sql_id);
  // The text stored under `sql_id`, or null.
  const std::string* Find(int32_t sql_id) const;
  size_t size() const { return sqls_.size(); }
  // Bytes of text stored now.
  size_t total_bytes() const { return total_bytes_; }

 private:
  std::unordered_map<int32_t, std::string> sqls_;
  size_t total_bytes_ = 0;
  size_t max_text_bytes_ = 0;
  size_t max_total_bytes_ = 0;
  size_t max_count_ = kMaxStoredSqlHttp;
};

// Replaces every sql_id in `request` (its stmt, its batch steps, its sequence/describe text) by the
// text `store` holds for it now, so that a later close_sql cannot change what the request runs.
// Ids `store` does not know are left for execution to report.
void InlineStoredSql(const SqlStore& store, StreamRequest* request);

class BatchCursor;

class Stream {
 public:
  // `sqls` is where this stream finds its stored SQL; it must outlive the stream.
  explicit Stream(SqlStore* sqls) : sqls_(sqls) {}
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Decides, by preparing the request's SQL on `conn` (the connection it will run on) without
  // running it, whether it needs the write lock. Anything that cannot be prepared yet (a table the
  // same batch creates) is kWrite. Inside a `BEGIN TRANSACTION READONLY` transaction everything is
  // kRead: the transaction never takes the lock, so a write in it fails (SQLITE_READONLY).
  Access Classify(const StreamRequest& request, engine::Connection& conn) const;

  // True when `request`, a write (Classify said kWrite), may share a transaction with other
  // streams' writes (group commit, engine::Database::GroupWrite): one autocommit statement that may
  // run inside a transaction (not transaction control, VACUUM or a pragma), from a stream whose
  // settings are the defaults. `conn` is the connection Classify prepared it on.
  bool CanJoinGroup(const StreamRequest& request, engine::Connection& conn) const;
  // The stream's own last_insert_rowid (what its next statement's connection is given). A group
  // commit's member whose write was rolled back after it ran (a deferred foreign key, a failed
  // COMMIT) puts back what it was before, as that write alone would have left it.
  int64_t last_insert_rowid() const { return last_insert_rowid_; }
  void set_last_insert_rowid(int64_t rowid) { last_insert_rowid_ = rowid; }

  // Executes one request on `conn` (null only for kNone requests). Errors come back in the result.
  StreamResult Handle(const StreamRequest& request, engine::Connection* conn);
  // Executes a batch, reporting each step to `sink` as it runs (the cursor's way). The caller checked
  // it with CheckBatch.
  void RunBatch(const Batch& batch, engine::Connection& conn, BatchSink& sink);

  // A request whose rows add up to more than this many bytes fails with RESPONSE_TOO_LARGE
  // (sqld's --max-response-size); 0 means no limit.
  void set_max_response_bytes(size_t bytes) { max_response_bytes_ = bytes; }
  size_t max_response_bytes() const { return max_response_bytes_; }
  // A read-only stream (a read-only token) classifies everything as a read, so it only ever gets
  // readers, and runs with the connection's guard in read-only mode: no write by any path.
  void set_read_only(bool read_only) { read_only_ = read_only; }
  bool read_only() const { return read_only_; }

 private:
  friend class BatchCursor;
  // One statement prepared, bound and started on a connection, stepped by its runner, then finished.
  struct RunningStmt {
    engine::Statement prepared;
    std::string_view sql;
    bool want_rows = true;
    int64_t changes_before = 0;
    uint64_t rows_returned = 0;
    std::chrono::steady_clock::time_point started;
    std::optional<std::pair<std::string, std::string>> setting;
  };
  // Prepares and binds `stmt` on `conn` and starts the query clock (ExecuteStmt's first half).
  std::optional<Error> StartStmt(const Stmt& stmt, engine::Connection& conn, RunningStmt* out);
  // The next row of `run` into *row (empty when want_rows is false): true for a row, false when done.
  Result<bool> StepStmt(RunningStmt& run, std::vector<Value>* row);
  // Once `run` is done: its counts; the stream keeps its rowid, setting and transaction state.
  StmtEnd FinishStmt(RunningStmt& run, engine::Connection& conn);

  // The SQL of a request: its text, or the text stored under its sql_id.
  std::optional<Error> ResolveSql(const std::optional<std::string>& sql, const std::optional<int32_t>& sql_id,
                                  std::string_view* out) const;
  std::optional<Error> ExecuteStmt(const Stmt& stmt, engine::Connection& conn, RowSink& sink);
  std::optional<Error> ExecuteSequence(std::string_view sql, engine::Connection& conn);
  std::optional<Error> Describe(std::string_view sql, engine::Connection& conn, DescribeResult* out);
  Access ClassifySql(std::string_view sql, engine::Connection& reader, bool single) const;

  // Counts the bytes of rows produced by the current request against max_response_bytes_.
  std::optional<Error> ChargeResponse(const std::vector<Value>& row);
  // Prepares `conn` for a request of this stream: resets the response budget, sets read-only mode,
  // replays the stream's settings.
  void BeginRequest(engine::Connection* conn);

  // Records the setting the statement just prepared on `conn` assigns, once it has run.
  void KeepSetting(std::optional<std::pair<std::string, std::string>> setting);

  SqlStore* sqls_;
  // The per-connection pragmas this stream set ({name, value}, in the order first set). The server
  // resets them when a connection changes hands, so each request replays them (BeginRequest).
  std::vector<std::pair<std::string, std::string>> settings_;
  // Notes a `BEGIN TRANSACTION READONLY` that just ran on `conn` (sql: its text), and the end of the
  // transaction it opened.
  void NoteTransaction(std::string_view sql, engine::Connection& conn);

  size_t max_response_bytes_ = 0;
  size_t response_bytes_ = 0;
  bool read_only_ = false;
  bool txn_read_only_ = false;  // a READONLY transaction is open on the stream's connection
  // The stream's own last_insert_rowid(), as on sqld where a stream is a connection: put back on
  // whichever pooled connection runs its next statement.
  int64_t last_insert_rowid_ = 0;
};

// A batch run a few rows at a time, for a cursor: each Run() goes on where the last one stopped,
// the statement in flight kept prepared on the connection between runs (so the caller keeps that
// connection for the stream meanwhile: engine::Session::Hold). The output is Stream::RunBatch's,
// given to the sink of each Run in order. Between runs the statement's query clock is paused: only
// the time it runs counts against the query timeout.
//
// Thread safety: as the Stream's. Run and Abandon, and the destructor while a statement is in
// flight, touch the connection: only on a thread that may use it, inside the stream's request.
class BatchCursor {
 public:
  // `batch` passed CheckBatch, and its stored SQL was inlined (InlineStoredSql) where the store is
  // owned: a step still naming an id fails SQL_NOT_FOUND when it is reached, and the store is never
  // read (a cursor's slices run on another thread than the one that changes it).
  BatchCursor(Stream& stream, Batch batch);
  BatchCursor(const BatchCursor&) = delete;
  BatchCursor& operator=(const BatchCursor&) = delete;

  // Runs on `conn` (the same connection every time) until `enough()`, asked after each entry given
  // to `sink`, says so, or the batch ends. True once it has ended.
  bool Run(engine::Connection& conn, BatchSink& sink, const std::function<bool()>& enough);
  // Ends the statement in flight, if any (reset, given back to its connection's cache), so that the
  // connection can go to another user; the batch counts as ended.
  void Abandon();
  bool done() const { return done_; }
  // True while a step's statement is started and not finished: paused between slices, it holds a
  // read snapshot.
  bool statement_running() const { return running_.has_value(); }
  // Called (on Run's thread) as each step's statement starts, before its first step: a snapshot
  // begins then.
  void set_on_statement_start(std::function<void()> f) { on_statement_start_ = std::move(f); }

 private:
  Stream& stream_;
  Batch batch_;
  std::vector<StepOutcome> outcomes_;
  uint32_t step_ = 0;                           // the step running or to run next
  std::optional<Stream::RunningStmt> running_;  // step_'s statement, between Begin and End
  std::function<void()> on_statement_start_;
  bool begun_ = false;
  bool done_ = false;
};

// The refusal of a batch none of whose steps may run: a condition that names its own step or a later
// one (sqld: "Invalid reference to step in a batch condition").
std::optional<Error> CheckBatch(const Batch& batch);

// The bytes a value counts for against the response limits: a text's or a blob's length, else 8.
size_t ValueBytes(const Value& value);
// The bytes of the rows `result` carries (an execute's, or a batch's steps'), counted by ValueBytes.
size_t ResultRowBytes(const StreamResult& result);

// Splits off leading whitespace and comments; returns the first keyword of `sql`, upper-cased.
std::string FirstKeyword(std::string_view sql);
// True when `sql` holds nothing but whitespace, comments and semicolons.
bool IsBlankSql(std::string_view sql);

}  // namespace litehouse::protocol
