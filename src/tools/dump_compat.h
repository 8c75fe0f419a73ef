// DumpCompat: lets a dump load through the guarded SQL surface of a Litehouse database.
//
// A dump (sqlite3's .dump, or ours: engine/dump.h) writes a virtual table as a schema row, since its
// module need not be loaded to recreate it:
//
//   PRAGMA writable_schema=ON;
//   INSERT INTO sqlite_schema(type,name,tbl_name,rootpage,sql)VALUES('table','f','f',0,'CREATE VIRTUAL TABLE f USING fts5(a)');
//   CREATE TABLE IF NOT EXISTS 'f_data'(id INTEGER PRIMARY KEY, block BLOB);
//   INSERT INTO f_data VALUES(1,X'...');
//   ...
//   PRAGMA writable_schema=OFF;
//
// Litehouse never lets a client write the schema table (a wrong row corrupts the database for every
// client), so the importer rewrites these statements into ones with the same result:
//   - the writable_schema pragmas are dropped;
//   - the schema row becomes the CREATE VIRTUAL TABLE it holds, which creates the shadow tables and
//     the module's first rows in them (the CREATE TABLE IF NOT EXISTS that follow are no-ops);
//   - INSERT INTO a shadow table of that virtual table (a table the dump announced with
//     CREATE TABLE IF NOT EXISTS and whose name starts with the virtual table's and '_') becomes
//     INSERT OR REPLACE, so the dumped rows replace those first rows: the shadow tables end up
//     holding exactly what was dumped. Other tables' inserts keep their duplicate-key errors.
// Anything else passes unchanged.
#pragma once

#include <string>
#include <set>
#include <string_view>
#include <vector>

namespace litehouse::tools {

class DumpCompat {
 public:
  enum class Action { kRun, kSkip };
  // What to send for `sql` (maybe rewritten in place), or kSkip to send nothing.
  Action Rewrite(std::string* sql);

 private:
  std::vector<std::string> virtual_tables_;  // "name_" of those created from schema rows, lower case
  std::set<std::string> shadow_tables_;      // their shadow tables the dump announced, lower case
};

}  // namespace litehouse::tools
