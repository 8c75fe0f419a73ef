// LTX restore: a database rebuilt from a backup in Litestream 0.5's layout (ltx.h), as
// `litestream restore` 0.5 does it, with the checks it leaves out.
//
// Layout. The files of one database, named "<MinTXID %016x>-<MaxTXID %016x>.ltx", sit in levels:
// Litestream's file client puts level L under "ltx/<L in decimal>/", its S3 client under
// "<L as %04x>/" at the replica's root. Both are read here, from any store (a bucket copied to a
// disk keeps S3's layout); a replica holding both is refused. Level 0 holds one file per sync,
// levels 1..8 compactions of them, level 9 snapshots (MinTXID 1).
//
// Plan (Litestream's CalcRestorePlan):
//   1. the latest level-9 snapshot within the target;
//   2. from the TXID it ends at (0 without one), again and again: of the files at levels 0..8 that
//      begin at or before the next TXID and end after the current one, within the target, the one
//      reaching furthest (then the one beginning earliest, then the higher level);
//   3. until the target TXID is reached, or nothing continues the chain.
// Within the target: MaxTXID <= -txid; a file's time (its header's timestamp) at or before
// -timestamp. Unlike Litestream 0.5, a chain that stops while a file within the target lies past a
// gap is an error naming the gap and that file, for every kind of target (Litestream checks only
// the latest), and a timestamp after the last write restores the latest state.
//
// Apply (Litestream's compactor, then DecodeDatabaseTo): each file is fetched (`parallelism` ahead),
// checked whole (ltx.h) and its pages written, in plan order, into `<out>.tmp`, so the newest image
// of each page wins; the file is then cut to the last file's commit, every page 1..commit but the
// lock page must have come from some file, the lock page is zero (a hole), and `<out>.tmp` is
// synced and renamed. Any error removes `<out>.tmp`: nothing partial is left.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "backup/replica_client.h"
#include "common/status.h"

namespace litehouse::backup {

struct LtxFileInfo {
  int level = 0;
  uint64_t min_txid = 0;
  uint64_t max_txid = 0;
  uint64_t size = 0;
  WallClock::time_point listed;  // the store's time (mtime, LastModified), not the header's
  std::string key;
};

// Every LTX file of the replica, by (level, MinTXID, MaxTXID); keys that are not LTX files are
// passed over. An error if the replica mixes the file and the S3 layouts.
Result<std::vector<LtxFileInfo>> ListLtxFiles(ReplicaClient& client);

struct LtxTarget {
  std::optional<uint64_t> txid;                    // the state after this TXID
  std::optional<WallClock::time_point> timestamp;  // the state at this time (header timestamps)
};

// A file's time as the plan reads it: its header's timestamp. Given to the planner so that a
// restore reads only the headers it needs, and a test can say what they are.
using LtxTimeFn = std::function<Result<WallClock::time_point>(const LtxFileInfo&)>;

// The files to apply, in order (steps 1-3 above). NotFound when nothing lies within the target;
// Corruption ("non-contiguous") naming the gap and the file past it.
Result<std::vector<LtxFileInfo>> PlanLtxRestore(const std::vector<LtxFileInfo>& files, const LtxTarget& target,
                                                const LtxTimeFn& time_of, const std::string& where);

struct LtxRestoreOptions {
  std::string output;  // must not exist
  LtxTarget target;
  int parallelism = 8;
  std::function<void(size_t done, size_t total, uint64_t bytes)> progress;
  // Called on the whole `<out>.tmp` before it is renamed; an error fails the restore (and removes
  // it). Null: nothing more is checked.
  std::function<Status(const std::string& path)> verify;
};

struct LtxRestoreResult {
  uint64_t txid = 0;   // the restored state's TXID
  size_t files = 0;    // LTX files applied
  uint32_t pages = 0;  // the database's size in pages
};

Result<LtxRestoreResult> RestoreLtx(ReplicaClient& client, const std::vector<LtxFileInfo>& files,
                                    const LtxRestoreOptions& options);

}  // namespace litehouse::backup
