// Backup: continuous backup in Litestream 0.3's layout, fed by the WAL capture (replication's
// WalCapture: one capture feeds the replication log and the backup).
//
// Layout (Litestream 0.3.x; keys under the replica's root):
//   generations/<GEN>/snapshots/<IDX>.snapshot.lz4   the database file, whole, LZ4-framed
//   generations/<GEN>/wal/<IDX>_<OFF>.wal.lz4         WAL bytes of index IDX from byte OFF, LZ4-framed
// GEN: 16 lowercase hex digits, random. IDX: the WAL's index in the generation, %08x, one more each
// time SQLite restarts the WAL (after a checkpoint copied everything). OFF: %08x, the byte offset in
// that index's WAL; the segment at 0 begins with the WAL's 32-byte header, and each next segment
// begins where the one before ended. A segment holds whole transactions (it ends on a commit frame).
// A file's time (mtime, an object's LastModified) is its last commit's: point-in-time restore reads it.
//
// How: at Start the database file holds every page (its WAL was emptied), so it is the generation's
// snapshot 0. Each commit's captured bytes are appended in memory, under the write lock, to the
// pending segment of the current index (a WAL restart closes it and opens index+1 with the new
// header). Sync() (every --backup-interval, on the shipper's thread) compresses and uploads the
// pending segments in order; a failed upload is retried at the next tick, nothing is dropped. Stop
// uploads what is left. A start is always a new generation (as Litestream 0.3 after a restart).
//
// Later snapshots (every snapshot_interval; without one, every retention period, as Litestream does)
// are taken where a WAL index begins: the engine checkpoints the whole WAL (RESTART) under the write
// lock, so the next commit starts index+1, and reads the file's pages in a read transaction begun
// before that commit. That image is snapshot index+1: a restore applies index+1's segments from
// offset 0 over it. It is queued behind the segments of the indexes before it, so it is never
// uploaded ahead of them. No snapshot is taken when nothing was committed since the last one.
//
// Retention (after each snapshot is uploaded, Litestream 0.3's rule): the snapshots kept are those
// created within `retention`, and in the current generation at least its latest; a generation with
// none is deleted whole; in the others, snapshots and segments of indexes below the oldest snapshot
// kept are deleted. A point-in-time restore therefore reaches back `retention`, at least.
//
// Position (position.h): given the replication log's position (options.log_position, read at each
// commit: the log is a sink before this one), the backup keeps, beside each generation, which state
// of it is which frame of the log, so that a read replica can boot from the backup and tail the
// primary from there. Rewritten after an upload at most every kPositionEvery, after each snapshot,
// and at Stop.
//
// Thread safety: OnTransaction runs under the engine's write lock; Sync, status and Stop may be
// called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backup/position.h"
#include "backup/replica_client.h"
#include "common/status.h"
#include "engine/database.h"
#include "replication/wal_capture.h"

namespace litehouse::backup {

// Where a backup stands, for GET /backup/status.
struct BackupReport {
  std::string url;
  std::string generation;
  Status status;                   // the last upload's failure, or the capture lost: sticky
  uint64_t pending_transactions = 0;  // committed, not yet shipped
  uint64_t pending_bytes = 0;
  std::optional<WallClock::time_point> oldest_pending;  // the first unshipped commit's time
  std::optional<WallClock::time_point> last_shipped;    // the last successful upload's time
  uint64_t transactions_shipped = 0;
  uint64_t snapshots = 0;          // taken and uploaded by this process
  uint64_t generations_started = 0;  // by this process: 1, and one more after each overflow
};

struct BackupOptions {
  // The database: its file is read whole for snapshot 0 (Database::ReadFile), later snapshots with
  // Database::ReadImageAtWalRestart. Required.
  engine::Database* db = nullptr;
  std::chrono::milliseconds interval{1000};  // how often pending segments are shipped
  std::chrono::milliseconds snapshot_interval{0};  // 0: every `retention`
  std::chrono::milliseconds retention{std::chrono::hours(24)};  // 0: keep everything
  // The time commits, snapshots and retention are stamped with; null: the system clock.
  std::function<WallClock::time_point()> now;
  // Bytes of unshipped commits held in memory while the store fails. Past it they are dropped, and
  // the backup begins a new generation (a snapshot of the database, then its WAL) once the store
  // takes uploads again: continuity with the old one could no longer be proven. Needs `db`.
  uint64_t max_pending_bytes = uint64_t{512} << 20;
  // Segments age into one per WAL index and window: once a window of this length (aligned on the
  // clock) is over, the segments of one index whose last commits fell in it are merged into one
  // object (under the first one's key), so a 10 ms interval does not leave a chain of 6,000 objects
  // a minute. Point-in-time restore is exact to the transaction inside the current window, and to
  // the window for older times. 0: never.
  std::chrono::milliseconds coalesce_window{std::chrono::minutes(1)};
  // The replication log's position once the commit being handed to the backup is in it (and at
  // start, and at a snapshot: the database's state then). Null, or nullopt (the log failed): no
  // position is kept from there.
  std::function<std::optional<LogPosition>()> log_position;
};

class Backup : public replication::TransactionSink {
 public:
  Backup(std::unique_ptr<ReplicaClient> client, BackupOptions options);
  ~Backup() override;

  // A new generation: queues the database file as its snapshot and tries to upload it, then ships
  // every `interval` on its own thread (none if the interval is 0: the caller calls Sync). A failed
  // upload is not an error here: the snapshot is tried again with the segments (status() says so).
  // An error only when the file cannot be read. The database's WAL must be empty.
  Status Start();
  void OnTransaction(const replication::CommittedTransaction& txn) override;
  // The backup misses transactions from now on: its status says so until the server restarts (a
  // new generation), and nothing more is shipped into this one.
  void OnCaptureLost(const Status& why) override;
  // Uploads the pending segments (and snapshots) now; the first failure stops it (they stay
  // pending). Retention runs after a snapshot was uploaded.
  Status Sync();
  // Takes a snapshot now (queued; the next Sync uploads it). Needs options.db. OK without one when
  // nothing was committed since the last snapshot; Busy when a reader kept the WAL from restarting.
  Status Snapshot();
  // A snapshot that begins a new generation (after an overflow): index 0 of a new id.
  Status StartNewGeneration();
  // Deletes what retention no longer keeps (see above).
  Status EnforceRetention();
  // Stops the thread and uploads what is pending.
  Status Stop();

  std::string generation() const;
  std::chrono::milliseconds interval() const { return options_.interval; }
  // The last upload failure, if the latest attempt failed (OK once one succeeds again).
  Status status() const;
  // Segments and snapshots waiting to be uploaded.
  size_t pending() const;
  BackupReport Report() const;

 private:
  struct Segment {
    uint32_t index = 0;
    uint64_t offset = 0;
    std::string bytes;
    WallClock::time_point last_commit;
    bool snapshot = false;  // a snapshot of `index` (offset unused), not a WAL segment
    uint64_t transactions = 0;
    std::string generation;  // where it goes
    WallClock::time_point first_commit;
    std::optional<LogPosition> log_end;  // the replication log's position at its end
  };
  WallClock::time_point Now() const { return options_.now ? options_.now() : WallClock::now(); }
  bool SnapshotDue() const;
  std::string KeyOf(const Segment& seg) const;
  Status Upload(const Segment& seg);

  std::unique_ptr<ReplicaClient> client_;
  BackupOptions options_;
  mutable std::mutex mu_;
  std::string generation_;  // the current one; changes after an overflow
  int64_t index_ = -1;  // the current WAL's index in the generation
  std::condition_variable cv_;
  std::deque<Segment> pending_;  // in upload order; the last one still grows
  bool open_segment_ = false;    // the last pending segment may take more commits
  std::mutex sync_mu_;           // one Sync at a time
  Status status_;
  Status lost_;  // set once by OnCaptureLost: sticky
  bool stopping_ = false;
  Status TakeSnapshot(bool new_generation);
  // Merges the shipped segments of windows that are over (see coalesce_window); with sync_mu_ held.
  Status Coalesce();
  struct Shipped {
    uint32_t index = 0;
    uint64_t offset = 0;
    std::string key;
    WallClock::time_point last_commit;
  };
  std::vector<Shipped> shipped_;  // this generation's segments whose window is not over; sync_mu_'s
  bool changed_ = false;           // committed since the last snapshot
  bool overflowed_ = false;        // pending commits were dropped: a new generation is due
  uint64_t pending_bytes_ = 0;
  uint64_t pending_transactions_ = 0;
  std::optional<WallClock::time_point> last_shipped_;
  uint64_t transactions_shipped_ = 0;
  uint64_t snapshots_ = 0;
  uint64_t generations_started_ = 1;
  bool expect_restart_ = false;    // a snapshot was taken: the next commit must begin a new WAL index
  bool retention_due_ = false;     // a snapshot was uploaded
  WallClock::time_point last_snapshot_;     // when the last snapshot was taken
  WallClock::time_point next_snapshot_try_;  // after a failed one
  std::thread shipper_;
  // The position of what was uploaded last, and whether the store has it; sync_mu_'s.
  std::optional<BackupPosition> position_;
  bool position_stored_ = true;
  WallClock::time_point position_put_;
  Status PutPosition(bool now);
};

}  // namespace litehouse::backup
