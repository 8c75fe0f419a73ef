// Replica: a read replica's side of replication. It keeps its database a copy of the primary's, page
// for page, in whole transactions:
//
//   - a cold start (no database, or no position that names it) bootstraps before the engine opens the
//     file: every frame from the primary's log (or its snapshot, then the log) is written straight
//     into a new file, which then replaces the old one. The file is the primary's, byte for byte.
//   - then it tails: each committed transaction of the primary becomes one SQLite transaction on the
//     engine's writer connection, its pages written through `sqlite_dbpage` and the file cut to the
//     transaction's size, so the replica's readers only ever see states the primary committed.
//   - a new log_id (the primary started a new history, or another node was promoted) or an offset
//     compacted away is caught up from the primary's snapshot, as one transaction: readers see the
//     old state, then the new one.
//
// Every page equals the primary's, byte for byte, but for page 1's file change counter (bytes 24-27,
// and its copy at 92-95): SQLite writes it itself at each commit that touches page 1, from what the
// committing connection last read, so no two files written by different connections agree on it
// (WAL mode never reads it). Tests compare the files with those 8 bytes masked.
//
// Position file `replica-position` in the replica's directory, rewritten (new file, rename) after each
// applied batch, once the WAL holding the batch was synced (its last commit runs with
// synchronous=FULL), so the position never names a frame the file could lose:
//   litehouse-replica 1\n<log_id>\n<next frame_no>\n
//
// Threading: Prepare and Start from one thread; the tail runs on a thread of its own; state() and
// applied_frame_no() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "engine/database.h"
#include "replication/frame_log.h"

namespace litehouse::replication {

struct PrimaryHello {
  std::string log_id;
  std::optional<uint64_t> last_frame_no;  // nullopt: the primary's log holds no frame yet
};

// Where a replica reads the primary's log: the server's gRPC-web client of the primary implements it
// (server/primary_link.h); tests may feed frames from elsewhere. Called from the replica's thread.
class LogSource {
 public:
  virtual ~LogSource() = default;
  virtual Result<PrimaryHello> Hello() = 0;
  // Committed frames from `next`, whole transactions only; may wait a while for one when there is
  // none yet, and return none. An offset the primary compacted away: NotFound("NEED_SNAPSHOT").
  virtual Status Frames(uint64_t next, std::vector<LogFrame>* out) = 0;
  // The primary's snapshot frames with frame_no >= next (one page each, the last carrying the size).
  virtual Status Snapshot(uint64_t next, std::vector<LogFrame>* out) = 0;
  // Makes a call in progress, and every later one until Resume, return promptly (Cancelled).
  virtual void Cancel() = 0;
  virtual void Resume() = 0;
};

struct ReplicaOptions {
  std::string db_path;  // the database file the engine serves
  std::string dir;      // holds replica-position
  std::string primary;  // the primary's URL, for status and messages
  // Backoff between attempts after the primary could not be reached.
  std::chrono::milliseconds retry_min{50};
  std::chrono::milliseconds retry_max{2000};
  const Clock* clock = nullptr;  // null: Clock::Steady()
};

// What a replica knows of itself and its primary (the status endpoint).
struct ReplicaState {
  std::string log_id;                        // the history it follows
  std::optional<uint64_t> applied_frame_no;  // the last frame applied; nullopt: none yet
  std::optional<uint64_t> primary_frame_no;  // the primary's last frame, as last heard
  bool connected = false;                    // the last call to the primary succeeded
  std::string last_error;                    // why the last call failed, if it did
  // Since when the replica has been behind the primary (frames known and not applied); nullopt: up
  // to date.
  std::optional<Clock::time_point> behind_since;
  uint64_t transactions_applied = 0;
  uint64_t snapshots_applied = 0;
};

class Replica {
 public:
  // Before the engine opens the database: makes sure db_path holds a copy of the primary's database
  // to serve. With a position file and a database, nothing is fetched (the tail catches up later);
  // otherwise it bootstraps from `source`, retrying while the primary cannot be reached, until
  // `give_up` says so (then Unavailable). `source` must outlive the Replica.
  static Result<std::unique_ptr<Replica>> Prepare(ReplicaOptions options, LogSource* source,
                                                  std::function<bool()> give_up);
  // Says that the database in `dir`'s db_path, put there another way (restored from the backup at a
  // known position), holds exactly the frames 0..next_frame_no-1 of `log_id`: the next Prepare
  // resumes from there instead of bootstrapping. If the primary no longer has that history or those
  // frames, the tail catches up from its snapshot, as after any new log_id.
  static Status SeedPosition(const std::string& dir, const std::string& log_id, uint64_t next_frame_no);
  ~Replica();
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  // Starts tailing into `db` (the engine serving db_path), on a thread of its own. `on_applied` is
  // called there after each applied batch (or snapshot) with the last frame_no applied.
  void Start(engine::Database* db, std::function<void(uint64_t)> on_applied);
  // Stops the tail (cancels the call in progress) and waits for its thread. Start may follow again.
  void Stop();

  std::optional<uint64_t> applied_frame_no() const;
  // Counts the histories this replica has followed since it started: an index the primary gave in
  // one history means nothing in the next (a wait for it would never end).
  uint64_t history() const { return history_.load(); }
  ReplicaState state() const;
  const std::string& primary() const { return options_.primary; }

 private:
  explicit Replica(ReplicaOptions options, LogSource* source);
  Status LoadPosition(bool* found);
  Status SavePosition();
  // Writes every frame of the primary up to its last one into a new file and puts it in place of
  // db_path (the engine is not open yet).
  Status Bootstrap();
  void Run();
  // One round of the tail: Hello if needed, then frames (or a snapshot) applied.
  Status Step();
  // Applies whole transactions of `frames` on the engine's writer connection, each as one SQLite
  // transaction (`as_one`: all of them as one: a snapshot, or the first batch after a start).
  Status Apply(const std::vector<LogFrame>& frames, bool as_one, bool snapshot);
  void NoteError(const Status& s);

  const ReplicaOptions options_;
  const Clock& clock_;
  LogSource* source_;
  engine::Database* db_ = nullptr;
  std::function<void(uint64_t)> on_applied_;
  std::thread thread_;
  // Set under stop_mu_ (read anywhere), so that Stop's signal cannot fall between Run's look at it
  // and its wait.
  std::atomic<bool> stopping_{false};
  Mutex stop_mu_;
  CondVar stop_cv_;
  bool hello_done_ = false;
  // The first batch after resuming from a position is applied as one transaction: the file may hold
  // it already (the process stopped between its commit and the position's update), and applying it
  // again one transaction at a time would show readers pages of different transactions side by side.
  bool replaying_ = false;
  std::atomic<uint64_t> history_{0};

  mutable Mutex mu_;
  std::string log_id_ GUARDED_BY(mu_);
  uint64_t next_frame_no_ GUARDED_BY(mu_) = 0;  // the first frame not applied
  ReplicaState state_ GUARDED_BY(mu_);          // log_id/applied_frame_no filled in by state()
};

}  // namespace litehouse::replication
