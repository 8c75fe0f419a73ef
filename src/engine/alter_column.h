// ALTER COLUMN: libSQL's `ALTER TABLE t ALTER COLUMN c TO c <new definition>` on stock SQLite,
// without forking its parser (libsql-sqlite3/doc/libsql_extensions.md, "Altering columns").
//
// What libSQL does (alter.c, libsqlAlterAlterColumn) and so do we:
//   - the statement is ALTER TABLE [schema.]table ALTER COLUMN name TO name <column-args>; the text
//     after TO, up to the statement's end (a trailing `;` dropped), is the column's new definition;
//   - the name after TO must be the column's own, written the same way (a rename is refused:
//     `UPDATE cannot also rename column: "a" to "b". Use ALTER TABLE RENAME instead`);
//   - the table must be a real one ("table sqlite_x may not be altered"; views and virtual tables
//     refused), the column one of its own (`no such column: "c"`);
//   - the column's definition in the CREATE TABLE text of sqlite_schema is replaced by the new one:
//     type, NOT NULL, DEFAULT, CHECK, REFERENCES, COLLATE. Rows are neither rewritten nor checked
//     again. Changing whether it is the PRIMARY KEY, UNIQUE or GENERATED is refused ("error in adding
//     <def> to <table>: PRIMARY KEY constraint cannot be altered").
//
// How, on stock SQLite: the statement is recognised by a small tokenizer before SQLite sees it, and
// stands for a write that SQLite can prepare, `DELETE FROM [schema.]table WHERE 0`: the engine
// classifies it as a write (so it takes the write lock), the guard's authorizer refuses it to a
// read-only token, and SQLite's own errors name a missing table. Stepping it first runs the change:
// the new CREATE TABLE text is made with the tokenizer, checked by creating the table in a scratch
// in-memory database, and written with writable_schema and a schema_version bump (every connection
// then reloads the schema), all in one SAVEPOINT: it happens whole, inside the client's transaction
// if there is one, or not at all. The write goes through the WAL like any other, so replicas and
// backups get it.
#pragma once

#include <sqlite3.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace litehouse::engine {

struct AlterColumn {
  std::string schema;       // as written, dequoted; empty when not given
  std::string table;        // dequoted
  std::string column;       // dequoted
  std::string column_token; // the column's name as written (quotes included), for messages
  std::string definition;   // the new definition, from the name after TO, `;` and spaces dropped
  size_t length = 0;        // bytes of `sql` the statement takes, its `;` included
};

// The ALTER COLUMN statement at the start of `sql` (after spaces and comments), or nullopt when it
// is not one (SQLite then parses `sql` as usual). An error when it is one but malformed or renames.
std::optional<Result<AlterColumn>> MatchAlterColumn(std::string_view sql);

// The statement SQLite prepares in its place (see above).
std::string StandInStatement(const AlterColumn& alter);

// Checks the change against the database as it is now; the error is the one the statement fails
// with (SQLITE_ERROR, libSQL's message).
Status CheckAlterColumn(sqlite3* db, const AlterColumn& alter);

// Makes the change on `db` (which holds the write lock), in one savepoint. The caller lets the
// engine's own statements past the guard and turns SQLITE_DBCONFIG_DEFENSIVE off around it.
Status ApplyAlterColumn(sqlite3* db, const AlterColumn& alter);

// The CREATE TABLE text `create_sql` with the definition of its column number `index` (0-based)
// replaced by `definition`. Corruption when the text is not a CREATE TABLE with that column.
Result<std::string> ReplaceColumnDefinition(std::string_view create_sql, size_t index, std::string_view definition);

}  // namespace litehouse::engine
