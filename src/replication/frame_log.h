// FrameLog: the primary's replication log, in sqld's layout, fed by the WAL capture (wal_capture.h).
// Replicas and embedded replicas read it by frame number (Hello / BatchLogEntries / Snapshot).
//
// Files, in the log's directory (sqld's names and byte layouts, libsql-replication's frame.rs,
// snapshot.rs and libsql-server's replication/primary/logger.rs; all integers little-endian):
//
//   wallog      header, 64 bytes:
//                 magic u64 ("SQLDWAL\0" read as little-endian), start_checksum u64, log_id u128
//                 (a UUID, the identity of the history), start_frame_no u64, frame_count u64
//                 (committed frames; written at a clean close: in memory while open), version u32
//                 (2), page_size i32 (4096), sqld_version [u16; 4]
//               then frame_count frames of 4120 bytes:
//                 frame_no u64, checksum u64, page_no u32, size_after u32, page (4096 bytes)
//               frame_no counts from 0 and is never reused; size_after is the database's size in
//               pages on the last frame of a transaction (its commit), 0 on the others. checksum
//               (and start_checksum) is 0: sqld writes a rolling CRC-64 there that neither its
//               replicas nor the libsql client ever check, and computing it cost a tenth of the
//               server's CPU under the write lock at 25,000 commits/s (replication/DESIGN.md).
//   snapshots/{log_id}-{start}-{end}.snap
//               header, 48 bytes: log_id u128, start_frame_no u64, end_frame_no u64, frame_count u64,
//                 size_after u32, 4 bytes of padding
//               then frames as above, one per page (its last version up to end_frame_no), in
//               descending frame_no order, size_after 0 on each; the header's size_after is the
//               database's size at end_frame_no.
//   .sentinel   present while the log is open: found at start, it means the process stopped without
//               closing the log, which then cannot be proven to match the database.
//
// History: a log_id names one history of frames. A new one is started from every page of the
// database (frames 0..N-1, size_after N on the last) when there is no log, when the sentinel says the
// last run did not close it, or when it does not match the database (its page size or its last size
// differ); replicas then see a new log_id and bootstrap again, as with sqld.
//
// Compaction: past max_log_frames frames, or max_log_age since the log began, the log is closed at a
// transaction's end and a new one begins at the next frame_no. The old one is merged with the
// snapshot before it into one snapshot covering frames 0..end, in the background; until that is
// done, an offset below the new log's start gets kSnapshotPending.
//
// Thread safety: OnTransaction runs under the engine's write lock (one at a time); the readers
// (Hello, ReadFrames, ReadSnapshot) may run on any thread at once.
#pragma once

#include <array>
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
#include "replication/wal_capture.h"

namespace litehouse::replication {

constexpr uint32_t kLogPageSize = 4096;      // sqld's LIBSQL_PAGE_SIZE
constexpr size_t kLogFrameHeaderBytes = 24;
constexpr size_t kLogFrameBytes = kLogFrameHeaderBytes + kLogPageSize;  // 4120

// One frame as it goes on the wire (Frame.data in wal_log.proto): the 4120 bytes above.
using LogFrame = std::string;

struct FrameLogOptions {
  std::string dir;                 // holds wallog, snapshots/, .sentinel
  // The database, whose file is read whole to start a new history (Database::ReadFile, never a
  // descriptor of the log's own). Must outlive Open.
  engine::Database* db = nullptr;
  uint64_t max_log_frames = 200'000'000 / kLogFrameBytes;  // sqld's --max-log-size 200 MB
  std::chrono::milliseconds max_log_age{0};                // --max-log-duration; 0: none
  const Clock* clock = nullptr;    // null: Clock::Steady()
};

// What a read of the log found.
enum class ReadOutcome {
  kFrames,           // frames (possibly none: the reader is up to date)
  kNeedSnapshot,     // the offset was compacted away: read the snapshot
  kSnapshotPending,  // ... and the snapshot that holds it is still being made
};

class FrameLog : public TransactionSink {
 public:
  // Opens the log in options.dir, or starts a new history (see above). The database's WAL must be
  // empty (checkpointed) so that its file holds every committed page.
  static Result<std::unique_ptr<FrameLog>> Open(FrameLogOptions options);
  ~FrameLog() override;

  // The history's id, as a hyphenated UUID.
  std::string log_id() const;
  // The last committed frame_no, or nullopt while the log holds no frame at all.
  std::optional<uint64_t> last_frame_no() const;
  // The first frame_no the live log still holds.
  uint64_t start_frame_no() const;
  // The history and the frame_no after its last committed frame, read together under one lock;
  // nullopt once the log has failed (status() is not OK).
  struct Head {
    std::string log_id;
    uint64_t next_frame_no = 0;
  };
  std::optional<Head> head() const;

  // Appends `max_frames` or more committed frames from `next` (whole transactions only: the last
  // one read is always a commit frame) to *out.
  ReadOutcome ReadFrames(uint64_t next, size_t max_frames, std::vector<LogFrame>* out, Status* error) const;
  // The snapshot frames a replica at `next` needs (those with frame_no >= next), in the order to
  // apply them, the last carrying the snapshot's size_after.
  ReadOutcome ReadSnapshot(uint64_t next, std::vector<LogFrame>* out, Status* error) const;

  // Waits until a frame past `after` is committed, the deadline passes, or the log closes. True if
  // there is one.
  bool WaitForFrame(std::optional<uint64_t> after, std::chrono::steady_clock::time_point deadline) const;

  void OnTransaction(const CommittedTransaction& txn) override EXCLUDES(mu_, listener_mu_);
  // Called after each appended transaction, on the committing thread, with no lock of the log held
  // (the server wakes its waiting LogEntries calls); empty: none.
  void SetListener(std::function<void()> listener) EXCLUDES(listener_mu_);
  // The log stops here: replicas are refused, and the sentinel stays so the next start begins a new
  // history.
  void OnCaptureLost(const Status& why) override EXCLUDES(mu_);

  // Waits for a compaction in progress (tests).
  void WaitForCompaction();
  // The first error the log met appending (OK if none): the history cannot continue, and replicas
  // are refused until the next start makes a new one.
  Status status() const;

 private:
  struct Segment;  // one wallog file
  explicit FrameLog(FrameLogOptions options);
  // Both run in Open, with mu_ held (nobody else sees the log yet).
  Status StartNewHistory() REQUIRES(mu_);
  Status OpenExisting(bool* usable) REQUIRES(mu_);
  Status Append(const CommittedTransaction& txn) EXCLUDES(mu_);
  void Compact() EXCLUDES(mu_);
  // What WaitForFrame waits for: a frame past `after`, or the log's end.
  bool WaitIsOver(std::optional<uint64_t> after) const REQUIRES(mu_);

  const FrameLogOptions options_;
  const Clock& clock_;
  std::array<uint8_t, 16> log_id_{};  // set in Open, constant after
  mutable Mutex mu_;
  mutable CondVar frame_cv_;  // signalled (under mu_) when a frame is committed, or the log fails or closes
  // Guarded by mu_. The live segment's frame_count and path are too (Segment, frame_log.cc); its other
  // fields are constant once it is live.
  std::shared_ptr<Segment> live_ GUARDED_BY(mu_);
  std::optional<uint64_t> last_frame_no_ GUARDED_BY(mu_);
  uint32_t last_size_after_ GUARDED_BY(mu_) = 0;
  Clock::time_point live_started_ GUARDED_BY(mu_);
  // The snapshot file covering frames [0, snapshot_end_], if any; empty path: none yet.
  std::string snapshot_path_ GUARDED_BY(mu_);
  uint64_t snapshot_end_ GUARDED_BY(mu_) = 0;
  bool compacting_ GUARDED_BY(mu_) = false;
  uint64_t compact_retry_at_ GUARDED_BY(mu_) = 0;  // after a failed compaction: the live log's size to try again at
  Status status_ GUARDED_BY(mu_);
  bool closed_ GUARDED_BY(mu_) = false;
  // The committing thread's (OnTransaction runs under the database's write lock), and
  // WaitForCompaction's, called when no commit can run (the destructor, tests).
  std::thread compactor_;
  std::string append_buf_;  // reused by Append
  Mutex listener_mu_;
  std::function<void()> listener_ GUARDED_BY(listener_mu_);
};

// A random (version 4) UUID's 16 bytes, and its hyphenated text. (sqld stores one in files as a
// little-endian u128 of the UUID's big-endian value.)
std::array<uint8_t, 16> NewUuid();
std::string UuidText(const std::array<uint8_t, 16>& uuid);

}  // namespace litehouse::replication
