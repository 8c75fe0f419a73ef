// Restore: a database rebuilt from a backup in Litestream 0.3's layout (backup.h), ours or
// Litestream's own, to its latest state or to a point in time, as `litestream restore` does it:
//   1. the generation: the one updated last (with a timestamp, among those that began before it);
//   2. its latest snapshot (created at or before the timestamp);
//   3. the WAL segments from the snapshot's index on, in (index, offset) order, up to the first one
//      written after the timestamp; each index must begin at offset 0 and each segment where the one
//      before it ended (checked here, where Litestream 0.3 let SQLite drop what followed a gap);
//   4. the snapshot written out, then each index's WAL applied in turn: written as the database's
//      WAL and checkpointed into it by SQLite (TRUNCATE), which keeps only committed transactions.
// Unlike Litestream 0.3, a timestamp after the backup's last write restores the latest state
// instead of failing.
//
// A replica may instead (or also) hold Litestream 0.5's LTX files (ltx_restore.h). Restore chooses
// as Litestream 0.5's Replica.Restore does: -txid, or LTX files only, reads LTX; -generation or
// -index, or generations only, read 0.3's layout; with both, the layout written last (its newest
// file's store time), or, with -timestamp, the one whose latest snapshot at or before it is newer
// (for LTX, any file beginning at TXID 1 counts as a snapshot; Litestream 0.5 counts level 9 only).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "backup/replica_client.h"
#include "common/status.h"

namespace litehouse::backup {

struct RestoreOptions {
  std::string output;                            // the database file to write; must not exist
  std::optional<WallClock::time_point> timestamp;  // the state at this time; none: the latest
  std::string generation;                        // this generation only; empty: chosen as above
  std::optional<uint32_t> index;                 // up to this WAL index, inclusive (with `generation`)
  // With `index`: only that index's WAL bytes before this offset, which must end a commit (a
  // BackupPosition's); 0: its snapshot alone. NotFound when the backup does not reach it.
  std::optional<uint64_t> offset;
  std::optional<uint64_t> txid;                  // LTX only: the state after this TXID
  int parallelism = 8;                           // segments fetched and decompressed at once
  // Told after the snapshot and after each segment (LTX: after each file): segments applied of
  // those to apply, and the bytes written so far; `what` names what is counted ("WAL segments",
  // "LTX files"). Null: nothing told.
  std::function<void(const char* what, size_t done, size_t total, uint64_t bytes)> progress;
};

struct RestoreResult {
  bool ltx = false;  // which layout was read: Litestream 0.5's LTX files, else 0.3's generations
  // 0.3's layout:
  std::string generation;
  uint32_t snapshot_index = 0;
  size_t segments = 0;  // WAL segments applied
  // LTX:
  uint64_t txid = 0;     // the restored state's TXID
  size_t ltx_files = 0;  // LTX files applied
};

// Of several replicas of one database (a config file's), the one to restore from: the one whose
// chosen generation (step 1), or newest LTX file, was updated last, as Litestream's
// CalcRestoreTarget. A replica that cannot be read is passed over; NotFound (or the first read
// error) when none qualifies.
Result<size_t> ChooseReplica(const std::vector<ReplicaClient*>& replicas, const RestoreOptions& options);

// Restores into options.output, from whichever layout is chosen as above. NotFound when nothing
// qualifies.
Result<RestoreResult> Restore(ReplicaClient& client, const RestoreOptions& options);

}  // namespace litehouse::backup
