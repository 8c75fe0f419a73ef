// The backups `litehouse serve` keeps: from --backup-url, or from a Litestream config file
// (--backup-config, $LITESTREAM_CONFIG, else /etc/litestream.yml when it names the served database),
// one Backup per replica; and the boot from backup of a data directory without a database.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "backup/backup.h"
#include "backup/replica_client.h"
#include "common/status.h"

namespace litehouse::cli {

struct BackupFlags {
  std::string url;     // --backup-url
  std::string config;  // --backup-config
  // The flags' values; a config file's replica may set its own.
  std::chrono::milliseconds interval{1000}, snapshot_interval{0}, retention{std::chrono::hours(24)}, coalesce{std::chrono::minutes(1)};
};

struct BackupTarget {
  std::string url;  // for messages
  std::unique_ptr<backup::ReplicaClient> client;
  backup::BackupOptions options;  // db is filled in at start
};

// Where the served database `db_path` is backed up: nothing, --backup-url, or each replica of its
// config file entry. InvalidArgument for a bad URL or config (the message says which).
Result<std::vector<BackupTarget>> PlanBackups(const BackupFlags& flags, const std::string& db_path);

// A data directory without a database is restored from the targets' latest backup before anything
// is served (the one whose latest generation is newest); a store without any generation means an
// empty database. Any other failure is returned: better no server than an empty database that a new
// generation would make the latest.
Status BootFromBackup(std::vector<BackupTarget>& targets, const std::string& db_path);

// A read replica on a data directory without a database boots from the backup (the seed's replica
// boot, without copying the database from the primary): the state at the newest stored position
// (backup/position.h) is restored into db_path, and the replica told (replica-position in `dir`)
// which frame of the primary's log that is, so it tails the primary from there. False, having said
// why, when it cannot (no position stored, or the backup does not restore to it): the replica then
// bootstraps from the primary. A replica never writes to the backup: only the primary does.
bool BootReplicaFromBackup(std::vector<BackupTarget>& targets, const std::string& db_path, const std::string& dir);

// GET /backup/status's body:
//   {"backups": [{"url", "generation", "ok", "last_error" (null if ok), "lagging", "lag_transactions",
//                 "lag_bytes", "lag_ms", "last_shipped_ms_ago" (null if never), "transactions_shipped",
//                 "snapshots", "generations_started"}]}
// lag_ms: how long the oldest unshipped commit has waited (0 when none waits). lagging: the last
// upload failed while commits wait, or the oldest has waited more than two intervals and a second.
std::string BackupStatusJson(const std::vector<std::unique_ptr<backup::Backup>>& backups);

}  // namespace litehouse::cli
