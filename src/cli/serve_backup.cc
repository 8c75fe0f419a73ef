#include "cli/serve_backup.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <filesystem>

#include "backup/catalog.h"
#include "backup/config.h"
#include "backup/ltx_restore.h"
#include "backup/position.h"
#include "backup/restore.h"
#include "common/log.h"
#include "replication/replica.h"

namespace litehouse::cli {
namespace {

Status CheckInterval(const std::string& where, std::chrono::milliseconds v) {
  if (v < std::chrono::milliseconds(10) || v > std::chrono::hours(1))
    return Status::InvalidArgument(where + ": sync-interval must be from 10ms to 1h");
  return Status::OK();
}

}  // namespace

Result<std::vector<BackupTarget>> PlanBackups(const BackupFlags& flags, const std::string& db_path) {
  std::vector<BackupTarget> targets;
  auto defaults = [&] {
    backup::BackupOptions o;
    o.interval = flags.interval;
    o.snapshot_interval = flags.snapshot_interval;
    o.retention = flags.retention;
    o.coalesce_window = flags.coalesce;
    return o;
  };
  if (!flags.url.empty()) {
    if (!flags.config.empty()) return Status::InvalidArgument("--backup-url and --backup-config: give one of them");
    auto client = backup::OpenReplicaClient(flags.url);
    if (!client.ok()) return Status::InvalidArgument("--backup-url: " + client.status().message());
    targets.push_back(BackupTarget{flags.url, std::move(client).value(), defaults()});
    return targets;
  }
  // A config file named by the operator (the flag, or $LITESTREAM_CONFIG) maps its only entry to the
  // served database, whatever path it names (the seed's /data/db.sqlite); Litestream's default file,
  // found on the machine, is used only if it names this database, so that a server started beside
  // a Litestream that backs up another database never writes into that database's backup.
  std::string file = flags.config;
  const char* env = std::getenv("LITESTREAM_CONFIG");
  if (file.empty() && env && *env) file = env;
  const bool named = !file.empty();
  if (!named) file = "/etc/litestream.yml";
  auto config = backup::ReadBackupConfig(file);
  if (!config.ok()) {
    if (!named && config.status().code() == StatusCode::kNotFound) return targets;  // no backup
    return Status::InvalidArgument("--backup-config: " + config.status().message());
  }
  auto entry = backup::EntryForDatabase(*config, db_path, named);
  if (!entry.ok()) {
    if (!named) {
      LH_LOG_INFO("{} does not name {}: no backup from it", config->file, db_path);
      return targets;
    }
    return Status::InvalidArgument("--backup-config: " + entry.status().message());
  }
  for (const backup::ReplicaTarget& r : (*entry)->replicas) {
    const std::string where = config->file + ": replica " + r.name;
    backup::BackupOptions o = defaults();
    if (r.sync_interval) {
      if (Status s = CheckInterval(where, *r.sync_interval); !s.ok()) return s;
      o.interval = *r.sync_interval;
    }
    if (r.snapshot_interval) o.snapshot_interval = *r.snapshot_interval;
    if (r.retention) o.retention = *r.retention;
    auto client = backup::OpenReplicaClient(r.url, r.credentials);
    if (!client.ok()) return Status::InvalidArgument(where + ": " + client.status().message());
    targets.push_back(BackupTarget{r.url, std::move(client).value(), std::move(o)});
  }
  LH_LOG_INFO("backing up {} as {} says (its entry for {}, {} replica{})", db_path, config->file, (*entry)->path,
              targets.size(), targets.size() == 1 ? "" : "s");
  return targets;
}

Status BootFromBackup(std::vector<BackupTarget>& targets, const std::string& db_path) {
  std::error_code ec;
  if (targets.empty() || std::filesystem::exists(db_path, ec)) return Status::OK();
  // Only stores without any generation or LTX file (Litestream 0.5's) mean "start empty".
  std::vector<backup::ReplicaClient*> holding;
  for (BackupTarget& t : targets) {
    auto catalog = backup::ReadCatalog(*t.client);
    if (!catalog.ok()) return Status::IoError("cannot read the backup at " + t.url + ": " + catalog.status().ToString());
    auto ltx = backup::ListLtxFiles(*t.client);
    if (!ltx.ok()) return Status::IoError("cannot read the backup at " + t.url + ": " + ltx.status().ToString());
    if (!catalog->empty() || !ltx->empty()) holding.push_back(t.client.get());
  }
  if (holding.empty()) {
    LH_LOG_INFO("the backup at {} holds nothing yet: starting with an empty database", targets.front().url);
    return Status::OK();
  }
  size_t which = 0;
  if (holding.size() > 1) {
    auto chosen = backup::ChooseReplica(holding, backup::RestoreOptions{db_path, std::nullopt, ""});
    if (!chosen.ok()) return chosen.status();
    which = *chosen;
  }
  auto restored = backup::Restore(*holding[which], backup::RestoreOptions{db_path, std::nullopt, ""});
  if (!restored.ok()) return Status::IoError("cannot restore " + db_path + " from " + holding[which]->url() + ": " + restored.status().ToString());
  if (restored->ltx) {
    LH_LOG_INFO("restored {} from the backup at {} (Litestream 0.5's LTX files: {}, up to TXID {:016x})", db_path, holding[which]->url(),
                restored->ltx_files, restored->txid);
  } else {
    LH_LOG_INFO("restored {} from the backup at {} (generation {}, snapshot {}, {} WAL segments)", db_path, holding[which]->url(),
                restored->generation, restored->snapshot_index, restored->segments);
  }
  return Status::OK();
}

bool BootReplicaFromBackup(std::vector<BackupTarget>& targets, const std::string& db_path, const std::string& dir) {
  std::error_code ec;
  if (targets.empty() || std::filesystem::exists(db_path, ec)) return false;
  // The newest generation, among every target's, whose position is stored.
  struct Candidate {
    BackupTarget* target;
    backup::BackupPosition position;
    backup::WallClock::time_point updated;
  };
  std::optional<Candidate> best;
  for (BackupTarget& t : targets) {
    auto catalog = backup::ReadCatalog(*t.client);
    if (!catalog.ok()) {
      LH_LOG_WARN("replica boot: cannot read the backup at {}: {}", t.url, catalog.status().ToString());
      continue;
    }
    for (const backup::GenerationInfo& g : *catalog) {
      if (best && g.updated <= best->updated) continue;
      auto text = t.client->Get(backup::PositionKey(g.id));
      if (!text.ok()) continue;  // written by Litestream, or before its first position was stored
      auto position = backup::DecodePosition(*text);
      if (!position.ok() || position->generation != g.id) {
        LH_LOG_WARN("replica boot: {} in {}: {}", backup::PositionKey(g.id), t.url,
                    position.ok() ? "names another generation" : position.status().message());
        continue;
      }
      best = Candidate{&t, *position, g.updated};
    }
  }
  if (!best) {
    LH_LOG_INFO("replica boot: no backup says which frame of the primary's log it holds: bootstrapping from the primary");
    return false;
  }
  const backup::BackupPosition& p = best->position;
  backup::RestoreOptions options{db_path, std::nullopt, p.generation};
  options.index = p.index;
  options.offset = p.offset;
  auto restored = backup::Restore(*best->target->client, options);
  if (!restored.ok()) {
    LH_LOG_WARN("replica boot: the backup at {} does not restore to its stored position: {}; bootstrapping from the primary",
                best->target->url, restored.status().ToString());
    std::filesystem::remove(db_path, ec);
    return false;
  }
  if (Status s = replication::Replica::SeedPosition(dir, p.log.log_id, p.log.next_frame_no); !s.ok()) {
    LH_LOG_WARN("replica boot: {}; bootstrapping from the primary", s.ToString());
    std::filesystem::remove(db_path, ec);
    return false;
  }
  LH_LOG_INFO("replica boot: restored {} from the backup at {} (generation {}, WAL index {}, byte {}): history {} at frame {}, "
              "tailing the primary from there",
              db_path, best->target->url, p.generation, p.index, p.offset, p.log.log_id, p.log.next_frame_no);
  return true;
}

std::string BackupStatusJson(const std::vector<std::unique_ptr<backup::Backup>>& backups) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  const auto now = backup::WallClock::now();
  w.StartObject();
  w.Key("backups");
  w.StartArray();
  for (const auto& b : backups) {
    const backup::BackupReport r = b->Report();
    const int64_t lag_ms = r.oldest_pending ? std::max<int64_t>(0, duration_cast<milliseconds>(now - *r.oldest_pending).count()) : 0;
    w.StartObject();
    w.Key("url");
    w.String(r.url.c_str());
    w.Key("generation");
    w.String(r.generation.c_str());
    w.Key("ok");
    w.Bool(r.status.ok());
    w.Key("last_error");
    if (r.status.ok()) {
      w.Null();
    } else {
      w.String(r.status.ToString().c_str());
    }
    w.Key("lagging");
    w.Bool(r.pending_transactions > 0 && (!r.status.ok() || lag_ms > 2 * b->interval().count() + 1000));
    w.Key("lag_transactions");
    w.Uint64(r.pending_transactions);
    w.Key("lag_bytes");
    w.Uint64(r.pending_bytes);
    w.Key("lag_ms");
    w.Int64(lag_ms);
    w.Key("last_shipped_ms_ago");
    if (r.last_shipped) {
      w.Int64(std::max<int64_t>(0, duration_cast<milliseconds>(now - *r.last_shipped).count()));
    } else {
      w.Null();
    }
    w.Key("transactions_shipped");
    w.Uint64(r.transactions_shipped);
    w.Key("snapshots");
    w.Uint64(r.snapshots);
    w.Key("generations_started");
    w.Uint64(r.generations_started);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

}  // namespace litehouse::cli
