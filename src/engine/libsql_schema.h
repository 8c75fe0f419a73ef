// libSQL's schema that stock SQLite cannot read: a table created with libSQL's RANDOM ROWID
// (libsql-sqlite3/doc/libsql_extensions.md: `CREATE TABLE t(...) RANDOM ROWID`, new rowids drawn at
// random). The option lives in the CREATE TABLE text of sqlite_schema, which SQLite's parser, and so
// Litehouse, refuses ("malformed database schema (t) - near "ROWID""): a file holding such a table
// cannot be opened at all. Supporting it would mean forking SQLite's parser, so it is refused, and
// said clearly wherever it is met:
//   - CREATE TABLE ... RANDOM ROWID sent to the server, the client library or the shell;
//   - opening a file that holds one (serve, shell, dump, the client library's local files), and
//     restoring one from a backup: the error names the table and the feature.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace litehouse::engine {

// True when `create_sql` is a CREATE TABLE with the RANDOM ROWID option.
bool HasRandomRowid(std::string_view create_sql);

// The refusal of the statement at the start of `sql` when it is a CREATE TABLE ... RANDOM ROWID
// (SQLITE_ERROR, naming the table and the feature); nullopt for any other statement.
std::optional<Status> RefuseRandomRowid(std::string_view sql);

// `error`, met opening the database file at `path`, made clear when the schema holds a table that
// libSQL wrote with RANDOM ROWID: the message names the table and the feature. Any other error is
// returned as it is. `vfs`: the SQLite VFS the file was opened with (null: the default).
Status ExplainSchemaError(const std::string& path, const Status& error, const char* vfs = nullptr);

}  // namespace litehouse::engine
