#include "tools/import.h"

#include "tools/script.h"

namespace litehouse::tools {

Status Importer::Fail(const Status& status, const Queued* at) {
  std::string where = at ? "line " + std::to_string(at->line) + ": " : std::string();
  std::string undone = in_transaction_ ? " (its transaction, begun on line " + std::to_string(begin_line_) +
                                             ", was rolled back)"
                                       : "";
  Abort();
  return Status::WithCodeName(status.code(), status.code_name(), where + status.message() + undone);
}

void Importer::Abort() {
  if (failed_) return;
  failed_ = true;
  queue_.clear();
  // Whatever the script had open is undone; outside a transaction SQLite answers "no transaction is
  // active", which is fine to ignore.
  (void)session_->Execute(Statement("ROLLBACK"));
}

Status Importer::Add(std::string sql, size_t line) {
  if (failed_) return Status::Internal("the import has already failed");
  std::vector<std::string> statements;
  if (Status s = compat_.Rewrite(std::move(sql), &statements); !s.ok()) {
    // What the script ran before this line stays as it would have (sqlite3 -bail), then the failure
    // rolls back the script's transaction as any statement's would.
    if (Status f = Flush(); !f.ok()) return f;
    Queued at{std::string(), line};
    return Fail(s, &at);
  }
  for (auto& statement : statements) {
    if (Status s = Queue(std::move(statement), line); !s.ok()) return s;
  }
  return Status::OK();
}

Status Importer::Queue(std::string sql, size_t line) {
  queued_bytes_ += sql.size();
  // A per-connection pragma (PRAGMA foreign_keys=OFF before a dump's BEGIN) shares a request with
  // what follows it, so it holds even on a server that resets settings between a stream's requests
  // (ours replays them; see protocol/DESIGN.md): never end a batch right after one.
  bool pragma = FirstKeyword(sql) == "PRAGMA";
  queue_.push_back({std::move(sql), line});
  if (!pragma && (queue_.size() >= options_.max_batch_statements || queued_bytes_ >= options_.max_batch_bytes)) {
    return Flush();
  }
  return Status::OK();
}

Status Importer::Flush() {
  if (failed_) return Status::Internal("the import has already failed");
  if (queue_.empty()) return Status::OK();
  std::vector<Statement> statements;
  statements.reserve(queue_.size());
  for (const auto& q : queue_) statements.emplace_back(q.sql);
  SequenceResult result = session_->ExecuteInOrder(statements);
  // The statements that ran moved the script's transaction state as they went.
  for (size_t i = 0; i < result.results.size(); ++i) {
    switch (EffectOnTransaction(queue_[i].sql)) {
      case TransactionEffect::kOpens:
        if (!in_transaction_) begin_line_ = queue_[i].line;
        in_transaction_ = true;
        break;
      case TransactionEffect::kCloses: in_transaction_ = false; break;
      case TransactionEffect::kNone: break;
    }
    done_bytes_ += queue_[i].sql.size();
    if (options_.on_rows && !result.results[i].columns.empty()) options_.on_rows(result.results[i]);
  }
  done_statements_ += result.results.size();
  if (!result.status.ok()) {
    const Queued* at = result.failed_index ? &queue_[*result.failed_index] : nullptr;
    return Fail(result.status, at);
  }
  queue_.clear();
  queued_bytes_ = 0;
  if (options_.progress) options_.progress(done_statements_, done_bytes_);
  return Status::OK();
}

Status Importer::Finish() {
  if (Status s = Flush(); !s.ok()) return s;
  // The server says whether a transaction is still open: the keywords seen cannot (a SAVEPOINT opens
  // one too).
  auto open = session_->InTransaction();
  if (!open.ok()) return Fail(open.status(), nullptr);
  if (*open) {
    std::string since = in_transaction_ ? " (begun on line " + std::to_string(begin_line_) + ")" : "";
    in_transaction_ = false;
    return Fail(Status::WithCodeName(StatusCode::kInvalidArgument, "TRANSACTION_OPEN",
                                     "the script ended inside a transaction" + since +
                                         " without COMMIT; it was rolled back"),
                nullptr);
  }
  return Status::OK();
}

}  // namespace litehouse::tools
