// Catalog: what a backup in Litestream 0.3's layout holds (backup.h): its generations, each with its
// snapshots and WAL segments and their times, read from one listing of the store. Restore chooses
// from it; `litehouse backup generations|snapshots|wal` prints it.
#pragma once

#include <string>
#include <vector>

#include "backup/replica_client.h"
#include "common/status.h"

namespace litehouse::backup {

struct SnapshotFile {
  uint32_t index = 0;
  uint64_t size = 0;
  WallClock::time_point created;
  std::string key;
};

struct SegmentFile {
  uint32_t index = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  WallClock::time_point created;
  std::string key;
};

struct GenerationInfo {
  std::string id;
  std::vector<SnapshotFile> snapshots;  // by index
  std::vector<SegmentFile> segments;    // by (index, offset)
  WallClock::time_point created;        // its first file's time
  WallClock::time_point updated;        // its last file's time
};

// An RFC 3339 time ("2026-11-30T07:20:00Z", "...T07:20:00.5+01:00"): what `-timestamp` takes, and
// what S3 writes in a listing's LastModified. False if `text` is not one.
bool ParseRfc3339(const std::string& text, WallClock::time_point* out);

// Every generation of the backup, by id; files whose names are not Litestream's are ignored.
Result<std::vector<GenerationInfo>> ReadCatalog(ReplicaClient& client);

}  // namespace litehouse::backup
