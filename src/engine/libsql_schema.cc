#include "engine/libsql_schema.h"

#include <sqlite3.h>

#include <vector>

#include "engine/sql_tokens.h"

namespace litehouse::engine {
namespace {

using namespace sql;  // NOLINT: the tokens are this file's vocabulary

// The table a CREATE TABLE names, and whether RANDOM ROWID follows its column list; nullopt when
// `text` is not a CREATE TABLE with a column list.
struct CreateTable {
  std::string name;
  bool random_rowid = false;
};

std::optional<CreateTable> ReadCreateTable(std::string_view text) {
  std::vector<Token> t = Tokens(text);
  size_t i = 0;
  auto is = [&](const char* word) { return i < t.size() && IsKeyword(text, t[i], word); };
  if (!is("CREATE")) return std::nullopt;
  ++i;
  if (is("TEMP") || is("TEMPORARY")) ++i;
  if (!is("TABLE")) return std::nullopt;
  ++i;
  if (is("IF")) i += 3;  // IF NOT EXISTS
  if (i >= t.size() || !IsName(t[i])) return std::nullopt;
  CreateTable out;
  out.name = Dequote(Text(text, t[i]));
  ++i;
  if (i + 1 < t.size() && IsPunct(text, t[i], '.') && IsName(t[i + 1])) {
    out.name = Dequote(Text(text, t[i + 1]));
    i += 2;
  }
  if (i >= t.size() || !IsPunct(text, t[i], '(')) return std::nullopt;
  int depth = 0;
  for (; i < t.size(); ++i) {
    if (IsPunct(text, t[i], '(')) ++depth;
    if (IsPunct(text, t[i], ')') && --depth == 0) break;
  }
  // The table options after the column list: WITHOUT ROWID, STRICT, and libSQL's RANDOM ROWID.
  for (++i; i + 1 < t.size(); ++i) {
    if (IsPunct(text, t[i], ';')) break;
    if (IsKeyword(text, t[i], "RANDOM") && IsKeyword(text, t[i + 1], "ROWID")) out.random_rowid = true;
  }
  return out;
}

std::string Refusal(const std::string& table) {
  return "table \"" + table +
         "\" uses libSQL's RANDOM ROWID, which Litehouse does not support: stock SQLite cannot parse that table's "
         "schema. Create it without RANDOM ROWID";
}

}  // namespace

bool HasRandomRowid(std::string_view create_sql) {
  auto c = ReadCreateTable(create_sql);
  return c && c->random_rowid;
}

std::optional<Status> RefuseRandomRowid(std::string_view sql) {
  // Most statements are not CREATE: a look at the first word before reading the rest.
  if (!EqualsIgnoreCase(FirstWord(sql), "CREATE")) return std::nullopt;
  // Only the first statement of the text.
  size_t end = sql.size();
  for (size_t pos = 0; pos < sql.size();) {
    Token t = Next(sql, pos);
    if (IsPunct(sql, t, ';')) {
      end = t.end;
      break;
    }
    pos = t.end;
  }
  auto c = ReadCreateTable(sql.substr(0, end));
  if (!c || !c->random_rowid) return std::nullopt;
  return Status::Sqlite(SQLITE_ERROR, Refusal(c->name));
}

Status ExplainSchemaError(const std::string& path, const Status& error, const char* vfs) {
  const std::string& m = error.message();
  const std::string marker = "malformed database schema (";
  size_t at = m.find(marker);
  if (at == std::string::npos) return error;
  size_t close = m.find(") - ", at + marker.size());
  if (close == std::string::npos) return error;
  const std::string table = m.substr(at + marker.size(), close - at - marker.size());
  // The schema's text, read without parsing it (writable_schema lets SQLite skip what it cannot
  // parse), on a connection of its own that only reads.
  sqlite3* db = nullptr;
  std::string create_sql;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, vfs) == SQLITE_OK &&
      sqlite3_exec(db, "PRAGMA writable_schema=ON", nullptr, nullptr, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_schema WHERE name = ?1", -1, &st, nullptr) == SQLITE_OK) {
      sqlite3_bind_text(st, 1, table.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
        create_sql = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      }
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  if (!HasRandomRowid(create_sql)) return error;
  return Status::Sqlite(SQLITE_CORRUPT, Refusal(table) + " (on libSQL, copy its rows into a table without it, then move the file)");
}

}  // namespace litehouse::engine
