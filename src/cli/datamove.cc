// The tools of a data move, over the client library, so each works alike on a file and a server URL:
//
//   litehouse shell TARGET [--auth-token T]        interactive on a terminal; else runs stdin as a
//                                                  script (`litehouse shell URL < dump.sql`)
//   litehouse dump TARGET [--auth-token T] [-o F]  the database as SQL text (sqlite3 .dump format)
//   litehouse migrate TARGET --dir DIR [--dry-run] apply DIR/NNN-name.sql in order, once each
//
// TARGET: a database file path (or file:PATH), a `serve --db-path` directory (its dbs/default/data,
// the layout sqld uses too), or an http(s)://, ws(s)://, libsql:// URL. The token defaults to
// $TURSO_AUTH_TOKEN, as the seed application reads it.
//
// --timeout: how long a server may stay silent before the command fails (default 300 s, longer than
// a server's query timeout), so a deploy script never hangs on a stuck server.
//
// Exit codes: 0 success; 1 the work failed (an SQL error, an unreachable server: nothing of a failed
// transaction or migration is left applied); 2 bad command line; 3 (migrate) the directory disagrees
// with the migrations the database has recorded; nothing ran.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "litehouse/client.h"
#include "tools/dump_compat.h"
#include "tools/migrate.h"
#include "tools/shell.h"

namespace litehouse::cli {
namespace {

struct TargetFlags {
  std::string target;
  std::string auth_token;
  double timeout_seconds = 300;
};

void AddTarget(CLI::App* cmd, TargetFlags* flags) {
  cmd->add_option("target", flags->target, "Database file path, or server URL (http://, https://, ws://, libsql://)")
      ->required();
  cmd->add_option("--auth-token", flags->auth_token, "Token for the server (default: $TURSO_AUTH_TOKEN)")
      ->envname("TURSO_AUTH_TOKEN");
  cmd->add_option("--timeout", flags->timeout_seconds,
                  "Seconds a server may stay silent (connecting, or before an answer) before the command fails; 0: forever")
      ->check(CLI::Range(0.0, 1e7))
      ->capture_default_str();
}

ClientOptions Options(const TargetFlags& flags, const std::string& url, bool read_only) {
  ClientOptions options;
  options.url = url;
  options.auth_token = flags.auth_token;
  options.read_only = read_only;
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(flags.timeout_seconds * 1000));
  return options;
}

bool IsUrl(const std::string& target) { return target.find("://") != std::string::npos; }

// The database a TARGET names: a URL as it is; a server's data directory as its database file.
std::string ResolveTarget(const std::string& target) {
  if (IsUrl(target)) return target;
  std::string path = target.rfind("file:", 0) == 0 ? target.substr(5) : target;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    auto data = std::filesystem::path(path) / "dbs" / "default" / "data";
    if (std::filesystem::is_regular_file(data, ec)) return data.string();
  }
  return path;
}

// Says on stderr that `target` did not open, and why; for a file another process holds (a running
// server holds its own, --file-locking exclusive), what to do instead.
void SayOpenFailed(const std::string& target, const Status& why) {
  std::cerr << "Error: cannot open " << target << ": " << why.message();
  if (!IsUrl(target) && why.message().find("database is locked") != std::string::npos) {
    std::cerr << " (another process holds the file: a litehouse server holds its database for itself while it runs, "
                 "so use the server's URL instead, or stop the server)";
  }
  std::cerr << "\n";
}

std::unique_ptr<Client> OpenTarget(const TargetFlags& flags) {
  auto client = Client::Open(Options(flags, ResolveTarget(flags.target), false));
  if (!client.ok()) {
    SayOpenFailed(flags.target, client.status());
    return nullptr;
  }
  return std::move(client).value();
}

}  // namespace

Run RegisterShell(CLI::App& app) {
  auto flags = std::make_shared<TargetFlags>();
  CLI::App* cmd = app.add_subcommand("shell", "An SQL shell on a database file or a server; runs stdin when it is not a terminal");
  AddTarget(cmd, flags.get());
  return [flags]() -> int {
    auto client = OpenTarget(*flags);
    if (!client) return 1;
    tools::Shell shell(client.get(), std::cout, std::cerr);
    if (isatty(STDIN_FILENO)) return shell.RunInteractive();
    return shell.RunScript(std::cin, isatty(STDERR_FILENO) != 0);
  };
}

Run RegisterDump(CLI::App& app) {
  auto flags = std::make_shared<TargetFlags>();
  auto output = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("dump", "Write the database as SQL text that sqlite3 and `litehouse shell` load");
  AddTarget(cmd, flags.get());
  cmd->add_option("-o,--output", *output, "Write to this file instead of standard output");
  return [flags, output]() -> int {
    const std::string target = ResolveTarget(flags->target);
    if (!IsUrl(target) && !std::filesystem::is_regular_file(target)) {
      std::cerr << "Error: no database file " << target << "\n";
      return 1;
    }
    // A dump only reads: a local file is opened as a reader, so it is never written (nor switched
    // to WAL).
    auto opened = Client::Open(Options(*flags, target, /*read_only=*/true));
    if (!opened.ok()) {
      SayOpenFailed(flags->target, opened.status());
      return 1;
    }
    // With -o, the dump goes to a temporary file renamed into place once complete: a failed dump
    // never leaves a partial file under the name asked for.
    std::string partial = output->empty() ? std::string() : *output + ".partial";
    std::ofstream file;
    if (!partial.empty()) {
      file.open(partial, std::ios::binary | std::ios::trunc);
      if (!file) {
        std::cerr << "Error: cannot write " << partial << "\n";
        return 1;
      }
    }
    std::ostream& out = partial.empty() ? std::cout : file;
    tools::DumpWarnings warnings;  // what the dump could not keep, said on stderr too
    Status s = (*opened)->Dump([&out, &warnings](std::string_view chunk) {
      warnings.Feed(chunk);
      out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      return out ? Status::OK() : Status::IoError("cannot write the dump");
    });
    out.flush();
    for (const auto& warning : warnings.warnings()) std::cerr << "Warning: " << warning << "\n";
    if (s.ok() && !out) s = Status::IoError("cannot write the dump");
    if (!partial.empty()) {
      file.close();
      if (s.ok() && file.fail()) s = Status::IoError("cannot write " + partial);
      std::error_code ec;
      if (s.ok()) std::filesystem::rename(partial, *output, ec);
      if (s.ok() && ec) s = Status::IoError("cannot rename " + partial + " to " + *output + ": " + ec.message());
      if (!s.ok()) std::filesystem::remove(partial, ec);
    }
    if (!s.ok()) {
      std::cerr << "Error: the dump failed: " << s.message() << "\n";
      return 1;
    }
    return 0;
  };
}

Run RegisterMigrate(CLI::App& app) {
  auto flags = std::make_shared<TargetFlags>();
  auto dir = std::make_shared<std::string>();
  auto dry_run = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("migrate", "Apply the migrations DIR/NNN-name.sql not yet recorded in _migrations");
  AddTarget(cmd, flags.get());
  cmd->add_option("--dir", *dir, "The migrations directory")->required();
  cmd->add_flag("--dry-run", *dry_run, "List what would be applied; change nothing");
  return [flags, dir, dry_run]() -> int {
    auto migrations = tools::LoadMigrations(*dir);
    if (!migrations.ok()) {
      std::cerr << "Error: " << migrations.status().message() << "\n";
      return migrations.status().code_name() == "MIGRATION_MISMATCH" ? 3 : 1;
    }
    auto client = OpenTarget(*flags);
    if (!client) return 1;
    tools::MigrateOptions options;
    options.dry_run = *dry_run;
    options.log = [](const std::string& line) { std::cerr << line << "\n"; };
    tools::MigrateReport report = tools::Migrate(*client, *migrations, options);
    if (*dry_run) {
      for (const auto& file : report.applied) std::cout << file << "\n";
    }
    switch (report.outcome) {
      case tools::MigrateOutcome::kDone: return 0;
      case tools::MigrateOutcome::kMismatch:
        std::cerr << "Error: " << report.status.message() << "\n";
        return 3;
      case tools::MigrateOutcome::kFailed:
        std::cerr << "Error: " << report.status.message() << "\n";
        return 1;
    }
    return 1;
  };
}

}  // namespace litehouse::cli
