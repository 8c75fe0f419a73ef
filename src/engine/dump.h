// Dumper: a database as SQL text, the format of the sqlite3 shell's `.dump`, produced piece by piece
// so that a large database never sits whole in memory (the server streams it as GET /dump).
//
// The text, in order (what sqlite3 3.40 writes, so its CLI loads it and diffs against it stay small):
//
//   PRAGMA foreign_keys=OFF;
//   BEGIN TRANSACTION;
//   CREATE TABLE t(...);                       each table by rowid in sqlite_schema, then its rows:
//   INSERT INTO t VALUES(1,'it''s',X'00ff',1.5,NULL);
//   INSERT INTO g VALUES(1);                   generated columns left out (the stored ones fill in order)
//   PRAGMA writable_schema=ON;                 once, before the first virtual table:
//   INSERT INTO sqlite_schema(type,name,tbl_name,rootpage,sql)VALUES('table','f','f',0,'CREATE VIRTUAL TABLE ...');
//   CREATE TABLE IF NOT EXISTS 'f_data'(...);  its shadow tables are ordinary tables, dumped as such
//   ANALYZE sqlite_schema;                     before the rows of sqlite_stat1/sqlite_stat4
//   DELETE FROM sqlite_sequence;               then its rows: last of the tables
//   CREATE INDEX / CREATE TRIGGER / CREATE VIEW   by rowid, after all the data
//   PRAGMA writable_schema=OFF;                if it was turned on
//   COMMIT;
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
  struct Table {
    std::string name, sql;
  };
  Status Start(std::string* out);
  Status StartTable(const Table& table, std::string* out);

  Connection* conn_;
  bool started_ = false, finished_ = false, in_txn_ = false, writable_schema_ = false;
  std::vector<Table> tables_;
  std::vector<std::string> others_;  // indexes, triggers, views
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
