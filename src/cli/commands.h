// The subcommands of the `litehouse` binary, one file each (serve.cc, ...). Each registers its
// options on the CLI11 app and returns the function that runs it after parsing.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace litehouse::cli {

using Run = std::function<int()>;

// `litehouse serve`: the server.
Run RegisterServe(CLI::App& app);
// `litehouse token keygen|create`: JWT keys and tokens.
Run RegisterToken(CLI::App& app);
// `litehouse shell`, `litehouse dump`, `litehouse migrate`: the tools of a data move (datamove.cc).
Run RegisterShell(CLI::App& app);
Run RegisterDump(CLI::App& app);
Run RegisterMigrate(CLI::App& app);
// `litehouse restore`: a database from a backup in Litestream's format; `litehouse backup
// generations|snapshots|wal`: what a backup holds (restore.cc).
Run RegisterRestore(CLI::App& app);
Run RegisterBackup(CLI::App& app);
// `litehouse promote`: a read replica becomes the primary (promote.cc).
Run RegisterPromote(CLI::App& app);

}  // namespace litehouse::cli
