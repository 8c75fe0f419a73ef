// litehouse::Client over a Backend: every operation is a list of Hrana stream requests sent on a
// channel, so local and remote databases share one implementation of batches and transactions
// (the same steps and conditions @libsql/client sends).
#include "litehouse/client.h"

#include <cmath>
#include <cstdlib>

#include "client/channel.h"
#include "protocol/hrana.h"

namespace litehouse {
namespace {

using protocol::BatchCond;
using protocol::StreamRequest;
using protocol::StreamResult;

const char* BeginSql(TransactionMode mode) {
  switch (mode) {
    case TransactionMode::kWrite: return "BEGIN IMMEDIATE";
    case TransactionMode::kRead: return "BEGIN TRANSACTION READONLY";
    case TransactionMode::kDeferred: return "BEGIN DEFERRED";
  }
  return "BEGIN";
}

// SQLite binds a NaN as NULL; sending NULL keeps every backend the same (JSON has no NaN).
Value Normalize(const Value& v) {
  if (const double* d = std::get_if<double>(&v); d && std::isnan(*d)) return std::monostate{};
  return v;
}

protocol::Stmt ToStmt(const Statement& s, bool want_rows = true) {
  protocol::Stmt stmt;
  stmt.sql = s.sql;
  for (const auto& v : s.args) stmt.args.push_back(Normalize(v));
  for (const auto& [name, value] : s.named_args) stmt.named_args.push_back({name, Normalize(value)});
  stmt.want_rows = want_rows;
  return stmt;
}

StreamRequest ExecuteRequest(const Statement& s) {
  StreamRequest r;
  r.type = StreamRequest::Type::kExecute;
  r.stmt = ToStmt(s);
  return r;
}

Status ToStatus(const protocol::Error& e) {
  StatusCode code = e.code.rfind("SQLITE_", 0) == 0 ? StatusCode::kSqlite : StatusCode::kInvalidArgument;
  return Status::WithCodeName(code, e.code, e.message);
}

ResultSet ToResultSet(protocol::StmtResult&& r) {
  ResultSet out;
  for (auto& c : r.cols) out.columns.push_back(Column{c.name.value_or(""), std::move(c.decltype_)});
  auto columns = std::make_shared<const std::vector<Column>>(out.columns);
  out.rows.reserve(r.rows.size());
  for (auto& row : r.rows) out.rows.emplace_back(columns, std::move(row));
  out.rows_affected = r.affected_row_count;
  out.last_insert_rowid = r.last_insert_rowid;
  return out;
}

// Sends one request on `channel`: its response, or why there is none (the transport's failure or
// the request's own error).
Result<protocol::StreamResponse> SendOne(client::Channel& channel, StreamRequest request, bool close) {
  std::vector<StreamRequest> requests;
  requests.push_back(std::move(request));
  auto results = channel.Send(std::move(requests), close);
  if (!results.ok()) return results.status();
  StreamResult& r = results->at(0);
  if (!r.ok) return ToStatus(r.error);
  return std::move(r.response);
}

Result<ResultSet> ExecuteOn(client::Channel& channel, const Statement& s, bool close) {
  auto response = SendOne(channel, ExecuteRequest(s), close);
  if (!response.ok()) return response.status();
  return ToResultSet(std::move(response->stmt_result));
}

class TransactionImpl : public Transaction {
 public:
  explicit TransactionImpl(std::unique_ptr<client::Channel> channel) : channel_(std::move(channel)) {}
  ~TransactionImpl() override {
    if (open_) (void)Rollback();
  }

  Result<ResultSet> Execute(const Statement& statement) override {
    if (!open_) return Status::WithCodeName(StatusCode::kInvalidArgument, "TRANSACTION_CLOSED", "The transaction is closed");
    return ExecuteOn(*channel_, statement, false);
  }
  Status Commit() override { return Finish("COMMIT"); }
  Status Rollback() override { return Finish("ROLLBACK"); }

 private:
  Status Finish(const char* sql) {
    if (!open_) return Status::WithCodeName(StatusCode::kInvalidArgument, "TRANSACTION_CLOSED", "The transaction is closed");
    open_ = false;
    auto r = ExecuteOn(*channel_, Statement(sql), true);
    return r.ok() ? Status::OK() : r.status();
  }

  std::unique_ptr<client::Channel> channel_;
  bool open_ = true;
};

class SessionImpl : public Session {
 public:
  explicit SessionImpl(std::unique_ptr<client::Channel> channel) : channel_(std::move(channel)) {}
  ~SessionImpl() override { (void)channel_->Send({}, true); }

  Result<ResultSet> Execute(const Statement& statement) override { return ExecuteOn(*channel_, statement, false); }

  // One Hrana batch without BEGIN/COMMIT: each step runs if the one before succeeded.
  SequenceResult ExecuteInOrder(const std::vector<Statement>& statements) override {
    SequenceResult out;
    if (statements.empty()) return out;
    StreamRequest req;
    req.type = StreamRequest::Type::kBatch;
    for (const auto& s : statements) {
      std::optional<BatchCond> cond;
      if (!req.batch.steps.empty()) {
        cond = BatchCond{BatchCond::Kind::kOk, static_cast<uint32_t>(req.batch.steps.size() - 1), {}};
      }
      req.batch.steps.push_back({cond, ToStmt(s)});
    }
    auto response = SendOne(*channel_, std::move(req), false);
    if (!response.ok()) {
      out.status = response.status();
      return out;
    }
    auto& br = response->batch_result;
    for (size_t i = 0; i < statements.size(); ++i) {
      if (i < br.step_errors.size() && br.step_errors[i]) {
        out.status = ToStatus(*br.step_errors[i]);
        out.failed_index = i;
        return out;
      }
      if (i >= br.step_results.size() || !br.step_results[i]) {
        out.status = Status::Internal("the server skipped statement " + std::to_string(i + 1) + " of a batch");
        out.failed_index = i;
        return out;
      }
      out.results.push_back(ToResultSet(std::move(*br.step_results[i])));
    }
    return out;
  }

  Result<bool> InTransaction() override {
    StreamRequest req;
    req.type = StreamRequest::Type::kGetAutocommit;
    auto response = SendOne(*channel_, std::move(req), false);
    if (!response.ok()) return response.status();
    return !response->is_autocommit;
  }

 private:
  std::unique_ptr<client::Channel> channel_;
};

class ClientImpl : public Client {
 public:
  // `dump_backend` serves Dump when `backend` cannot (WebSocket: the dump is an HTTP GET).
  explicit ClientImpl(std::unique_ptr<client::Backend> backend, std::unique_ptr<client::Backend> dump_backend = nullptr)
      : backend_(std::move(backend)), dump_backend_(std::move(dump_backend)) {}

  Result<std::unique_ptr<Session>> OpenSession() override {
    auto channel = backend_->OpenChannel();
    if (!channel.ok()) return channel.status();
    return std::unique_ptr<Session>(new SessionImpl(std::move(channel).value()));
  }

  Status Dump(const std::function<Status(std::string_view)>& sink) override {
    return (dump_backend_ ? dump_backend_ : backend_)->Dump(sink);
  }

  Result<ResultSet> Execute(const Statement& statement) override {
    auto channel = backend_->OpenChannel();
    if (!channel.ok()) return channel.status();
    return ExecuteOn(**channel, statement, true);
  }

  // The steps @libsql/client sends: BEGIN; each statement if the one before succeeded; COMMIT if
  // the last did; ROLLBACK unless COMMIT succeeded.
  Result<std::vector<ResultSet>> Batch(const std::vector<Statement>& statements, TransactionMode mode) override {
    StreamRequest req;
    req.type = StreamRequest::Type::kBatch;
    auto& steps = req.batch.steps;
    steps.push_back({std::nullopt, ToStmt(Statement(BeginSql(mode)), false)});
    for (const auto& s : statements) {
      steps.push_back({BatchCond{BatchCond::Kind::kOk, static_cast<uint32_t>(steps.size() - 1), {}}, ToStmt(s)});
    }
    auto commit = static_cast<uint32_t>(steps.size());
    steps.push_back({BatchCond{BatchCond::Kind::kOk, commit - 1, {}}, ToStmt(Statement("COMMIT"), false)});
    steps.push_back({BatchCond{BatchCond::Kind::kNot, 0, {BatchCond{BatchCond::Kind::kOk, commit, {}}}},
                     ToStmt(Statement("ROLLBACK"), false)});
    const size_t step_count = steps.size();
    auto channel = backend_->OpenChannel();
    if (!channel.ok()) return channel.status();
    auto response = SendOne(**channel, std::move(req), true);
    if (!response.ok()) return response.status();
    auto& br = response->batch_result;
    for (const auto& e : br.step_errors) {
      if (e) return ToStatus(*e);
    }
    if (br.step_results.size() != step_count || !br.step_results[commit]) {
      return Status::WithCodeName(StatusCode::kInternal, "TRANSACTION_CLOSED", "The batch did not commit");
    }
    std::vector<ResultSet> out;
    for (size_t i = 1; i < commit; ++i) out.push_back(ToResultSet(std::move(*br.step_results[i])));
    return out;
  }

  Result<std::unique_ptr<Transaction>> BeginTransaction(TransactionMode mode) override {
    auto channel = backend_->OpenChannel();
    if (!channel.ok()) return channel.status();
    auto begun = ExecuteOn(**channel, Statement(BeginSql(mode)), false);
    if (!begun.ok()) return begun.status();
    return std::unique_ptr<Transaction>(new TransactionImpl(std::move(channel).value()));
  }

  Status ExecuteMultiple(std::string_view sql) override {
    auto channel = backend_->OpenChannel();
    if (!channel.ok()) return channel.status();
    StreamRequest req;
    req.type = StreamRequest::Type::kSequence;
    req.sql = std::string(sql);
    auto response = SendOne(**channel, std::move(req), true);
    return response.ok() ? Status::OK() : response.status();
  }

 private:
  std::unique_ptr<client::Backend> backend_;
  std::unique_ptr<client::Backend> dump_backend_;
};

// "scheme://host[:port][/...][?query]" -> host, port, query. False if malformed.
bool SplitUrl(std::string_view rest, std::string* host, std::string* port, std::string* query) {
  size_t q = rest.find('?');
  if (q != std::string_view::npos) {
    *query = std::string(rest.substr(q + 1));
    rest = rest.substr(0, q);
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (authority.empty()) return false;
  size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    *host = std::string(authority.substr(0, colon));
    *port = std::string(authority.substr(colon + 1));
  } else {
    *host = std::string(authority);
  }
  return !host->empty();
}

}  // namespace

const Value* Row::Get(std::string_view name) const {
  for (size_t i = 0; i < columns_->size() && i < values_.size(); ++i) {
    if ((*columns_)[i].name == name) return &values_[i];
  }
  return nullptr;
}

Result<std::unique_ptr<Client>> Client::Open(const ClientOptions& options) {
  std::string_view url = options.url;
  auto make = [](Result<std::unique_ptr<client::Backend>> backend) -> Result<std::unique_ptr<Client>> {
    if (!backend.ok()) return backend.status();
    return std::unique_ptr<Client>(new ClientImpl(std::move(backend).value()));
  };
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    std::string path(url.rfind("file:", 0) == 0 ? url.substr(5) : url);
    if (path.empty()) return Status::InvalidArgument("empty database URL");
    return make(client::OpenLocalBackend(path, options.read_only));
  }
  std::string_view scheme = url.substr(0, scheme_end);
  std::string host, port, query;
  if (!SplitUrl(url.substr(scheme_end + 3), &host, &port, &query)) {
    return Status::InvalidArgument("malformed URL '" + options.url + "'");
  }
  bool tls = scheme == "https" || scheme == "wss" || (scheme == "libsql" && query.find("tls=0") == std::string::npos);
  if (scheme != "http" && scheme != "https" && scheme != "libsql" && scheme != "ws" && scheme != "wss") {
    return Status::InvalidArgument("unsupported URL scheme '" + std::string(scheme) + "'");
  }
  if (port.empty()) port = tls ? "443" : "80";
  client::RemoteOptions remote{host, port, options.auth_token, tls, options.timeout};
  if (scheme == "ws" || scheme == "wss") {
    auto ws = client::OpenWsBackend(remote);
    if (!ws.ok()) return ws.status();
    auto http = client::OpenHttpBackend(remote);
    if (!http.ok()) return http.status();
    return std::unique_ptr<Client>(new ClientImpl(std::move(ws).value(), std::move(http).value()));
  }
  return make(client::OpenHttpBackend(remote));
}

Result<std::unique_ptr<Client>> Client::OpenFromEnv(const std::string& fallback_path) {
  ClientOptions options;
  const char* url = std::getenv("LIBSQL_URL");
  if (!url || !*url) url = std::getenv("TURSO_DATABASE_URL");
  options.url = url && *url ? url : fallback_path;
  if (const char* token = std::getenv("TURSO_AUTH_TOKEN")) options.auth_token = token;
  return Open(options);
}

}  // namespace litehouse
