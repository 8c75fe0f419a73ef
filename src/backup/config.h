// BackupConfig: a Litestream configuration file (litestream.yml), read as Litestream 0.3.13 reads it,
// so that a deployment that ran Litestream beside its server keeps its file.
//
//   access-key-id: ...            # global S3 keys, for replicas that name none
//   secret-access-key: ...
//   dbs:
//     - path: /data/db.sqlite     # made absolute (~/ is the home directory)
//       replicas:                 # (or `replica:`, one, as Litestream 0.5 writes it)
//         - url: s3://bucket/path          # or file:///path; or the fields below
//           name: backup1                  # default: the type
//           type: s3                       # file (default) | s3; from the URL's scheme if given
//           path: /backups/app             # file: the directory; s3: the key prefix
//           bucket: b
//           endpoint: http://host:9000     # makes force-path-style default to true
//           region: us-east-1
//           force-path-style: true
//           access-key-id: ...
//           secret-access-key: ...
//           sync-interval: 1s              # Go durations: 1s, 500ms, 1h30m
//           snapshot-interval: 24h
//           retention: 24h
//
// `$VAR` and `${VAR}` are replaced by the environment's values before the YAML is read (unset: empty),
// unless expansion is off (Litestream's -no-expand-env). Unknown keys are ignored, as Litestream's
// non-strict YAML does; a replica type other than file and s3 is an error naming it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "backup/replica_client.h"
#include "common/status.h"

namespace litehouse::backup {

struct ReplicaTarget {
  std::string name;  // `name:`, else the type ("file", "s3")
  std::string url;   // what OpenReplicaClient takes, endpoint and region in its query
  S3Credentials credentials;
  std::optional<std::chrono::milliseconds> sync_interval, snapshot_interval, retention;
};

struct DatabaseEntry {
  std::string path;  // absolute
  std::vector<ReplicaTarget> replicas;
};

struct BackupConfig {
  std::string file;
  S3Credentials credentials;  // the global access-key-id / secret-access-key
  std::vector<DatabaseEntry> dbs;
};

// $LITESTREAM_CONFIG, else /etc/litestream.yml (Litestream's default).
std::string DefaultBackupConfigPath();

// Reads and checks `file`: every database has a path and at least one replica, every replica a
// place to go. NotFound when the file does not exist.
Result<BackupConfig> ReadBackupConfig(const std::string& file, bool expand_env = true);

// The entry that backs up the served database `db_path`: the one whose path is `db_path`; else, if
// `sole_entry_maps` and there is only one, that one (a deployment's file names its own path, not
// the server's). No match: InvalidArgument naming the paths.
Result<const DatabaseEntry*> EntryForDatabase(const BackupConfig& config, const std::string& db_path, bool sole_entry_maps);

// The replica of `config` that `url` names (the same scheme, bucket and path, or the same directory),
// so that a URL given with a config file takes its endpoint and keys from it; null if none.
const ReplicaTarget* FindReplicaByUrl(const BackupConfig& config, const std::string& url);

// A Go duration ("1s", "500ms", "1h30m", "0"), as Litestream's config holds them.
std::optional<std::chrono::milliseconds> ParseGoDuration(const std::string& text);

}  // namespace litehouse::backup
