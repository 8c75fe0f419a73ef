// Vector indexes in the database file: libSQL's `CREATE INDEX i ON t(libsql_vector_idx(emb, ...))`
// and `vector_top_k('i', query, k)` on stock SQLite, in ordinary tables and triggers, so that an
// index is transactional, replicated and backed up page by page like every other row.
//
// What one index `i` on t(emb) is (src/vector/DESIGN.md says why):
//   - SQLite's own index `i`, the statement as written: an expression index on
//     libsql_vector_idx(emb, ...), a function that returns NULL here (libSQL's returns its argument),
//     so its B-tree costs a few bytes a row; it names the index in the schema, makes DROP INDEX,
//     DROP TABLE, REINDEX and PRAGMA integrity_check behave, and is what a dump or libSQL reads;
//   - a row of `litehouse_vector_index` (name, tbl, col, settings): the definition, for every
//     connection;
//   - the graph, `i_lh_graph(id INTEGER PRIMARY KEY, node BLOB)`: one row per indexed row of t, the
//     node's id its rowid; the node blob is, little-endian:
//         byte 0      format, 1
//         byte 1      0
//         bytes 2-3   edge count n (u16)
//         then        the node's vector, its data part (vector.cc's layout for the column's type)
//         then        n edge ids (i64 each)
//         then        n edge vectors, data parts in the edges' type (compress_neighbors)
//   - three triggers on t, `i_lh_insert`, `i_lh_update`, `i_lh_delete`, calling
//     litehouse_vector_index_insert('i', rowid, emb) and litehouse_vector_index_delete('i', rowid):
//     every INSERT, UPDATE and DELETE keeps the graph current in the same transaction. A partial
//     index (CREATE INDEX ... WHERE cond, as libSQL has them) indexes the rows cond holds for: its
//     insert trigger reads the new row back from t under cond.
// A NULL vector is not indexed (as in libSQL). The engine (engine/vector_ddl.h) recognises the DDL
// and calls CreateIndex / SyncIndexes at the right moment.
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "vector/index_graph.h"

namespace litehouse::vector {

inline constexpr const char* kIndexTable = "litehouse_vector_index";

struct IndexDefinition {
  std::string name;     // the index, as written (dequoted)
  std::string table;    // dequoted
  std::string column;   // dequoted
  std::vector<std::string> options;  // the string arguments after the column, dequoted
  std::string where;    // a partial index's condition, as written ("" for none)
};

// The names of the objects beside index `name`.
std::string GraphTableName(const std::string& name);
std::vector<std::string> TriggerNames(const std::string& name);

// The names only the index itself writes: the index table, graph tables (`*_lh_graph`), and its
// two maintenance functions (called by its triggers). The engine's guard refuses clients' writes to
// these tables and direct calls of these functions (engine/sql_guard.cc).
bool IsIndexTableName(std::string_view table);
bool IsIndexFunctionName(std::string_view function);
// True while this thread runs the statements of an index's maintenance function (the nested SQL of
// litehouse_vector_index_insert/_delete): those may write the index's tables.
bool InIndexMaintenance();

// Registers libsql_vector_idx, litehouse_vector_index_insert/_delete and the eponymous virtual
// table vector_top_k on `db`.
Status RegisterIndexFunctions(sqlite3* db);

// Checks `def` against the schema of `db` (the column's declared type, the options, a rowid table);
// the error is the statement's (SQLITE_ERROR, libSQL's message).
Result<GraphSettings> CheckIndex(sqlite3* db, const IndexDefinition& def);

// Makes the index's table row, graph table and triggers (replacing any left from an earlier index
// of that name) and inserts every row of the table. The caller holds a savepoint around it.
Status CreateIndex(sqlite3* db, const IndexDefinition& def);

// Drops what belongs to vector indexes that SQLite's schema no longer has (DROP INDEX, DROP TABLE),
// and the index table when no index is left. Nothing when there is no index table.
Status SyncIndexes(sqlite3* db);

}  // namespace litehouse::vector
