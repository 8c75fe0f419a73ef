// Dumper: a database as SQL text, the format of the sqlite3 shell's `.dump`, produced piece by piece
// so that a large database never sits whole in memory (the server streams it as GET /dump).
//
// The text, in order (what sqlite3 3.40 writes, so its CLI loads it and diffs against it stay small,
// but for virtual tables: see below):
//
//   -- warning: ...                            only when a table's content cannot be dumped (below)
//   PRAGMA foreign_keys=OFF;
//   BEGIN TRANSACTION;
//   CREATE TABLE t(...);                       each table by rowid in sqlite_schema, then its rows:
//   INSERT INTO t VALUES(1,'it''s',X'00ff',1.5,NULL);
//   INSERT INTO g VALUES(1);                   generated columns left out (the stored ones fill in order)
//   CREATE VIRTUAL TABLE f USING fts5(a, b);   a virtual table of a built-in module, then its rows read
//   INSERT INTO f(f,rank) VALUES('pgsz',4000); through it: FTS5 settings (f_config but 'version'),
//   INSERT INTO f(rowid,a,b) VALUES(1,'x','y');  FTS5 rows with their rowid,
//   INSERT INTO r VALUES(1,0.0,1.0);           R*Tree rows (id, coordinates, auxiliary columns);
//                                              its shadow tables are not dumped: the inserts rebuild them
//   PRAGMA writable_schema=ON;                 only for a virtual table of a module this build lacks,
//   INSERT INTO sqlite_schema(type,name,tbl_name,rootpage,sql)VALUES('table','v','v',0,'CREATE VIRTUAL TABLE ...');
//   CREATE TABLE IF NOT EXISTS 'v_x'(...);     as sqlite3 writes it (its tables dumped as tables)
//   ANALYZE sqlite_schema;                     before the rows of sqlite_stat1/sqlite_stat4
//   DELETE FROM sqlite_sequence;               then its rows: last of the tables
//   INSERT INTO e(e) VALUES('rebuild');        each external-content FTS5 table, once every table is in
//   CREATE INDEX / CREATE TRIGGER / CREATE VIEW   by rowid, after all the data
//   PRAGMA writable_schema=OFF;                if it was turned on
//   COMMIT;
//
// Why virtual tables differ from sqlite3's dump: sqlite3 writes their shadow tables' bytes, which only
// a connection allowed to write shadow tables can load, and Litehouse's are not
// (SQLITE_DBCONFIG_DEFENSIVE: crafted shadow rows corrupt an FTS5 or R*Tree index). Rows read through
// the virtual table load anywhere, sqlite3's CLI included, and rebuild an equivalent index. Per module:
//   - FTS5 (content stored in f_content): its rows. External content (content='t'): no rows, they are
//     t's; a 'rebuild' once t is loaded. Contentless (content=''): the text is gone, only the index
//     holds it, so the table is recreated empty; if it held rows the dump opens with a
//     `-- warning: ` line saying so (`litehouse dump` repeats it on stderr).
//   - rtree, rtree_i32: every row, ordered by id. fts5vocab: nothing (it reads another table).
//   - any other module (fts3/fts4 made by another build, an extension's module): sqlite3's form.
// A vector index (vector/index_sql.h) is its CREATE INDEX ... libsql_vector_idx(...) alone: its graph
// table, its row of litehouse_vector_index and its three triggers are left out, and loading the
// CREATE INDEX here (or in libSQL) builds the index again from the rows.
// Rows are ordered by rowid, so a database loaded from a dump dumps to the same text again.
//
// Values: NULL; integers in decimal; reals in the shortest text that reads back to the same double
// (always with a '.' or an exponent, so they stay REAL; infinities as 1e999); text quoted with ''
// doubled, newlines kept as they are; text holding a NUL as CAST(X'..' AS TEXT); blobs as X'hex'.
// Rows keep the rowid only where the schema makes it a column (INTEGER PRIMARY KEY), as sqlite3 does:
// a reload numbers the others 1..n in the same order, so a second dump is identical to the first.
//
// The whole dump is one read transaction on the connection: a consistent snapshot (the caller's
// transaction, when one is open on the connection).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/connection.h"

namespace litehouse::engine {

class Dumper {
 public:
  // `conn` must outlive the Dumper and be used by nothing else meanwhile.
  explicit Dumper(Connection* conn) : conn_(conn) {}
  ~Dumper();
  Dumper(const Dumper&) = delete;
  Dumper& operator=(const Dumper&) = delete;

  // Appends the next part of the dump to `*out`, stopping once it holds about `budget` bytes (a
  // single row may go over). True while more follows; false once the dump is complete.
  Result<bool> Next(std::string* out, size_t budget);

 private:
  // How a table's content is dumped.
  enum class Kind {
    kTable,            // an ordinary table: CREATE TABLE and its rows
    kShadow,           // a shadow table of a virtual table below: not dumped
    kFts5,             // CREATE VIRTUAL TABLE, its settings, its rows through it
    kFts5External,     // CREATE VIRTUAL TABLE, its settings, a rebuild at the end
    kFts5Contentless,  // CREATE VIRTUAL TABLE, its settings
    kRtree,            // CREATE VIRTUAL TABLE, its rows through it
    kNoData,           // CREATE VIRTUAL TABLE only (fts5vocab)
    kRawVirtual,       // sqlite3's schema row (a module this build lacks)
  };
  struct Table {
    std::string name, sql;
    Kind kind = Kind::kTable;
  };
  Status Classify(Table* table, const std::vector<std::string>& shadow, std::string* warnings);
  Status StartVirtualTable(const Table& table, std::string* out);
  Status Start(std::string* out);
  Status StartTable(const Table& table, std::string* out);

  Connection* conn_;
  bool started_ = false, finished_ = false, in_txn_ = false, writable_schema_ = false;
  std::vector<Table> tables_;
  std::vector<std::string> others_;  // indexes, triggers, views
  std::vector<std::string> rebuilds_;  // external-content FTS5 tables, rebuilt after every table
  size_t next_table_ = 0;
  Statement rows_;              // the table whose rows are being written, when not empty
  std::string insert_prefix_;   // "INSERT INTO t VALUES(" for it
};

// `name` as the shell writes it in INSERT: bare when it is a plain identifier and no keyword, else
// in double quotes with inner quotes doubled.
std::string QuoteIdentifier(const std::string& name);
// Appends `value` as an SQL literal.
void AppendSqlLiteral(const Value& value, std::string* out);

}  // namespace litehouse::engine
