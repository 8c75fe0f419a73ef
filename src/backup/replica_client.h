// ReplicaClient: where backups go, one implementation per kind of store, as Litestream has one
// ReplicaClient per backend. Keys are '/'-separated paths under the replica's root
// ("generations/<GEN>/wal/00000000_00000000.wal.lz4"); a key is written whole or not at all.
//
// Thread safety: an implementation may be used from several threads at once.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace litehouse::backup {

using WallClock = std::chrono::system_clock;

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  WallClock::time_point modified;  // Litestream 0.3 takes a file's time from here (mtime, LastModified)
};

class ReplicaClient {
 public:
  virtual ~ReplicaClient() = default;
  // Writes `data` under `key`, atomically, with `modified` as its time where the store allows it.
  virtual Status Put(const std::string& key, std::string_view data, WallClock::time_point modified) = 0;
  virtual Result<std::string> Get(const std::string& key) = 0;
  // Every key under `prefix` (recursively), in no particular order.
  virtual Result<std::vector<ObjectInfo>> List(const std::string& prefix) = 0;
  virtual Status Delete(const std::string& key) = 0;
  // The URL it was opened with, for messages.
  virtual std::string url() const = 0;
};

// S3 keys given in a Litestream config file (its replica's, else its global ones). Empty: the
// environment's (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or LITESTREAM_*).
struct S3Credentials {
  std::string access_key_id;
  std::string secret_access_key;
};

// Opens the client for `url`: `file:///abs/path` (or a plain absolute path), or
// `s3://bucket/path[?endpoint=host:port&region=r&forcePathStyle=true]` (s3_replica.cc). Other schemes
// are an error naming what is supported.
Result<std::unique_ptr<ReplicaClient>> OpenReplicaClient(const std::string& url, const S3Credentials& credentials = {});

}  // namespace litehouse::backup
