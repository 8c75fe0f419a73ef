// `litehouse serve`: open the database and serve it over Hrana HTTP until SIGINT/SIGTERM.
// Flags keep sqld's names (and env vars) where they mean the same thing.
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "common/byte_size.h"
#include "auth/jwt.h"
#include "common/log.h"
#include "engine/database.h"
#include "backup/backup.h"
#include "cli/serve_backup.h"
#include "replication/frame_log.h"
#include "replication/replica.h"
#include "replication/service.h"
#include "replication/wal_capture.h"
#include "server/primary_link.h"
#include "server/server.h"

namespace litehouse::cli {
namespace {

// A duration as Go writes them, which Litestream's settings use: "250ms", "1s", "1.5s", "2m", "1h".
std::optional<std::chrono::milliseconds> ParseInterval(const std::string& text) {
  size_t end = 0;
  double value = 0;
  try {
    value = std::stod(text, &end);
  } catch (...) {
    return std::nullopt;
  }
  const std::string unit = text.substr(end);
  double ms = unit == "ms" ? value : unit == "s" ? value * 1e3 : unit == "m" ? value * 60e3 : unit == "h" ? value * 3600e3 : -1;
  if (ms < 0 || !(value >= 0) || !std::isfinite(ms) || ms > 1e12) return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

// `0` (off), or a duration of at least `least`; nullopt otherwise.
std::optional<std::chrono::milliseconds> ParseOffOrAtLeast(const std::string& text, std::chrono::milliseconds least) {
  if (text == "0") return std::chrono::milliseconds(0);
  std::optional<std::chrono::milliseconds> d = ParseInterval(text);
  if (!d || (d->count() != 0 && *d < least)) return std::nullopt;
  return d;
}

}  // namespace
namespace {

struct ServeFlags {
  std::string db_path = "data.sqld";
  std::string listen_addr = "127.0.0.1:8080";
  std::string log_level = "info";
  std::string max_request_size = "32MiB";
  std::string max_response_size = "10MB";
  std::string max_sql_length = "16MiB";
  std::string max_queued_bytes;  // empty: 4 x max_response_size
  int64_t query_timeout_ms = 60'000;
  size_t max_streams = 10'000;
  size_t max_connections = 0;  // 0: from the open-file limit (DefaultMaxConnections)
  size_t max_streams_per_client = 0;
  size_t max_streams_per_token = 0;
  size_t max_writer_waits_per_client = 256;
  std::string trusted_proxy;
  std::string max_stored_sql_size = "16MiB";
  std::string auth_jwt_key_file;
  std::string http_auth;
  int64_t stream_expiry_ms = 10'000;
  int64_t max_snapshot_wal_growth_frames = 65'536;
  double txn_timeout_s = 5;  // sqld's TXN_TIMEOUT
  uint64_t max_log_size_mb = 200;  // sqld's --max-log-size
  std::string backup_url;          // continuous backup in Litestream's layout; empty: none
  std::string backup_config;       // a Litestream config file (litestream.yml)
  std::string backup_interval = "1s";
  std::string backup_snapshot_interval;  // empty: every retention period, as Litestream
  std::string backup_retention = "24h";
  std::string backup_coalesce = "1m";
  double max_log_duration_s = 0;   // sqld's --max-log-duration; 0: none
  std::string primary_url;         // a read replica of this primary; empty: a primary
  std::string primary_auth_token;  // the token a replica presents to its primary
  std::string grpc_listen_addr;    // a second listener for replication (sqld's); empty: none
  int64_t replica_read_wait_ms = 5000;  // how long a replica's read waits for an index
  std::string durability = "relaxed";
  std::string file_locking = "exclusive";
  size_t max_db_connections = 64;
  int sql_threads = 8;
};

// Logs why the database at `opts.path` did not open, and what to do when another process holds it.
void LogOpenFailure(const engine::DatabaseOptions& opts, const Status& why) {
  LH_LOG_ERROR("cannot open database {}: {}", opts.path, why.ToString());
  if (why.IsSqlite() && (why.sqlite_code() & 0xff) == SQLITE_BUSY) {
    LH_LOG_ERROR("another process has the database file open{}: stop it first", opts.exclusive_file ? " (the server holds the file for itself, --file-locking exclusive)" : "");
  }
}

// "host:port" or "[v6]:port" -> host, port. False if malformed.
bool SplitHostPort(const std::string& addr, std::string* host, uint16_t* port) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon + 1 == addr.size()) return false;
  std::string h = addr.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty()) return false;
  unsigned long p = 0;
  for (size_t i = colon + 1; i < addr.size(); ++i) {
    if (addr[i] < '0' || addr[i] > '9') return false;
    p = p * 10 + static_cast<unsigned long>(addr[i] - '0');
    if (p > 65535) return false;
  }
  *host = h == "localhost" ? "127.0.0.1" : h;
  *port = static_cast<uint16_t>(p);
  return true;
}

// The replication log's options from the flags (sqld's --max-log-size in MB, --max-log-duration in s).
replication::FrameLogOptions LogOptions(const ServeFlags& flags, const std::string& dir, engine::Database* db) {
  replication::FrameLogOptions o;
  o.dir = dir;
  o.db = db;
  o.max_log_frames = std::max<uint64_t>(1, flags.max_log_size_mb * 1'000'000 / replication::kLogFrameBytes);
  o.max_log_age = std::chrono::milliseconds(static_cast<int64_t>(flags.max_log_duration_s * 1000));
  return o;
}

// A read replica (--primary-url): boots from the backup (--backup-url or --backup-config, read only)
// or else bootstraps from the primary if it has no copy yet, serves its copy
// read-only while a thread tails the primary's log into it, and relays writes to the primary
// (replication/replica.h, server/replica_forward.h). POST /replication/promote turns it into the
// primary: the tail stops, the WAL is emptied into the file, a new history of the log begins from it,
// and the commit capture starts; the `promoted` file then refuses a restart as a replica.
int ServeReplica(const ServeFlags& flags, engine::DatabaseOptions db_opts, const std::string& dir, server::ServerOptions opts,
                 std::vector<BackupTarget> boot_from) {
  auto target = server::PrimaryTarget::Parse(flags.primary_url, flags.primary_auth_token);
  if (!target.ok()) {
    std::cerr << "error: " << target.status().message() << "\n";
    return 2;
  }
  const std::string promoted_marker = dir + "/promoted";
  std::error_code ec;
  if (std::filesystem::exists(promoted_marker, ec)) {
    LH_LOG_ERROR("this node was promoted to primary ({} exists): start it without --primary-url, or remove the "
                 "database directory to make it a replica again",
                 promoted_marker);
    return 1;
  }
  server::PrimaryLogSource source(*target, flags.listen_addr);
  replication::ReplicaOptions replica_opts;
  replica_opts.db_path = db_opts.path;
  replica_opts.dir = dir;
  replica_opts.primary = flags.primary_url;
  LH_LOG_INFO("litehouse {} replica of {}", LITEHOUSE_VERSION, flags.primary_url);
  // On an empty volume, from the backup first, when it says which frame of the primary's log it holds.
  if (!std::filesystem::exists(dir + "/replica-position", ec)) (void)BootReplicaFromBackup(boot_from, db_opts.path, dir);
  auto replica = replication::Replica::Prepare(replica_opts, &source, nullptr);
  if (!replica.ok()) {
    LH_LOG_ERROR("the replica cannot start: {}", replica.status().ToString());
    return 1;
  }
  // The commit capture is wired in from the start, and started only by a promotion. Declared before
  // the database, so that they outlive it.
  replication::WalCapture capture(db_opts.path);
  std::unique_ptr<replication::FrameLog> frame_log;
  db_opts.commit_observer = &capture;
  auto db = engine::Database::Open(db_opts);
  if (!db.ok()) {
    LogOpenFailure(db_opts, db.status());
    return 1;
  }
  auto link = std::make_shared<server::ReplicaLink>();
  link->primary = *target;
  link->replica = replica->get();
  link->read_wait = std::chrono::milliseconds(flags.replica_read_wait_ms);
  opts.replica = link;
  opts.replication = nullptr;
  std::atomic<server::Server*> running{nullptr};  // set while the server runs: progress wakes its waiters
  std::mutex promote_mu;
  auto notify = [&running](uint64_t) {
    if (server::Server* s = running.load()) s->NotifyProgress();
  };
  opts.promote = [&]() -> Result<std::shared_ptr<const replication::ReplicationService>> {
    std::lock_guard<std::mutex> lock(promote_mu);
    if (frame_log) return Status::InvalidArgument("this replica was promoted already");
    LH_LOG_WARN("promoting this replica of {} to primary", flags.primary_url);
    if (!boot_from.empty()) {
      LH_LOG_WARN("the backup it booted from ({}) is not written by this node until it is restarted as a primary with it",
                  boot_from.front().url);
    }
    (*replica)->Stop();
    // The new history starts from the file: every applied transaction must be in it, not in the WAL.
    Status empty;
    for (int attempt = 0; attempt < 100; ++attempt) {
      empty = (*db)->Checkpoint(SQLITE_CHECKPOINT_TRUNCATE);
      if (empty.ok()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!empty.ok()) {
      (*replica)->Start(db->get(), notify);
      return Status::Unavailable("the WAL could not be emptied (readers held it for 2 s): " + empty.message());
    }
    // Whatever log this directory held is another history (this node's, from before it was a replica).
    for (const char* name : {"wallog", ".sentinel"}) std::filesystem::remove(dir + "/" + name, ec);
    std::filesystem::remove_all(dir + "/snapshots", ec);
    auto log = replication::FrameLog::Open(LogOptions(flags, dir, db->get()));
    if (!log.ok()) {
      (*replica)->Start(db->get(), notify);
      return Status::Unavailable("the replication log could not start: " + log.status().message());
    }
    frame_log = std::move(log).value();
    capture.AddSink(frame_log.get());
    if (Status started = capture.Start(); !started.ok()) {
      LH_LOG_ERROR("capturing commits could not start after the promotion: {}", started.ToString());
      frame_log->OnCaptureLost(started);
    }
    frame_log->SetListener([&running] {
      if (server::Server* s = running.load()) s->NotifyProgress();
    });
    // A restart must not make it a replica again (and overwrite what it is now the primary of).
    if (FILE* f = std::fopen(promoted_marker.c_str(), "w")) {
      std::fputs(("promoted from a replica of " + flags.primary_url + "; history " + frame_log->log_id() + "\n").c_str(), f);
      std::fclose(f);
    }
    std::filesystem::remove(dir + "/replica-position", ec);
    LH_LOG_WARN("promoted: this node is the primary now, history {}", frame_log->log_id());
    return std::shared_ptr<const replication::ReplicationService>(
        std::make_shared<replication::ReplicationService>(frame_log.get(), ""));
  };
  auto server = server::Server::Start(**db, opts);
  if (!server.ok()) {
    LH_LOG_ERROR("{}", server.status().message());
    return 1;
  }
  source.set_name(opts.listen_host + ":" + std::to_string((*server)->port()));
  running = server->get();
  (*replica)->Start(db->get(), notify);
  (*server)->Wait();
  (*replica)->Stop();
  if (frame_log) frame_log->SetListener(nullptr);
  running = nullptr;
  server->reset();
  LH_LOG_INFO("stopped");
  return 0;
}

// Every connection is a file descriptor: take the whole allowance the system grants (the soft limit
// is often 1024, too few for a thousand WebSocket clients), as servers do. Returns the soft limit in
// force afterwards (0 if unknown).
uint64_t RaiseFileLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    rlim_t wanted = lim.rlim_max;
    lim.rlim_cur = wanted;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) LH_LOG_WARN("cannot raise the open-file limit to {}", wanted);
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  }
  return lim.rlim_cur == RLIM_INFINITY ? 0 : static_cast<uint64_t>(lim.rlim_cur);
}

// --max-connections when not given: the open-file limit less what the server keeps for itself (the
// database's files on every SQLite connection, the log, the event loop), so that a flood of clients
// meets a clear 503 rather than a failing accept().
size_t DefaultMaxConnections(uint64_t file_limit) {
  if (file_limit == 0) return 10'000;
  uint64_t reserve = std::min<uint64_t>(256, file_limit / 2);
  return static_cast<size_t>(std::max<uint64_t>(1, file_limit - reserve));
}

bool IsLoopback(const std::string& host) {
  return host.rfind("127.", 0) == 0 || host == "::1" || host == "localhost";
}

// The credentials the server accepts: keys from --auth-jwt-key-file or SQLD_AUTH_JWT_KEY, and the
// basic credential of --http-auth. Bad input is an error (exit 2); none is open access, as sqld,
// with a warning when the address is reachable beyond this machine.
Result<std::shared_ptr<const server::AuthGate>> MakeAuthGate(const ServeFlags& flags, const std::string& host) {
  auth::KeySet keys;
  if (!flags.auth_jwt_key_file.empty()) {
    auto loaded = auth::KeySet::FromFile(flags.auth_jwt_key_file);
    if (!loaded.ok()) return Status::InvalidArgument("--auth-jwt-key-file: " + loaded.status().message());
    keys = std::move(loaded).value();
  } else if (const char* raw = std::getenv("SQLD_AUTH_JWT_KEY"); raw && *raw) {
    auto parsed = auth::KeySet::Parse(raw);
    if (!parsed.ok()) return Status::InvalidArgument("SQLD_AUTH_JWT_KEY: " + parsed.status().message());
    keys = std::move(parsed).value();
  }
  std::optional<auth::BasicAuth> basic;
  if (!flags.http_auth.empty()) {
    auto parsed = auth::BasicAuth::Parse(flags.http_auth);
    if (!parsed.ok()) return Status::InvalidArgument("--http-auth: " + parsed.status().message());
    basic = std::move(parsed).value();
  }
  auto gate = std::make_shared<const server::AuthGate>(std::move(keys), std::move(basic));
  if (gate->enabled()) {
    LH_LOG_INFO("authentication on: {}{}", flags.auth_jwt_key_file.empty() && !std::getenv("SQLD_AUTH_JWT_KEY") ? "" : "JWT",
                flags.http_auth.empty() ? "" : " basic");
  } else if (!IsLoopback(host)) {
    LH_LOG_WARN("no authentication configured and listening on {}: anyone who can reach it can read and write the "
                "database (set --auth-jwt-key-file or SQLD_AUTH_JWT_KEY)", host);
  }
  return gate;
}

}  // namespace

Run RegisterServe(CLI::App& app) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve a database over Hrana (HTTP)");
  cmd->add_option("--db-path", flags->db_path,
                  "Database directory; the database file is <dir>/dbs/default/data, as sqld lays it out")
      ->envname("SQLD_DB_PATH")
      ->capture_default_str();
  cmd->add_option("--http-listen-addr", flags->listen_addr, "Address to serve Hrana over HTTP on (port 0: any free port)")
      ->envname("SQLD_HTTP_LISTEN_ADDR")
      ->capture_default_str();
  cmd->add_option("--log-level", flags->log_level, "trace, debug, info, warn, error or off")
      ->envname("LITEHOUSE_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  auto size_check = CLI::Validator(
      [](std::string& v) { return ParseByteSize(v) ? std::string() : "not a size (e.g. 1048576, 512KB, 10MB, 32MiB)"; },
      "SIZE");
  cmd->add_option("--max-request-size", flags->max_request_size,
                  "Largest HTTP request body or WebSocket message (e.g. 32MiB); larger gets 413 / close 1009")
      ->envname("LITEHOUSE_MAX_REQUEST_SIZE")
      ->check(size_check)
      ->capture_default_str();
  cmd->add_option("--max-response-size", flags->max_response_size,
                  "Most bytes of rows one request may return; more fails with RESPONSE_TOO_LARGE")
      ->envname("SQLD_MAX_RESPONSE_SIZE")
      ->check(size_check)
      ->capture_default_str();
  cmd->add_option("--max-queued-bytes-per-connection", flags->max_queued_bytes,
                  "Most bytes of responses one connection may leave unread: past half, its requests are no longer "
                  "read; past it, a WebSocket is closed 1008 and an HTTP pipeline's further requests fail "
                  "RESPONSE_TOO_LARGE. Default: 4 x --max-response-size")
      ->envname("LITEHOUSE_MAX_QUEUED_BYTES_PER_CONNECTION")
      ->check(size_check);
  cmd->add_option("--max-sql-length", flags->max_sql_length, "Longest SQL text of one statement")
      ->envname("LITEHOUSE_MAX_SQL_LENGTH")
      ->check(size_check)
      ->capture_default_str();
  cmd->add_option("--query-timeout-ms", flags->query_timeout_ms,
                  "A statement running longer is interrupted (SQLITE_INTERRUPT); 0: no limit")
      ->envname("LITEHOUSE_QUERY_TIMEOUT_MS")
      ->check(CLI::Range(int64_t{0}, int64_t{86'400'000}))
      ->capture_default_str();
  cmd->add_option("--max-streams", flags->max_streams, "Most Hrana streams open at once, HTTP and WebSocket together")
      ->envname("LITEHOUSE_MAX_STREAMS")
      ->check(CLI::Range(size_t{1}, size_t{10'000'000}))
      ->capture_default_str();
  cmd->add_option("--max-connections", flags->max_connections,
                  "Most client connections open at once (HTTP and WebSocket); one more is answered 503 "
                  "CONNECTIONS_EXHAUSTED. Default: the open-file limit less 256 (less half of it if that is small)")
      ->envname("LITEHOUSE_MAX_CONNECTIONS")
      ->check(CLI::Range(size_t{1}, size_t{10'000'000}));
  cmd->add_option("--max-streams-per-client", flags->max_streams_per_client,
                  "Most streams one client (IP address; an IPv6 /64) may have open; 0: a tenth of --max-streams")
      ->envname("LITEHOUSE_MAX_STREAMS_PER_CLIENT")
      ->check(CLI::Range(size_t{0}, size_t{10'000'000}))
      ->capture_default_str();
  cmd->add_option("--max-streams-per-token", flags->max_streams_per_token,
                  "Most streams one credential (JWT or basic) may have open; 0: no such limit")
      ->envname("LITEHOUSE_MAX_STREAMS_PER_TOKEN")
      ->check(CLI::Range(size_t{0}, size_t{10'000'000}))
      ->capture_default_str();
  cmd->add_option("--max-writer-waits-per-client", flags->max_writer_waits_per_client,
                  "Most requests of one client waiting for the writer at once; more fail at once with WRITER_QUEUE_FULL")
      ->envname("LITEHOUSE_MAX_WRITER_WAITS_PER_CLIENT")
      ->check(CLI::Range(size_t{1}, size_t{10'000'000}))
      ->capture_default_str();
  cmd->add_option("--trusted-proxy", flags->trusted_proxy,
                  "Addresses or networks (comma-separated, e.g. 10.0.0.0/8) of proxies whose Fly-Client-IP / "
                  "X-Forwarded-For headers name the client for the per-client limits; by default none is trusted")
      ->envname("LITEHOUSE_TRUSTED_PROXY");
  cmd->add_option("--max-stored-sql-size", flags->max_stored_sql_size,
                  "Most bytes of SQL text one HTTP stream or one WebSocket connection may keep with store_sql")
      ->envname("LITEHOUSE_MAX_STORED_SQL_SIZE")
      ->check(size_check)
      ->capture_default_str();
  cmd->add_option("--max-snapshot-wal-growth-frames", flags->max_snapshot_wal_growth_frames,
                  "A GET /dump or a streamed cursor holds one snapshot while its client reads; once commits have added "
                  "this many frames (4 KiB pages) to the WAL since it began, it is ended so that checkpoints can go on; 0: never")
      ->envname("LITEHOUSE_MAX_SNAPSHOT_WAL_GROWTH_FRAMES")
      ->check(CLI::Range(int64_t{0}, int64_t{1'000'000'000}))
      ->capture_default_str();
  cmd->add_option("--stream-expiry-ms", flags->stream_expiry_ms,
                  "An HTTP stream idle this long expires; its open transaction is rolled back")
      ->envname("LITEHOUSE_STREAM_EXPIRY_MS")
      ->check(CLI::Range(int64_t{100}, int64_t{3'600'000}))
      ->capture_default_str();
  cmd->add_option("--auth-jwt-key-file", flags->auth_jwt_key_file,
                  "Ed25519 public key(s) for JWT auth: PEM (several allowed) or one raw key in base64url; "
                  "SQLD_AUTH_JWT_KEY may hold a key directly")
      ->envname("SQLD_AUTH_JWT_KEY_FILE");
  cmd->add_option("--http-auth", flags->http_auth, "Basic auth for HTTP: basic:<base64 of user:password>")
      ->envname("SQLD_HTTP_AUTH");
  cmd->add_option("--durability", flags->durability,
                  "relaxed: synchronous=NORMAL, a crash of the process loses nothing (sqld's default); strong: "
                  "synchronous=FULL, every acknowledged commit is on disk, concurrent writes share one sync (group "
                  "commit); extra: synchronous=EXTRA; off: synchronous=OFF")
      ->envname("LITEHOUSE_DURABILITY")
      ->check(CLI::IsMember({"relaxed", "strong", "extra", "off"}))
      ->capture_default_str();
  cmd->add_option("--file-locking", flags->file_locking,
                  "exclusive: the server holds the database file for itself while it runs (SQLite's unix-excl VFS), "
                  "so no other process can open it and write behind the replication log and the backup, and "
                  "locks cost no system call; shared: SQLite's default locking, which lets other processes "
                  "open the file (a sqlite3 shell that only reads; anything else that writes is missed by "
                  "replication and backup)")
      ->envname("LITEHOUSE_FILE_LOCKING")
      ->check(CLI::IsMember({"exclusive", "shared"}))
      ->capture_default_str();
  cmd->add_option("--max-db-connections", flags->max_db_connections,
                  "SQLite connections the clients' streams may hold at once (open transactions and running "
                  "requests); past it a request waits for one; 0: no bound")
      ->envname("LITEHOUSE_MAX_DB_CONNECTIONS")
      ->check(CLI::Range(size_t{0}, size_t{100'000}))
      ->capture_default_str();
  cmd->add_option("--backup-url", flags->backup_url,
                  "Back the database up continuously, in Litestream 0.3's layout, to this URL (file:///path)")
      ->envname("LITEHOUSE_BACKUP_URL");
  cmd->add_option("--backup-config", flags->backup_config,
                  "Back up as this Litestream config file (litestream.yml) says: its entry for the served database, or its "
                  "only one (default $LITESTREAM_CONFIG; /etc/litestream.yml when it names the served database)");
  cmd->add_option("--backup-interval", flags->backup_interval,
                  "How often committed transactions are shipped to the backup (10ms to 1h, e.g. 1s, 250ms)")
      ->envname("LITEHOUSE_BACKUP_INTERVAL")
      ->capture_default_str();
  cmd->add_option("--backup-snapshot-interval", flags->backup_snapshot_interval,
                  "How often the backup takes a new snapshot (e.g. 6h, 30m); default: every retention period, as Litestream")
      ->envname("LITEHOUSE_BACKUP_SNAPSHOT_INTERVAL");
  cmd->add_option("--backup-coalesce", flags->backup_coalesce,
                  "Once a window this long is over, its WAL segments become one object per WAL index (point in time "
                  "then to the window for older times; 0: never)")
      ->envname("LITEHOUSE_BACKUP_COALESCE")
      ->capture_default_str();
  cmd->add_option("--backup-retention", flags->backup_retention,
                  "How long snapshots and WAL segments are kept for point-in-time restore (e.g. 24h, 72h; 0: forever)")
      ->envname("LITEHOUSE_BACKUP_RETENTION")
      ->capture_default_str();
  cmd->add_option("--max-log-size", flags->max_log_size_mb,
                  "Size in MB past which the replication log is compacted into a snapshot (sqld's)")
      ->envname("SQLD_MAX_LOG_SIZE")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000}))
      ->capture_default_str();
  cmd->add_option("--max-log-duration", flags->max_log_duration_s,
                  "Seconds after which the replication log is compacted whatever its size (sqld's); 0: only by size")
      ->envname("SQLD_MAX_LOG_DURATION")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  cmd->add_option("--txn-timeout-s", flags->txn_timeout_s,
                  "A transaction that has held the write lock this many seconds while another writer waits is "
                  "rolled back, and the waiter goes on (sqld's txn_timeout_s)")
      ->envname("LITEHOUSE_TXN_TIMEOUT_S")
      ->check(CLI::Range(0.01, 86400.0))
      ->capture_default_str();
  cmd->add_option("--primary-url,--primary-grpc-url", flags->primary_url,
                  "Run as a read replica of the primary at this URL (http://HOST:PORT: its HTTP port, or its "
                  "--grpc-listen-addr): bootstrap from it, tail its log, relay writes to it")
      ->envname("SQLD_PRIMARY_URL");
  cmd->add_option("--primary-auth-token", flags->primary_auth_token,
                  "The token a replica presents to its primary for the log (a JWT the primary accepts)")
      ->envname("LITEHOUSE_PRIMARY_AUTH_TOKEN");
  cmd->add_option("--replica-read-wait-ms", flags->replica_read_wait_ms,
                  "On a replica: how long a read waits for the replica to apply its client's last write (or the "
                  "request's replication_index) before it fails REPLICATION_TIMEOUT")
      ->envname("LITEHOUSE_REPLICA_READ_WAIT_MS")
      ->check(CLI::Range(int64_t{1}, int64_t{600'000}))
      ->capture_default_str();
  cmd->add_option("--grpc-listen-addr", flags->grpc_listen_addr,
                  "Also serve on this HOST:PORT (where sqld serves replication; its replicas point there); the "
                  "same endpoints as the HTTP port, over HTTP/1.1")
      ->envname("SQLD_GRPC_LISTEN_ADDR");
  cmd->add_option("--sql-threads", flags->sql_threads, "Threads that run SQL")->check(CLI::Range(1, 256))->capture_default_str();

  return [flags]() -> int {
    InitLogging(flags->log_level);
    uint64_t file_limit = RaiseFileLimit();
    server::ServerOptions opts;
    if (!SplitHostPort(flags->listen_addr, &opts.listen_host, &opts.listen_port)) {
      std::cerr << "error: --http-listen-addr: expected HOST:PORT, got '" << flags->listen_addr << "'\n";
      return 2;
    }
    opts.max_request_body_bytes = *ParseByteSize(flags->max_request_size);
    opts.max_response_bytes = *ParseByteSize(flags->max_response_size);
    opts.max_queued_bytes_per_connection = flags->max_queued_bytes.empty()
                                               ? std::max<size_t>(4 * opts.max_response_bytes, 1 << 20)
                                               : *ParseByteSize(flags->max_queued_bytes);
    if (opts.max_queued_bytes_per_connection < (64 << 10)) {
      std::cerr << "error: --max-queued-bytes-per-connection must be at least 64KiB\n";
      return 2;
    }
    opts.max_streams = flags->max_streams;
    opts.max_connections = flags->max_connections ? flags->max_connections : DefaultMaxConnections(file_limit);
    LH_LOG_INFO("open-file limit {}; at most {} client connections", file_limit, opts.max_connections);
    opts.max_streams_per_client = flags->max_streams_per_client;
    opts.max_streams_per_token = flags->max_streams_per_token;
    opts.max_writer_waits_per_client = flags->max_writer_waits_per_client;
    if (!flags->trusted_proxy.empty()) {
      auto proxies = server::TrustedProxies::Parse(flags->trusted_proxy);
      if (!proxies.ok()) {
        std::cerr << "error: " << proxies.status().message() << "\n";
        return 2;
      }
      opts.trusted_proxies = std::move(proxies).value();
    }
    uint64_t max_sql = *ParseByteSize(flags->max_sql_length);
    opts.max_sql_length = static_cast<size_t>(std::min<uint64_t>(max_sql, 1'000'000'000));
    opts.max_stored_sql_bytes = static_cast<size_t>(*ParseByteSize(flags->max_stored_sql_size));
    if (opts.max_stored_sql_bytes == 0) {
      std::cerr << "error: --max-stored-sql-size must be at least 1 byte\n";
      return 2;
    }
    opts.stream_expiry = std::chrono::milliseconds(flags->stream_expiry_ms);
    opts.max_snapshot_wal_growth_frames = flags->max_snapshot_wal_growth_frames;
    if (!flags->grpc_listen_addr.empty() &&
        !SplitHostPort(flags->grpc_listen_addr, &opts.grpc_listen_host, &opts.grpc_listen_port)) {
      std::cerr << "error: --grpc-listen-addr: expected HOST:PORT, got '" << flags->grpc_listen_addr << "'\n";
      return 2;
    }
    opts.sql_threads = flags->sql_threads;

    auto gate = MakeAuthGate(*flags, opts.listen_host);
    if (!gate.ok()) {
      std::cerr << "error: " << gate.status().message() << "\n";
      return 2;
    }
    opts.auth = std::move(gate).value();

    std::filesystem::path dir = std::filesystem::path(flags->db_path) / "dbs" / "default";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      LH_LOG_ERROR("cannot create database directory {}: {}", dir.string(), ec.message());
      return 1;
    }
    engine::DatabaseOptions db_opts;
    db_opts.path = (dir / "data").string();
    db_opts.guard.max_sql_length_bytes = static_cast<int>(std::min<uint64_t>(max_sql, 1'000'000'000));
    if (opts.max_response_bytes > 0) {
      db_opts.guard.max_value_length_bytes = static_cast<int>(std::min<uint64_t>(opts.max_response_bytes, 1'000'000'000));
    }
    db_opts.hide_directory = true;  // clients see "data" in PRAGMA database_list, not where it lives
    db_opts.exclusive_file = flags->file_locking == "exclusive";
    db_opts.guard.query_timeout = std::chrono::milliseconds(flags->query_timeout_ms);
    db_opts.txn_timeout = std::chrono::milliseconds(static_cast<int64_t>(flags->txn_timeout_s * 1000));
    db_opts.max_connections = flags->max_db_connections;
    db_opts.durability = flags->durability == "strong"  ? engine::Durability::kStrong
                         : flags->durability == "extra" ? engine::Durability::kExtra
                         : flags->durability == "off"   ? engine::Durability::kOff
                                                        : engine::Durability::kRelaxed;
    std::optional<std::chrono::milliseconds> backup_interval = ParseInterval(flags->backup_interval);
    if (!backup_interval || *backup_interval < std::chrono::milliseconds(10) || *backup_interval > std::chrono::hours(1)) {
      std::cerr << "error: --backup-interval " << flags->backup_interval << ": expected a duration from 10ms to 1h (e.g. 1s, 250ms)\n";
      return 2;
    }
    std::optional<std::chrono::milliseconds> snapshot_interval = std::chrono::milliseconds(0);
    if (!flags->backup_snapshot_interval.empty()) snapshot_interval = ParseInterval(flags->backup_snapshot_interval);
    if (!snapshot_interval || (!flags->backup_snapshot_interval.empty() && *snapshot_interval < std::chrono::milliseconds(10))) {
      std::cerr << "error: --backup-snapshot-interval " << flags->backup_snapshot_interval << ": expected a duration of 10ms or more (e.g. 6h, 30m)\n";
      return 2;
    }
    std::optional<std::chrono::milliseconds> retention = ParseOffOrAtLeast(flags->backup_retention, std::chrono::seconds(1));
    if (!retention) {
      std::cerr << "error: --backup-retention " << flags->backup_retention << ": expected a duration of 1s or more (e.g. 24h), or 0 to keep everything\n";
      return 2;
    }
    std::optional<std::chrono::milliseconds> coalesce = ParseOffOrAtLeast(flags->backup_coalesce, std::chrono::milliseconds(100));
    if (!coalesce) {
      std::cerr << "error: --backup-coalesce " << flags->backup_coalesce << ": expected a duration of 100ms or more (e.g. 1m), or 0 for never\n";
      return 2;
    }
    auto backups = PlanBackups(BackupFlags{flags->backup_url, flags->backup_config, *backup_interval, *snapshot_interval, *retention, *coalesce},
                               db_opts.path);
    if (!backups.ok()) {
      std::cerr << "error: " << backups.status().message() << "\n";
      return 2;
    }
    if (!flags->primary_url.empty()) {
      // A replica reads the backup only to boot from it; the primary writes it.
      return ServeReplica(*flags, db_opts, dir.string(), std::move(opts), std::move(*backups));
    }
    // A replica promoted before, started as the primary now: what made it a replica goes, and so does
    // the mark that refused a restart as a replica (the operator has changed its configuration).
    std::filesystem::remove(dir / "replica-position", ec);
    std::filesystem::remove(dir / "promoted", ec);
    // Boot from the backup (the seed's replica boot): a data directory without a database is
    // restored from the backup's latest state before anything is served. An existing database is
    // never overwritten; its backup goes on in a new generation.
    if (Status booted = BootFromBackup(*backups, db_opts.path); !booted.ok()) {
      LH_LOG_ERROR("{}", booted.message());
      return 1;
    }
    // The replication log and the backup (replication/DESIGN.md, backup/backup.h): every commit's
    // pages, captured from the WAL while the write lock is held. Declared before the database, so
    // that they outlive it.
    replication::WalCapture capture(db_opts.path);
    std::unique_ptr<replication::FrameLog> frame_log;
    std::vector<std::unique_ptr<backup::Backup>> running_backups;
    db_opts.commit_observer = &capture;
    auto db = engine::Database::Open(db_opts);
    if (!db.ok()) {
      LogOpenFailure(db_opts, db.status());
      return 1;
    }
    // The backup's shipper reads snapshots through the database: it stops before the database
    // closes, on every way out.
    struct StopBackupsFirst {
      std::vector<std::unique_ptr<backup::Backup>>& backups;
      ~StopBackupsFirst() {
        for (auto& b : backups) (void)b->Stop();
      }
    } stop_backups_first{running_backups};
    {
      std::string why_not;
      Status empty = (*db)->Checkpoint(SQLITE_CHECKPOINT_TRUNCATE);
      if (!empty.ok()) {
        why_not = "the database's WAL could not be emptied at start: " + empty.message();
      } else {
        auto log = replication::FrameLog::Open(LogOptions(*flags, dir.string(), db->get()));
        if (!log.ok()) {
          why_not = "this server keeps no replication log: " + log.status().message();
        } else {
          frame_log = std::move(log).value();
          capture.AddSink(frame_log.get());
        }
      }
      if (!backups->empty() && !empty.ok()) {
        LH_LOG_ERROR("no backup: the database's WAL could not be emptied at start: {}", empty.message());
        return 1;
      }
      for (BackupTarget& target : *backups) {
        target.options.db = db->get();
        if (frame_log) {
          // Which frame of the replication log each backed-up state is (a replica boots from it).
          target.options.log_position = [log = frame_log.get()]() -> std::optional<backup::LogPosition> {
            std::optional<replication::FrameLog::Head> head = log->head();
            if (!head) return std::nullopt;
            return backup::LogPosition{std::move(head->log_id), head->next_frame_no};
          };
        }
        auto b = std::make_unique<backup::Backup>(std::move(target.client), std::move(target.options));
        if (Status s = b->Start(); !s.ok()) {
          LH_LOG_ERROR("the backup to {} could not start: {}", target.url, s.ToString());
          return 1;
        }
        capture.AddSink(b.get());
        running_backups.push_back(std::move(b));
      }
      if (empty.ok()) {
        if (Status started = capture.Start(); !started.ok()) {
          LH_LOG_ERROR("capturing commits could not start: {}", started.ToString());
          return 1;
        }
      }
      if (!why_not.empty()) LH_LOG_WARN("{}; replicas and embedded replicas are refused", why_not);
      opts.replication = std::make_shared<replication::ReplicationService>(frame_log.get(), why_not);
    }
    if (!running_backups.empty()) opts.backup_status = [&running_backups] { return BackupStatusJson(running_backups); };
    LH_LOG_INFO("litehouse {} serving database {}", LITEHOUSE_VERSION, db_opts.path);
    auto server = server::Server::Start(**db, opts);
    if (!server.ok()) {
      LH_LOG_ERROR("{}", server.status().message());
      return 1;
    }
    if (frame_log) frame_log->SetListener([s = server->get()] { s->NotifyProgress(); });
    (*server)->Wait();
    if (frame_log) frame_log->SetListener(nullptr);
    server->reset();
    for (auto& b : running_backups) {
      // What the last tick did not ship, before the process goes.
      if (Status s = b->Stop(); !s.ok()) LH_LOG_ERROR("the last backup upload failed: {}", s.ToString());
    }
    LH_LOG_INFO("stopped");
    return 0;
  };
}

}  // namespace litehouse::cli
