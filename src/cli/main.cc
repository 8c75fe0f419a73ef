// litehouse: one binary for the server and its tools. Exit codes: 0 success, 1 runtime failure,
// 2 bad command line (unknown flag, bad value), as sqld and most Unix tools.
#include <CLI/CLI.hpp>
#include <malloc.h>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"

int main(int argc, char** argv) {
  // Request and response buffers of a few hundred KiB (an import's batches, a dump's chunks) would
  // otherwise each be mmap'd and unmapped, paying page faults on every request: a third of the
  // server's CPU on an import. Kept in the heap below 4 MiB; free heap above 16 MiB goes back to the OS.
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 16 << 20);
  CLI::App app{"Litehouse: a libSQL server (Hrana over HTTP) in one binary", "litehouse"};
  app.set_version_flag("--version", "litehouse " LITEHOUSE_VERSION);
  app.require_subcommand(1);
  auto run_serve = litehouse::cli::RegisterServe(app);
  auto run_token = litehouse::cli::RegisterToken(app);
  auto run_shell = litehouse::cli::RegisterShell(app);
  auto run_dump = litehouse::cli::RegisterDump(app);
  auto run_migrate = litehouse::cli::RegisterMigrate(app);
  auto run_restore = litehouse::cli::RegisterRestore(app);
  auto run_backup = litehouse::cli::RegisterBackup(app);
  auto run_promote = litehouse::cli::RegisterPromote(app);
  // `litehouse restore` takes `litestream restore`'s Go-style flags too (-timestamp, -if-db-not-exists):
  // CLI11 declares long options with two dashes only, so they are rewritten before parsing.
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "restore") {
    static const std::vector<std::string> kGoFlags = {"-timestamp", "-generation", "-if-db-not-exists", "-if-replica-exists",
                                                      "-output", "-config", "-no-expand-env", "-index", "-txid", "-parallelism", "-replica"};
    for (std::string& a : args) {
      if (a == "--") break;
      const std::string name = a.substr(0, a.find('='));
      if (std::find(kGoFlags.begin(), kGoFlags.end(), name) != kGoFlags.end()) a.insert(0, "-");
    }
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes them last first
  try {
    app.parse(args);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  if (app.got_subcommand("serve")) return run_serve();
  if (app.got_subcommand("token")) return run_token();
  if (app.got_subcommand("shell")) return run_shell();
  if (app.got_subcommand("dump")) return run_dump();
  if (app.got_subcommand("migrate")) return run_migrate();
  if (app.got_subcommand("restore")) return run_restore();
  if (app.got_subcommand("backup")) return run_backup();
  if (app.got_subcommand("promote")) return run_promote();
  return 2;
}
