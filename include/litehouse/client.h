// The Litehouse client library: one small API over a local database file, an in-memory database and
// a remote libSQL server (Litehouse or sqld) over Hrana, chosen by URL, as @libsql/client does.
//
//   auto client = litehouse::Client::Open({"file:app.db"});          // or ":memory:",
//   //   "http://127.0.0.1:8080", "ws://...", "libsql://db.example.com", with .auth_token for a server
//   auto rs = (*client)->Execute({"SELECT id, title FROM tasks WHERE done = ?", {int64_t{0}}});
//   for (const auto& row : rs->rows) use(row[0], *row.Get("title"));
//
// Errors are Status values (litehouse/status.h): code_name() is the protocol's error code as a
// server reports it ("SQLITE_CONSTRAINT", "SQL_PARSE_ERROR", ...), the same for every backend, and
// message() says what happened. No exception leaves the library.
//
// Thread safety: a Client, and a Transaction, is used by one thread at a time; distinct Clients
// are independent. On a local database every Client has its own SQLite connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "litehouse/status.h"
#include "litehouse/value.h"

namespace litehouse {

struct Column {
  std::string name;
  std::optional<std::string> decl_type;  // the declared type, or nullopt for an expression
};

// One row: values by index, or by column name.
class Row {
 public:
  Row(std::shared_ptr<const std::vector<Column>> columns, std::vector<Value> values)
      : columns_(std::move(columns)), values_(std::move(values)) {}
  size_t size() const { return values_.size(); }
  const Value& operator[](size_t i) const { return values_.at(i); }
  // The value of the first column named `name`, or null if the row has no such column.
  const Value* Get(std::string_view name) const;
  const std::vector<Value>& values() const { return values_; }

 private:
  std::shared_ptr<const std::vector<Column>> columns_;
  std::vector<Value> values_;
};

struct ResultSet {
  std::vector<Column> columns;
  std::vector<Row> rows;
  uint64_t rows_affected = 0;                // for INSERT, UPDATE, DELETE
  std::optional<int64_t> last_insert_rowid;  // when the statement inserted
};

// SQL with positional (`?`, `?NNN`) or named (`:a`, `@a`, `$a`) arguments; not both.
struct Statement {
  Statement(std::string text) : sql(std::move(text)) {}  // NOLINT: a bare string is a statement
  Statement(const char* text) : sql(text) {}             // NOLINT
  Statement(std::string text, std::vector<Value> positional) : sql(std::move(text)), args(std::move(positional)) {}
  static Statement Named(std::string text, std::vector<std::pair<std::string, Value>> named) {
    Statement s(std::move(text));
    s.named_args = std::move(named);
    return s;
  }
  std::string sql;
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> named_args;  // names with or without their prefix
};

// What a batch or transaction opens with: BEGIN IMMEDIATE, BEGIN TRANSACTION READONLY, BEGIN DEFERRED.
enum class TransactionMode { kWrite, kRead, kDeferred };

struct ClientOptions {
  // "file:PATH" or a plain path; ":memory:"; "http://", "https://", "ws://", "wss://";
  // "libsql://host" (HTTPS, or HTTP with ?tls=0). TLS verifies the server's certificate against the
  // system's trusted CAs (SSL_CERT_FILE / SSL_CERT_DIR are honoured).
  std::string url;
  std::string auth_token;  // sent as "Authorization: Bearer <token>" to a server
  // A local database is opened as a reader: the file is never written or switched to WAL, and writes
  // are refused. (For a server, use a read-only token.)
  bool read_only = false;
  // How long one network operation (connect, TLS handshake, send, or wait for a response or the next
  // piece of one) may take before the call fails with a timeout: a server that stops answering never
  // blocks the caller for longer. 0: no limit. Longer than a server's query timeout (sqld's and ours:
  // 60 s) by default, so a slow statement is the server's to cut short.
  std::chrono::milliseconds timeout{300'000};
};

// An interactive transaction: its statements run on one stream, in order, invisible to others until
// Commit. Destroying it unfinished rolls it back.
class Transaction {
 public:
  virtual ~Transaction() = default;
  virtual Result<ResultSet> Execute(const Statement& statement) = 0;
  virtual Status Commit() = 0;
  virtual Status Rollback() = 0;
};

// What Session::ExecuteInOrder returns: the statements that ran, and the first failure if any.
struct SequenceResult {
  std::vector<ResultSet> results;     // one per statement that succeeded, in order
  Status status;                      // OK, or why the sequence stopped
  std::optional<size_t> failed_index;  // the statement that failed (results.size()); nullopt when
                                       // the request itself failed and what ran is unknown
};

// Statements on one stream (on a server, one connection), in autocommit until the SQL itself says
// BEGIN: a shell's session, or an importer replaying a script with its own transactions. Destroying
// a Session closes its stream, which rolls back a transaction left open.
class Session {
 public:
  virtual ~Session() = default;
  virtual Result<ResultSet> Execute(const Statement& statement) = 0;
  // Runs `statements` in order in one round trip, stopping at the first that fails; no transaction
  // is added around them.
  virtual SequenceResult ExecuteInOrder(const std::vector<Statement>& statements) = 0;
  // Whether a transaction is open on the session now (Hrana's get_autocommit, inverted).
  virtual Result<bool> InTransaction() = 0;
};

class Client {
 public:
  // Opens the database `options.url` names. A remote URL is not contacted until the first request.
  static Result<std::unique_ptr<Client>> Open(const ClientOptions& options);
  // From the environment, as the seed application does: LIBSQL_URL, else TURSO_DATABASE_URL, with
  // TURSO_AUTH_TOKEN; `fallback_path` (a local file) when neither URL is set.
  static Result<std::unique_ptr<Client>> OpenFromEnv(const std::string& fallback_path);

  virtual ~Client() = default;

  // One statement, in autocommit.
  virtual Result<ResultSet> Execute(const Statement& statement) = 0;
  // Every statement in one transaction opened in `mode`: all apply, or none (the first error is
  // returned and everything is rolled back).
  virtual Result<std::vector<ResultSet>> Batch(const std::vector<Statement>& statements,
                                               TransactionMode mode = TransactionMode::kDeferred) = 0;
  virtual Result<std::unique_ptr<Transaction>> BeginTransaction(TransactionMode mode = TransactionMode::kWrite) = 0;
  // A script of statements without arguments, run in order until the first error.
  virtual Status ExecuteMultiple(std::string_view sql) = 0;
  virtual Result<std::unique_ptr<Session>> OpenSession() = 0;
  // The whole database as SQL text in the format of the sqlite3 shell's .dump, one consistent
  // snapshot, handed to `sink` piece by piece (a server streams it from GET /dump). A sink that
  // fails stops the dump and its Status is returned.
  virtual Status Dump(const std::function<Status(std::string_view)>& sink) = 0;
};

}  // namespace litehouse
