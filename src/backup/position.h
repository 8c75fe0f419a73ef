// BackupPosition: where a backup stands in the replication log, kept beside Litestream's layout so
// that a read replica can boot from the backup and tail the primary from there (a new region is
// ready without copying the database from the primary over the network).
//
// The sidecar object `generations/<GEN>/litehouse-position` (Litestream ignores files it does not
// know; retention deletes it with its generation), ASCII, one field a line, in this order:
//
//   litehouse-backup-position 1
//   generation <GEN>          16 hex digits, the generation it lies in
//   index <IDX>               8 hex digits, a WAL index of that generation
//   offset <OFF>              decimal: the WAL bytes of that index up to which the state is taken
//                             (0: the index's snapshot alone); always the end of a commit
//   log_id <UUID>             the replication log's history
//   frame_no <N>              decimal: the state holds exactly the log's frames 0..N-1
//
// It says: the database restored from GEN's snapshot and WAL up to (IDX, OFF) is the primary's
// database at frame N of log_id. The primary rewrites it after shipping (at most every few seconds);
// it may lag the backup, never run ahead of it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace litehouse::backup {

struct LogPosition {
  std::string log_id;
  uint64_t next_frame_no = 0;  // the frames 0..next_frame_no-1 are in the state
};

struct BackupPosition {
  std::string generation;
  uint32_t index = 0;
  uint64_t offset = 0;
  LogPosition log;
};

std::string PositionKey(const std::string& generation);
std::string EncodePosition(const BackupPosition& p);
// Corruption when `text` is not one whole position in the format above.
Result<BackupPosition> DecodePosition(std::string_view text);

}  // namespace litehouse::backup
