// Importer: replays an SQL script (a dump, a schema, a seed file) on a Session, fast and safely.
//
//   - Fast: statements go in batches (one round trip per ~1000 statements or 4 MiB of SQL), each batch
//     a Hrana batch whose steps run only while the one before succeeded.
//   - The script's own transactions are kept: BEGIN and COMMIT travel as statements, in order, on the
//     one stream the Session holds.
//   - Safe: the first failure stops the import; its error names the line the statement starts on;
//     a transaction the script had open is rolled back, so nothing of it is left half applied. A script
//     that ends inside a transaction is an error too, and rolled back.
//   - Dumps load through the guarded SQL surface: see dump_compat.h.
// Statements that return rows (a SELECT in a script) hand them to the caller's `on_rows`.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "litehouse/client.h"
#include "tools/dump_compat.h"

namespace litehouse::tools {

struct ImportOptions {
  size_t max_batch_statements = 1000;
  size_t max_batch_bytes = 4 << 20;
  // After each batch: statements and bytes of SQL done so far.
  std::function<void(size_t statements, size_t bytes)> progress;
  // Each result that has columns, in script order.
  std::function<void(const ResultSet&)> on_rows;
};

class Importer {
 public:
  Importer(Session* session, ImportOptions options) : session_(session), options_(std::move(options)) {}

  // Queues one statement starting on `line`; runs a batch when enough is queued.
  Status Add(std::string sql, size_t line);
  // Runs everything queued (before a dot-command, say, or at the end).
  Status Flush();
  // End of the script: flushes, and fails (rolling back) if a transaction is still open.
  Status Finish();
  // Gives up (the caller failed elsewhere, say in a dot-command): drops what is queued and rolls back
  // what the script has open. Later calls fail.
  void Abort();
  size_t statements() const { return done_statements_; }

 private:
  struct Queued {
    std::string sql;
    size_t line;
  };
  Status Fail(const Status& status, const Queued* at);
  // Queues one statement to send; runs a batch when enough is queued.
  Status Queue(std::string sql, size_t line);

  Session* session_;
  ImportOptions options_;
  DumpCompat compat_;
  std::vector<Queued> queue_;
  size_t queued_bytes_ = 0;
  size_t done_statements_ = 0, done_bytes_ = 0;
  bool in_transaction_ = false;  // the script's BEGIN seen, its COMMIT not yet (for messages; the
                                 // server's get_autocommit decides at the end)
  size_t begin_line_ = 0;
  bool failed_ = false;
};

}  // namespace litehouse::tools
