// HiddenDirVfs: a SQLite VFS over the platform's own under which the database's directory is not
// part of any name SQLite knows.
//
// SQLite keeps the full path of every file it opens and shows it to clients: `PRAGMA database_list`
// and `pragma_database_list` would tell anyone with a token where the server keeps its data
// (/home/app/data.sqld/dbs/default/data). Under this VFS the database is opened by a relative name
// ("data"); every relative name SQLite hands the VFS ("data", "data-wal", "data-journal", a super-
// journal) is the file of that name in `dir`, and xFullPathname leaves it relative, so that is all
// SQLite ever holds and shows. Absolute names and everything else go to the platform VFS unchanged.
//
// The underlying files are the platform VFS's own, opened by their real paths: locking, the WAL
// index (-shm, which unix derives from the real path) and directory syncs behave exactly as without
// this layer. Each open file is wrapped only to own the real path the platform file keeps a pointer to.
// The platform VFS is the default one, or `platform` when named (the server's "unix-excl").
//
// Thread safety: registered once, then used by SQLite from any thread (it holds no mutable state).
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>

#include "common/status.h"

namespace litehouse::engine {

class HiddenDirVfs {
 public:
  // Registers a VFS (not the default) whose relative names are files in `dir`, over the platform VFS
  // named `platform` (null: the default).
  static Result<std::unique_ptr<HiddenDirVfs>> Register(std::string dir, const char* platform = nullptr);
  // Unregisters it: no connection may still use it.
  ~HiddenDirVfs();
  HiddenDirVfs(const HiddenDirVfs&) = delete;
  HiddenDirVfs& operator=(const HiddenDirVfs&) = delete;

  // The name to pass to sqlite3_open_v2 as its VFS.
  const char* name() const { return name_.c_str(); }
  const std::string& dir() const { return dir_; }

  struct Registration;  // internal: the sqlite3_vfs SQLite holds, and what its functions need

 private:
  HiddenDirVfs(std::string dir, std::string name);

  const std::string dir_;
  const std::string name_;
  std::unique_ptr<Registration> registered_;
};

}  // namespace litehouse::engine
