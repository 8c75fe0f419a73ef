// The parts of a `CREATE VIRTUAL TABLE` statement that the dump and the importer need: the module, its
// arguments, and what the FTS5 and R*Tree modules make of them. Pure text, no SQLite calls: the dumper
// (engine/dump.h) reads the statements SQLite keeps in sqlite_schema, the importer (tools/dump_compat.h)
// the same statements as a dump quotes them.
//
// Arguments are split as SQLite splits them before handing them to the module: at the commas outside
// parentheses and quotes, each trimmed of surrounding space. A module then reads them its own way; the
// rules here are FTS5's (fts5_config.c): an argument `key = value` is an option, anything else a column
// whose name is its first word.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace litehouse {

struct VirtualTableSql {
  std::string name;                // unquoted
  std::string module;              // lower case
  std::vector<std::string> args;   // as written, trimmed
};

// Parses `CREATE VIRTUAL TABLE [IF NOT EXISTS] [schema.]name USING module[(args)]`; nullopt when `sql`
// is not one.
std::optional<VirtualTableSql> ParseCreateVirtualTable(std::string_view sql);

// `token` without its quotes ('..', "..", `..` or [..]; doubled quotes inside undoubled), or as it is.
std::string Dequote(std::string_view token);

// How an FTS5 table keeps its rows.
enum class Fts5Content {
  kStored,     // in its own `name_content` shadow table (the default)
  kExternal,   // in another table or view (content='t'): the index alone is the FTS5 table's
  kNone,       // nowhere (content=''): only the index exists, the text cannot be read back
};

struct Fts5Table {
  std::vector<std::string> columns;  // unquoted, in order
  Fts5Content content = Fts5Content::kStored;
};

// The columns and content kind of an FTS5 table from its module arguments.
Fts5Table ParseFts5Args(const std::vector<std::string>& args);

// The shadow tables a module creates next to a virtual table `vt`, as suffixes of "vt_" (the names its
// xShadowName accepts); empty for a module that has none or is not built in.
std::vector<std::string_view> ShadowSuffixes(std::string_view module);

}  // namespace litehouse
