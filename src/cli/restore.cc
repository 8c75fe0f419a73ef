// The backup tools: `litehouse restore [-o OUT] [-timestamp T] [-generation GEN] [-txid TXID] (URL |
// -config FILE DB_PATH [-replica NAME])`, a database rebuilt from a backup in Litestream 0.3's layout,
// ours or Litestream's, or from Litestream 0.5's LTX files (backup/restore.h), with `litestream
// restore`'s flags (one dash or two); and `litehouse backup generations|snapshots|wal URL`, what a
// backup in 0.3's layout holds, as `litestream generations|snapshots|wal` print it (LTX files are
// not listed).
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "backup/catalog.h"
#include "backup/config.h"
#include "backup/restore.h"
#include "cli/commands.h"
#include "common/log.h"

namespace litehouse::cli {
namespace {

struct RestoreFlags {
  std::string target;  // a backup URL, or a database path named in a Litestream config file
  std::string config;
  bool no_expand_env = false;
  std::string replica;
  std::string output;
  std::string timestamp;
  std::string generation;
  std::string index;  // hex, as Litestream's -index
  std::string txid;   // hex, as Litestream 0.5's -txid
  int parallelism = 8;
  bool if_db_not_exists = false;
  bool if_replica_exists = false;
};

// A time as Litestream prints it (RFC 3339, UTC, to the second).
std::string Rfc3339(backup::WallClock::time_point t) {
  const std::time_t secs = backup::WallClock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The name Litestream gives a replica of this URL's kind.
std::string ReplicaName(const std::string& url) { return url.rfind("s3://", 0) == 0 ? "s3" : "file"; }

}  // namespace

Run RegisterBackup(CLI::App& app) {
  auto what = std::make_shared<std::string>();
  auto url = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("backup", "What a backup in Litestream's format holds");
  cmd->require_subcommand(1);
  for (const char* name : {"generations", "snapshots", "wal"}) {
    CLI::App* sub = cmd->add_subcommand(name, std::string("List the backup's ") + name);
    sub->add_option("url", *url, "The backup: file:///path or s3://bucket/path")->required();
    sub->callback([what, name] { *what = name; });
  }
  return [what, url] {
    auto client = backup::OpenReplicaClient(*url);
    if (!client.ok()) {
      std::cerr << "error: " << client.status().message() << "\n";
      return 2;
    }
    auto catalog = backup::ReadCatalog(**client);
    if (!catalog.ok()) {
      std::cerr << "error: " << catalog.status().message() << "\n";
      return 1;
    }
    const std::string replica = ReplicaName(*url);
    if (*what == "generations") {
      std::printf("%-8s %-16s %-10s %-20s %-20s\n", "name", "generation", "lag", "start", "end");
      for (const auto& g : *catalog) {
        const auto lag = std::chrono::duration_cast<std::chrono::seconds>(backup::WallClock::now() - g.updated).count();
        std::printf("%-8s %-16s %-10s %-20s %-20s\n", replica.c_str(), g.id.c_str(), (std::to_string(lag) + "s").c_str(),
                    Rfc3339(g.created).c_str(), Rfc3339(g.updated).c_str());
      }
    } else if (*what == "snapshots") {
      std::printf("%-8s %-16s %-8s %-10s %-20s\n", "replica", "generation", "index", "size", "created");
      for (const auto& g : *catalog)
        for (const auto& s : g.snapshots)
          std::printf("%-8s %-16s %-8u %-10llu %-20s\n", replica.c_str(), g.id.c_str(), s.index,
                      static_cast<unsigned long long>(s.size), Rfc3339(s.created).c_str());
    } else {
      std::printf("%-8s %-16s %-8s %-8s %-10s %-20s\n", "replica", "generation", "index", "offset", "size", "created");
      for (const auto& g : *catalog)
        for (const auto& s : g.segments)
          std::printf("%-8s %-16s %-8u %-8llu %-10llu %-20s\n", replica.c_str(), g.id.c_str(), s.index,
                      static_cast<unsigned long long>(s.offset), static_cast<unsigned long long>(s.size), Rfc3339(s.created).c_str());
    }
    return 0;
  };
}

Run RegisterRestore(CLI::App& app) {
  auto flags = std::make_shared<RestoreFlags>();
  CLI::App* cmd = app.add_subcommand("restore", "Rebuild a database from a backup in Litestream's format (ours or Litestream's)");
  cmd->add_option("target", flags->target,
                  "The backup (file:///path, s3://bucket/path), or a database path that a Litestream config file names")
      ->required();
  cmd->add_option("-o,--output", flags->output, "The database file to write (default, with a config file: the database's path)");
  cmd->add_option("--config", flags->config, "A Litestream config file (litestream.yml); default $LITESTREAM_CONFIG, then /etc/litestream.yml");
  cmd->add_flag("--no-expand-env", flags->no_expand_env, "Do not replace $VAR in the config file");
  cmd->add_option("--replica", flags->replica, "Restore from the config's replica of this name (default: the one with the latest backup)");
  cmd->add_option("--timestamp", flags->timestamp, "Restore the state at this time (RFC 3339); by default the latest");
  cmd->add_option("--generation", flags->generation, "Restore from this generation only");
  cmd->add_option("--index", flags->index, "Restore up to this WAL index (hexadecimal, inclusive); needs --generation");
  cmd->add_option("--txid", flags->txid, "Restore the state after this TXID (hexadecimal; Litestream 0.5's LTX backups only)");
  cmd->add_option("--parallelism", flags->parallelism, "WAL segments or LTX files downloaded at once")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_flag("--if-db-not-exists", flags->if_db_not_exists, "Do nothing (exit 0) if the output already exists");
  cmd->add_flag("--if-replica-exists", flags->if_replica_exists, "Do nothing (exit 0) if the backup holds nothing to restore");
  return [flags] {
    backup::RestoreOptions opts;
    opts.output = flags->output;
    opts.generation = flags->generation;
    opts.parallelism = flags->parallelism;
    if (!flags->index.empty()) {
      char* end = nullptr;
      const unsigned long v = std::strtoul(flags->index.c_str(), &end, 16);
      if (end == flags->index.c_str() || *end != '\0' || v > 0xffffffffUL) {
        std::cerr << "error: --index " << flags->index << " is not a hexadecimal WAL index (e.g. 0000001a)\n";
        return 2;
      }
      if (flags->generation.empty()) {
        std::cerr << "error: --index needs --generation\n";
        return 2;
      }
      if (!flags->timestamp.empty()) {
        std::cerr << "error: --index and --timestamp: give one of them\n";
        return 2;
      }
      opts.index = static_cast<uint32_t>(v);
    }
    if (!flags->txid.empty()) {
      char* end = nullptr;
      errno = 0;
      const unsigned long long v = std::strtoull(flags->txid.c_str(), &end, 16);
      if (end == flags->txid.c_str() || *end != '\0' || errno != 0 || flags->txid.size() > 16 || v == 0 || flags->txid[0] == '-' ||
          flags->txid[0] == '+' || std::isspace(static_cast<unsigned char>(flags->txid[0]))) {
        std::cerr << "error: --txid " << flags->txid << " is not a hexadecimal TXID (e.g. 000000000000002a)\n";
        return 2;
      }
      if (!flags->timestamp.empty() || !flags->index.empty() || !flags->generation.empty()) {
        std::cerr << "error: --txid goes with neither --timestamp, --index nor --generation\n";
        return 2;
      }
      opts.txid = v;
    }
    if (!flags->timestamp.empty()) {
      backup::WallClock::time_point t;
      if (!backup::ParseRfc3339(flags->timestamp, &t)) {
        std::cerr << "error: --timestamp " << flags->timestamp << " is not an RFC 3339 time (2026-11-30T07:20:00Z)\n";
        return 2;
      }
      opts.timestamp = t;
    }
    // Where from: a URL (with a config file, its endpoint and keys come from the replica it names
    // there, or its global keys), or a database the config file names (each of its replicas).
    const bool is_url = flags->target.find("://") != std::string::npos;
    std::optional<backup::BackupConfig> config;
    if (!flags->config.empty() || !is_url) {
      auto read = backup::ReadBackupConfig(flags->config.empty() ? backup::DefaultBackupConfigPath() : flags->config, !flags->no_expand_env);
      if (!read.ok()) {
        std::cerr << "error: " << read.status().message() << "\n";
        return 2;
      }
      config = std::move(read).value();
    }
    std::vector<backup::ReplicaTarget> targets;
    if (is_url) {
      const backup::ReplicaTarget* named = config ? backup::FindReplicaByUrl(*config, flags->target) : nullptr;
      targets.push_back(named ? *named : backup::ReplicaTarget{"", flags->target, config ? config->credentials : backup::S3Credentials{}, {}, {}, {}});
      if (named) targets.back().url = flags->target.find('?') != std::string::npos ? flags->target : named->url;
      if (opts.output.empty()) {
        std::cerr << "error: -o OUTPUT is required with a backup URL\n";
        return 2;
      }
    } else {
      auto entry = backup::EntryForDatabase(*config, flags->target, false);
      if (!entry.ok()) {
        std::cerr << "error: " << entry.status().message() << "\n";
        return 2;
      }
      for (const auto& r : (*entry)->replicas)
        if (flags->replica.empty() || r.name == flags->replica) targets.push_back(r);
      if (targets.empty()) {
        std::cerr << "error: no replica named " << flags->replica << " for " << (*entry)->path << " in " << config->file << "\n";
        return 2;
      }
      if (opts.output.empty()) opts.output = (*entry)->path;
    }
    std::error_code ec;
    if (std::filesystem::exists(opts.output, ec)) {
      if (flags->if_db_not_exists) {
        std::cerr << "database already exists, skipping\n";
        return 0;
      }
      std::cerr << "error: " << opts.output << " already exists\n";
      return 1;
    }
    std::vector<std::unique_ptr<backup::ReplicaClient>> clients;
    std::vector<backup::ReplicaClient*> raw;
    for (const auto& t : targets) {
      auto client = backup::OpenReplicaClient(t.url, t.credentials);
      if (!client.ok()) {
        std::cerr << "error: " << client.status().message() << "\n";
        return 2;
      }
      clients.push_back(std::move(client).value());
      raw.push_back(clients.back().get());
    }
    size_t which = 0;
    if (raw.size() > 1) {
      auto chosen = backup::ChooseReplica(raw, opts);
      if (!chosen.ok()) {
        if (chosen.status().code() == StatusCode::kNotFound && flags->if_replica_exists) {
          std::cerr << "no matching backups found\n";
          return 0;
        }
        std::cerr << "error: " << chosen.status().message() << "\n";
        return 1;
      }
      which = *chosen;
    }
    auto& client = clients[which];
    // Progress on a terminal only (stderr), rewritten in place; nothing in a pipe or a log.
    if (::isatty(STDERR_FILENO)) {
      opts.progress = [](const char* what, size_t done, size_t total, uint64_t bytes) {
        std::fprintf(stderr, "\rrestoring: %zu/%zu %s, %.1f MB written", done, total, what, static_cast<double>(bytes) / 1e6);
        if (done == total) std::fputc('\n', stderr);
        std::fflush(stderr);
      };
    }
    auto restored = backup::Restore(*client, opts);
    if (!restored.ok()) {
      if (restored.status().code() == StatusCode::kNotFound && flags->if_replica_exists) {
        std::cerr << "no matching backups found\n";
        return 0;
      }
      std::cerr << "error: " << restored.status().message() << "\n";
      return 1;
    }
    if (restored->ltx) {
      char txid[20];
      std::snprintf(txid, sizeof txid, "%016llx", static_cast<unsigned long long>(restored->txid));
      std::cerr << "restored " << opts.output << " to TXID " << txid << " from " << restored->ltx_files << " LTX files\n";
    } else {
      std::cerr << "restored " << opts.output << " from generation " << restored->generation << ", snapshot " << restored->snapshot_index
                << " and " << restored->segments << " WAL segments\n";
    }
    return 0;
  };
}

}  // namespace litehouse::cli
