// Migrations: versioned SQL files applied once each, in order, recorded in the database.
//
// A migrations directory holds files named NNN-name.sql (NNN: the version, any number of digits;
// name: letters, digits, '-', '_'). Other files are ignored, except *.sql files whose name does not
// fit, which are an error (a typo must not silently skip a migration).
//
// The record is the table the example application and the seed deployment use:
//   _migrations(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)
//
// Each pending migration runs in one transaction of its own, in a single round trip:
//   BEGIN IMMEDIATE; INSERT INTO _migrations ...; <the file's statements>; COMMIT
// so a migration is recorded exactly when all of it applied, and a failure leaves nothing behind.
// The record goes first: if another process applied the same version meanwhile (two app instances
// starting together), the insert fails on the primary key, nothing runs twice, and the run re-reads
// the record. Files may not hold BEGIN/COMMIT/ROLLBACK/SAVEPOINT themselves.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "litehouse/client.h"

namespace litehouse::tools {

struct Migration {
  int64_t version = 0;
  std::string name;      // "create-users" for 001-create-users.sql
  std::string file;      // "001-create-users.sql"
  std::string sql;
};

// The migrations in `dir`, by version. Errors: an unreadable directory or file, a *.sql file whose
// name does not fit, two files with one version.
Result<std::vector<Migration>> LoadMigrations(const std::string& dir);

enum class MigrateOutcome {
  kDone,      // every migration is applied (maybe none was pending)
  kFailed,    // a migration failed and was rolled back; the ones before it stay applied
  kMismatch,  // the directory disagrees with the record (a version recorded under another name)
};

struct MigrateReport {
  MigrateOutcome outcome = MigrateOutcome::kDone;
  Status status;  // why, unless kDone
  std::vector<std::string> applied;  // files applied (or, in a dry run, that would be)
};

struct MigrateOptions {
  bool dry_run = false;
  std::function<void(const std::string& line)> log;  // one line per event, for stderr
};

MigrateReport Migrate(Client& client, const std::vector<Migration>& migrations, const MigrateOptions& options);

}  // namespace litehouse::tools
