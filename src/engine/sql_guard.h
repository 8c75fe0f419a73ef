// SqlGuard: the SQL surface a client gets on one connection, enforced inside SQLite.
//
//   - an authorizer that refuses what could reach outside the database file or change the engine's
//     configuration (ATTACH of a file, VACUUM INTO, sqlite_dbpage, temporary schema objects on shared
//     connections, setting any pragma but the per-statement ones, wal_checkpoint) and, in read-only
//     mode, every kind of write;
//   - a query clock: a progress handler interrupts a statement that runs past the query timeout;
//   - SQLite's own limits on the length of SQL text and of values;
//   - SQLITE_DBCONFIG_DEFENSIVE: shadow tables of virtual tables (FTS5, R*Tree) are read-only to
//     statements, whatever the access (SQLITE_ERROR "table f_data may not be modified").
// A refusal is SQLITE_AUTH (or SQLITE_INTERRUPT for the clock) with a reason DenialReason() names.
//
// Thread safety: as its connection, one thread at a time.
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace litehouse::engine {

struct GuardOptions {
  int max_sql_length_bytes = 16 << 20;            // SQLITE_LIMIT_SQL_LENGTH
  // SQLITE_LIMIT_LENGTH, the longest string, blob or row; 0 keeps SQLite's. The server sets its
  // response limit here, so a value no response could carry is refused (SQLITE_TOOBIG) as it is
  // built, not after it was built and copied: SELECT zeroblob(900000000) costs nothing.
  int max_value_length_bytes = 0;
  std::chrono::milliseconds query_timeout{0};      // 0: no limit
};

class SqlGuard {
 public:
  SqlGuard() = default;
  SqlGuard(const SqlGuard&) = delete;
  SqlGuard& operator=(const SqlGuard&) = delete;

  // Installs the authorizer, the progress handler, the limits and DEFENSIVE on `db`. `this` must
  // outlive `db`.
  void Install(sqlite3* db, const GuardOptions& options);

  // Starts the query clock for the statement about to run (no-op without a timeout).
  void StartQuery();
  // No deadline until the next StartQuery: for the server's own long reads (a dump, streamed at the
  // pace of its reader), which the client-facing clock must not interrupt.
  void StopClock() { deadline_ = std::chrono::steady_clock::time_point::max(); }
  // Stops the query clock with the time left kept, until ResumeClock: a cursor's statement paused
  // between slices while its client reads counts only the time it runs against the timeout.
  void PauseClock() {
    if (deadline_ == std::chrono::steady_clock::time_point::max()) return;
    paused_left_ = std::max(deadline_ - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration::zero());
    deadline_ = std::chrono::steady_clock::time_point::max();
  }
  void ResumeClock() {
    if (!paused_left_) return;
    deadline_ = std::chrono::steady_clock::now() + *paused_left_;
    paused_left_.reset();
  }
  // Until EndBudget, a statement still running at `deadline` is interrupted (SQLITE_INTERRUPT) and
  // over_budget() turns true: the server runs short requests on its network thread, and one that
  // turns out long is interrupted there and run again on the SQL pool. Only for statements whose
  // interruption undoes them (a read, an autocommit write).
  void StartBudget(std::chrono::steady_clock::time_point deadline) {
    budget_deadline_ = deadline;
    over_budget_ = false;
  }
  void EndBudget() { budget_deadline_ = std::chrono::steady_clock::time_point::max(); }
  bool over_budget() const { return over_budget_; }
  // In read-only mode every write is refused by the authorizer (the connection's query_only does the
  // same inside the VM; this names the reason at prepare time).
  void set_read_only(bool read_only) { read_only_ = read_only; }
  bool read_only() const { return read_only_; }
  // While set, the authorizer allows everything: only for the engine's own statements on this
  // connection (Connection::SetQueryOnly), never while a client's statement is prepared.
  void set_engine_statement(bool on) { engine_statement_ = on; }

  // True once a statement set a per-connection pragma since the last call; clears it.
  bool TakeSettingsChanged();
  // The per-connection pragma the statement prepared last assigns, as {name, value} (lower-case
  // name), or nullopt; clears it. A stream keeps these to replay them on the next connection it is
  // given, so its settings last as long as it does (as on sqld, where a stream is a connection).
  std::optional<std::pair<std::string, std::string>> TakeSetting();
  // True when the statement prepared last assigns a per-connection pragma (before TakeSetting).
  bool HasPendingSetting() const { return setting_.has_value(); }
  // The reason of the last refusal ("" if none), cleared by the next StartQuery.
  const std::string& DenialReason() const { return denial_; }

  // The pragmas a client may set, and the script restoring their defaults.
  static bool IsSettablePragma(const char* name);
  static const char* ResetSettingsSql();

 private:
  static int Authorize(void* self, int action, const char* arg1, const char* arg2, const char* db_name,
                       const char* trigger);
  static int Progress(void* self);
  int Deny(std::string reason);
  bool InVacuum() const;

  sqlite3* db_ = nullptr;
  bool read_only_ = false;
  bool engine_statement_ = false;
  bool settings_changed_ = false;
  std::optional<std::pair<std::string, std::string>> setting_;
  std::string denial_;
  std::chrono::milliseconds query_timeout_{0};
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  std::optional<std::chrono::steady_clock::duration> paused_left_;  // PauseClock's time left
  std::chrono::steady_clock::time_point budget_deadline_ = std::chrono::steady_clock::time_point::max();
  bool over_budget_ = false;
};

}  // namespace litehouse::engine
