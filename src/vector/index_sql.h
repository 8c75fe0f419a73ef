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
//   - three triggers on t, `i_lh_insert`, `i_lh_update`, `i_lh_delete`, each calling
//     litehouse_vector_index_sync('i', rowid) (SyncRow, registered by the engine) for the rows it
//     touched: the graph is made to agree with each row as it is then (its vector, NULL, or a
//     partial index's condition, CREATE INDEX ... WHERE cond, as libSQL has them), in the same
//     transaction.
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

// The tables only the index itself writes: the index table and graph tables (`*_lh_graph`). The
// engine's guard refuses clients' writes to them (engine/sql_guard.cc).
bool IsIndexTableName(std::string_view table);
// True while this thread runs an index's own statements (SyncRow): those may write its tables.
bool InIndexMaintenance();

// Makes the graph of index `def` agree with row `rowid` of its table as the row is now: its vector
// is the node's if the row exists, the vector is not NULL and a partial index's condition holds;
// otherwise the node is removed. Nothing when they agree already. `def` is the index as its CREATE
// INDEX text reads now (the engine parses it: engine/vector_ddl.h), so a renamed table or column
// is followed. What the index's triggers call, through litehouse_vector_index_sync(index, rowid),
// which the engine registers: any call of it, from anywhere, can only make the graph truer.
Status SyncRow(sqlite3* db, const IndexDefinition& def, int64_t rowid);

// Registers libsql_vector_idx and the eponymous virtual table vector_top_k on `db` (the engine
// registers litehouse_vector_index_sync: engine/vector_ddl.h).
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
