// libSQL's vector index statements on stock SQLite (src/vector/index_sql.h says what an index is):
//
//   CREATE INDEX [IF NOT EXISTS] i ON t(libsql_vector_idx(emb [, 'option=value', ...]))
//     SQLite prepares it as written (libsql_vector_idx is a function here, so it is an ordinary
//     expression index to SQLite: its own errors, "no such table: main.t", the guard's read-only
//     refusal, come first); then the options and the column are checked (libSQL's messages); at the
//     first Step, inside one savepoint, the statement runs and the index's table row, graph and
//     triggers are made and filled from the table's rows.
//   DROP INDEX, DROP TABLE   run as written; then, in the same savepoint, what belonged to vector
//     indexes that are gone is dropped (vector::SyncIndexes).
//   REINDEX [name]   run as written; then the vector indexes it names (all, those of a table, or
//     one) are built again from their CREATE INDEX text: how an index of a file written by libSQL,
//     whose graph Litehouse cannot read, is made usable here.
// The recogniser reads tokens only (sql_tokens.h); what the statement means to SQLite stays
// SQLite's.
#pragma once

#include <sqlite3.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "vector/index_sql.h"

namespace litehouse::engine {

struct VectorDdl {
  enum class Kind { kCreateIndex, kDrop, kReindex };
  Kind kind = Kind::kDrop;
  vector::IndexDefinition index;  // kCreateIndex
  bool if_not_exists = false;     // kCreateIndex
  std::string target;             // kReindex: the name after REINDEX, dequoted ("" for all)
};

// The vector-index statement at the start of `sql`, or nullopt when it is none of the above (a
// CREATE INDEX without libsql_vector_idx is SQLite's alone). An error when it is a vector index
// written wrong ("vector index: ..." as libSQL says it).
std::optional<Result<VectorDdl>> MatchVectorDdl(std::string_view sql);

// Checks a CREATE INDEX against the schema (the column's type, the options), at prepare.
Status CheckVectorDdl(sqlite3* db, const VectorDdl& ddl);

// The work after the statement ran (see above); `index_existed` for CREATE INDEX IF NOT EXISTS on
// an index that was there already (nothing is done). The caller holds a savepoint.
Status ApplyVectorDdl(sqlite3* db, const VectorDdl& ddl, bool index_existed);

// Builds again every vector index whose name or table is `target` ("" for all) from its CREATE
// INDEX text in sqlite_schema.
Status RebuildVectorIndexes(sqlite3* db, std::string_view target);

// Registers litehouse_vector_index_sync(index, rowid), what a vector index's triggers call: it reads
// the index's CREATE INDEX text as it is now (after any rename) and calls vector::SyncRow. NULL
// when the index is gone (dropped by the statement that fired the trigger).
Status RegisterVectorIndexSync(sqlite3* db);

// True when index `name` is in sqlite_schema (before CREATE INDEX IF NOT EXISTS runs).
bool IndexExists(sqlite3* db, const std::string& name);

}  // namespace litehouse::engine
