// DumpCompat: lets a dump load through the guarded SQL surface of a Litehouse database.
//
// sqlite3's .dump (and Litehouse's, for a module this build lacks: engine/dump.h) writes a virtual
// table as a schema row, since its module need not be loaded to recreate it, and its content as the
// bytes of its shadow tables:
//
//   PRAGMA writable_schema=ON;
//   INSERT INTO sqlite_schema(type,name,tbl_name,rootpage,sql)VALUES('table','f','f',0,'CREATE VIRTUAL TABLE f USING fts5(a)');
//   CREATE TABLE IF NOT EXISTS 'f_data'(id INTEGER PRIMARY KEY, block BLOB);
//   INSERT INTO f_data VALUES(1,X'...');
//   ...
//   PRAGMA writable_schema=OFF;
//
// Litehouse lets no client write the schema table (a wrong row corrupts the database for everyone) nor
// a shadow table (SQLITE_DBCONFIG_DEFENSIVE: a crafted row corrupts the index), so the importer turns
// these statements into ones that rebuild the same content through the virtual table:
//   - the writable_schema pragmas are dropped; where OFF was, each external-content FTS5 table
//     (content='t') is rebuilt from t, whose rows the dump has loaded by then;
//   - the schema row becomes the CREATE VIRTUAL TABLE it holds, which creates the shadow tables;
//   - the CREATE TABLE IF NOT EXISTS of a shadow table (a name the module claims: f_data, f_idx,
//     f_content, f_docsize, f_config for FTS5; r_node, r_parent, r_rowid for R*Tree) is dropped;
//   - FTS5: a row of f_content (id, c0, c1, ...) becomes INSERT INTO f(rowid, <columns>), which
//     indexes it again; a row of f_config becomes the setting (INSERT INTO f(f,rank) VALUES(k,v)),
//     but 'version', which the module writes; rows of f_data, f_idx and f_docsize are dropped, since
//     the inserts rebuild them;
//   - what cannot be rebuilt fails, naming the table and why: a contentless FTS5 table (content='')
//     that holds rows (its text is nowhere but in the index), and an R*Tree that holds rows (they are
//     only in its node blobs; an empty one, a root node without cells, loads). The importer reports it
//     as the statement's error, on its line.
// Anything else passes unchanged; a schema row other than a virtual table's is left for the server
// to refuse.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/virtual_table.h"
#include "litehouse/status.h"

namespace litehouse::tools {

class DumpCompat {
 public:
  // Appends to `*out` the statements to send for `sql` (none, itself, or its rewrite). Fails
  // (kInvalidArgument) when `sql` writes a shadow table whose content cannot be rebuilt, saying why.
  Status Rewrite(std::string sql, std::vector<std::string>* out);

 private:
  struct VirtualTable {
    std::string name;    // as the schema row has it
    std::string module;  // lower case
    Fts5Table fts5;      // for module fts5
  };
  // The virtual table whose shadow table `table` is, with the shadow suffix, or nullptr.
  const VirtualTable* ShadowOwner(std::string_view table, std::string* suffix) const;
  Status RewriteShadowInsert(const VirtualTable& vt, const std::string& suffix, const std::string& sql,
                             size_t after_name, std::vector<std::string>* out) const;

  std::vector<VirtualTable> virtual_tables_;  // created from schema rows
  std::vector<std::string> rebuilds_;         // external-content FTS5 tables not yet rebuilt
};

// The warnings a dump opens with (`-- warning: ...` lines before its first statement, engine/dump.h),
// read as the dump passes by in pieces of any size. Only the leading comment lines are looked at, so
// text inside the data can never pass for a warning.
class DumpWarnings {
 public:
  void Feed(std::string_view chunk);
  // Each warning's text, without the "-- warning: " prefix.
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  bool done_ = false;  // past the leading comments
  std::string line_;   // the line being read
  std::vector<std::string> warnings_;
};

}  // namespace litehouse::tools
