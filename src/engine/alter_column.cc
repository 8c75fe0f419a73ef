#include "engine/alter_column.h"

#include "engine/sql_tokens.h"
#include "vector/sql_functions.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <functional>
#include <vector>

namespace litehouse::engine {
namespace {

using namespace sql;  // NOLINT: the tokens are this file's vocabulary

Status Error(std::string message) { return Status::Sqlite(SQLITE_ERROR, std::move(message)); }

// A statement on `db` run to its end, its text columns handed to `row`.
Status Query(sqlite3* db, const std::string& sql, const std::vector<std::string>& args,
             const std::function<void(sqlite3_stmt*)>& row) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    return Status::Sqlite(sqlite3_extended_errcode(db), sqlite3_errmsg(db));
  }
  for (size_t i = 0; i < args.size(); ++i) sqlite3_bind_text(st, static_cast<int>(i + 1), args[i].c_str(), -1, SQLITE_TRANSIENT);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (row) row(st);
  }
  Status s = rc == SQLITE_DONE ? Status::OK() : Status::Sqlite(sqlite3_extended_errcode(db), sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return s;
}

std::string ColumnText(sqlite3_stmt* st, int i) {
  const unsigned char* p = sqlite3_column_text(st, i);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(st, i))) : std::string();
}

// What may not change about a column: whether it is the primary key, UNIQUE by its own definition
// (a one-column index made for the table), or generated.
struct ColumnTraits {
  bool primary_key = false;
  int unique_indexes = 0;
  int hidden = 0;  // table_xinfo's: 2 for a VIRTUAL generated column, 3 for a STORED one
  // And what must not change about the rest of the table: the other columns (name, type, NOT NULL,
  // default, key, hidden) in order, the indexes its definition makes, and AUTOINCREMENT (a table
  // that gains it needs sqlite_sequence, which a schema edit does not create).
  std::vector<std::string> columns;
  std::vector<std::string> indexes;
  bool autoincrement = false;
};

// The traits of column `index` of the table that `create_sql` makes, made in a scratch database.
Result<ColumnTraits> TraitsOf(const std::string& create_sql, const std::string& table, size_t index) {
  sqlite3* scratch = nullptr;
  if (sqlite3_open_v2(":memory:", &scratch, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY, nullptr) != SQLITE_OK) {
    sqlite3_close(scratch);
    return Status::Internal("cannot open a scratch database");
  }
  struct Close {
    sqlite3* db;
    ~Close() { sqlite3_close(db); }
  } close{scratch};
  // The functions a definition may use (a CHECK on a vector), as on every connection.
  if (Status s = vector::RegisterSqlFunctions(scratch); !s.ok()) return s;
  char* err = nullptr;
  if (sqlite3_exec(scratch, create_sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    Status s = Error(err ? err : sqlite3_errmsg(scratch));
    sqlite3_free(err);
    return s;
  }
  ColumnTraits traits;
  const std::string t = DoubleQuoted(table);
  Status s = Query(scratch, "PRAGMA table_xinfo(" + t + ")", {}, [&](sqlite3_stmt* st) {
    if (static_cast<size_t>(sqlite3_column_int64(st, 0)) == index) {
      traits.primary_key = sqlite3_column_int(st, 5) > 0;
      traits.hidden = sqlite3_column_int(st, 6);
      traits.columns.push_back(ColumnText(st, 1));  // only its name: the rest is what changes
      return;
    }
    std::string c;
    for (int i = 1; i <= 6; ++i) c += ColumnText(st, i) + '\x1f';
    traits.columns.push_back(std::move(c));
  });
  if (!s.ok()) return s;
  std::vector<std::pair<std::string, std::string>> made;  // name, "unique origin"
  s = Query(scratch, "PRAGMA index_list(" + t + ")", {}, [&](sqlite3_stmt* st) {
    made.emplace_back(ColumnText(st, 1), ColumnText(st, 2) + " " + ColumnText(st, 3));
  });
  if (!s.ok()) return s;
  for (const auto& [name, kind] : made) {
    std::vector<int64_t> cols;
    s = Query(scratch, "PRAGMA index_info(" + DoubleQuoted(name) + ")", {}, [&](sqlite3_stmt* st) { cols.push_back(sqlite3_column_int64(st, 1)); });
    if (!s.ok()) return s;
    const bool own = cols.size() == 1 && static_cast<size_t>(cols[0]) == index;
    if (own && (kind == "1 u" || kind == "1 pk")) {
      ++traits.unique_indexes;
      continue;
    }
    std::string d = kind + ":";
    for (int64_t c : cols) d += std::to_string(c) + ",";
    traits.indexes.push_back(std::move(d));
  }
  std::sort(traits.indexes.begin(), traits.indexes.end());
  s = Query(scratch, "SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_sequence'", {}, [&](sqlite3_stmt*) { traits.autoincrement = true; });
  if (!s.ok()) return s;
  return traits;
}

struct Plan {
  std::string schema;  // "main" when not given
  std::string table;   // as sqlite_schema names it
  std::string old_sql, new_sql;
};

Result<Plan> MakePlan(sqlite3* db, const AlterColumn& alter) {
  Plan plan;
  plan.schema = alter.schema.empty() ? "main" : alter.schema;
  const std::string schema_q = DoubleQuoted(plan.schema);
  std::string type;
  bool found = false;
  Status s = Query(db, "SELECT type, name, sql FROM " + schema_q + ".sqlite_schema WHERE name = ?1 COLLATE NOCASE AND type IN ('table', 'view')",
                   {alter.table}, [&](sqlite3_stmt* st) {
                     if (found) return;
                     found = true;
                     type = ColumnText(st, 0);
                     plan.table = ColumnText(st, 1);
                     plan.old_sql = ColumnText(st, 2);
                   });
  if (!s.ok()) {
    if (s.message().find("no such table") != std::string::npos) return Error("unknown database " + alter.schema);
    return s;
  }
  if (!found) return Error("no such table: " + (alter.schema.empty() ? "" : alter.schema + ".") + alter.table);
  if (plan.table.size() >= 7 && EqualsIgnoreCase(std::string_view(plan.table).substr(0, 7), "sqlite_")) {
    return Error("table " + plan.table + " may not be altered");
  }
  if (type == "view") return Error("cannot rename columns of view \"" + plan.table + "\"");
  {
    std::vector<Token> t = Tokens(plan.old_sql);
    if (t.size() > 1 && IsKeyword(plan.old_sql, t[1], "VIRTUAL")) return Error("cannot rename columns of virtual table \"" + plan.table + "\"");
  }
  // The column.
  std::optional<size_t> index;
  s = Query(db, "PRAGMA " + schema_q + ".table_xinfo(" + DoubleQuoted(plan.table) + ")", {}, [&](sqlite3_stmt* st) {
    if (!index && EqualsIgnoreCase(ColumnText(st, 1), alter.column)) index = static_cast<size_t>(sqlite3_column_int64(st, 0));
  });
  if (!s.ok()) return s;
  if (!index) return Error("no such column: \"" + alter.column_token + "\"");
  // The name after TO, written as the column's was.
  std::vector<Token> def = Tokens(alter.definition);
  const std::string_view new_name = def.empty() ? std::string_view() : Text(alter.definition, def[0]);
  if (!EqualsIgnoreCase(new_name, alter.column_token)) {
    return Error("UPDATE cannot also rename column: \"" + alter.column_token + "\" to \"" + std::string(new_name) +
                 "\". Use ALTER TABLE RENAME instead");
  }
  // One column's definition: no comma or closing parenthesis outside parentheses (which would add
  // columns or table constraints), no NUL (which would cut the text where SQLite reads it).
  if (alter.definition.find('\0') != std::string::npos) return Error("unrecognized token: a NUL byte in the column definition");
  {
    int depth = 0;
    for (const Token& tok : def) {
      const bool comma = IsPunct(alter.definition, tok, ',');
      if (IsPunct(alter.definition, tok, '(')) ++depth;
      if ((IsPunct(alter.definition, tok, ')') && --depth < 0) || (comma && depth == 0)) {
        return Error("near \"" + std::string(Text(alter.definition, tok)) + "\": syntax error");
      }
    }
    if (depth != 0) return Error("incomplete input");
  }
  auto rewritten = ReplaceColumnDefinition(plan.old_sql, *index, alter.definition);
  if (!rewritten.ok()) return rewritten.status();
  plan.new_sql = std::move(rewritten).value();
  // Checked where it cannot hurt: the new text must make a table, and keep what may not change.
  auto before = TraitsOf(plan.old_sql, plan.table, *index);
  if (!before.ok()) return before.status();
  auto after = TraitsOf(plan.new_sql, plan.table, *index);
  if (!after.ok()) return after.status();  // SQLite's own message: 'near "1": syntax error', ...
  const char* refused = nullptr;
  if (before->primary_key != after->primary_key) {
    refused = "PRIMARY KEY constraint cannot be altered";
  } else if (before->unique_indexes != after->unique_indexes) {
    refused = "UNIQUE constraint cannot be altered";
  } else if (before->hidden != after->hidden) {
    refused = "GENERATED constraint cannot be altered";  // added, removed, or VIRTUAL <-> STORED
  } else if (before->autoincrement != after->autoincrement) {
    refused = "AUTOINCREMENT cannot be altered";
  } else if (before->columns != after->columns || before->indexes != after->indexes) {
    refused = "only the column's own definition may change";
  }
  if (refused) return Error("error in adding " + alter.definition + " to " + plan.table + ": " + refused);
  return plan;
}

Status Exec(sqlite3* db, const std::string& sql) { return Query(db, sql, {}, nullptr); }

}  // namespace

std::optional<Result<AlterColumn>> MatchAlterColumn(std::string_view sql) {
  // Most statements are not: a look at the first word before any tokenizing.
  const std::string_view word = FirstWord(sql);
  if (!EqualsIgnoreCase(word, "ALTER")) return std::nullopt;
  const size_t first = static_cast<size_t>(word.data() - sql.data());
  // The statement's tokens, up to its `;`.
  std::vector<Token> t;
  size_t end = sql.size(), length = sql.size();
  for (size_t pos = first; pos < sql.size();) {
    Token tok = Next(sql, pos);
    pos = tok.end;
    if (tok.kind == Kind::kSpace || tok.kind == Kind::kComment) continue;
    if (IsPunct(sql, tok, ';')) {
      length = tok.end;
      break;
    }
    t.push_back(tok);
    end = tok.end;
  }
  size_t i = 0;
  auto at = [&](size_t k) -> const Token* { return k < t.size() ? &t[k] : nullptr; };
  if (!at(1) || !IsKeyword(sql, t[1], "TABLE")) return std::nullopt;
  AlterColumn a;
  i = 2;
  if (!at(i) || !IsName(t[i])) return std::nullopt;
  if (at(i + 1) && IsPunct(sql, t[i + 1], '.')) {
    if (!at(i + 2) || !IsName(t[i + 2])) return std::nullopt;
    a.schema = Dequote(Text(sql, t[i]));
    i += 2;
  }
  a.table = Dequote(Text(sql, t[i]));
  ++i;
  if (!at(i) || !IsKeyword(sql, t[i], "ALTER")) return std::nullopt;  // RENAME, ADD, DROP: SQLite's own
  if (!at(i + 1) || !IsKeyword(sql, t[i + 1], "COLUMN")) return std::nullopt;
  if (!at(i + 2) || !IsName(t[i + 2])) return std::nullopt;
  if (!at(i + 3) || !IsKeyword(sql, t[i + 3], "TO")) return std::nullopt;
  if (!at(i + 4) || !IsName(t[i + 4])) {
    return Result<AlterColumn>(Status::Sqlite(SQLITE_ERROR, "incomplete input: ALTER COLUMN ... TO needs the column's new definition"));
  }
  a.column_token = std::string(Text(sql, t[i + 2]));
  a.column = Dequote(a.column_token);
  a.definition = std::string(sql.substr(t[i + 4].begin, end - t[i + 4].begin));
  a.length = length;
  return Result<AlterColumn>(std::move(a));
}

std::string StandInStatement(const AlterColumn& alter) {
  return "DELETE FROM " + (alter.schema.empty() ? "" : DoubleQuoted(alter.schema) + ".") + DoubleQuoted(alter.table) + " WHERE 0";
}

Result<std::string> ReplaceColumnDefinition(std::string_view create_sql, size_t index, std::string_view definition) {
  std::vector<Token> t = Tokens(create_sql);
  size_t i = 0;
  while (i < t.size() && !IsPunct(create_sql, t[i], '(')) ++i;
  if (i == t.size()) return Status::Corruption("not a CREATE TABLE with a column list: " + std::string(create_sql));
  int depth = 1;
  size_t item = 0;
  std::optional<size_t> begin, last_end;
  for (++i; i < t.size() && depth > 0; ++i) {
    const bool open = IsPunct(create_sql, t[i], '('), close = IsPunct(create_sql, t[i], ')');
    if ((close && depth == 1) || (IsPunct(create_sql, t[i], ',') && depth == 1)) {
      if (item == index) {
        if (!begin) break;
        std::string out(create_sql.substr(0, *begin));
        out.append(definition);
        out.append(create_sql.substr(*last_end));
        return out;
      }
      ++item;
      begin.reset();
      if (close) break;
      continue;
    }
    if (open) ++depth;
    if (close) --depth;
    if (!begin) begin = t[i].begin;
    last_end = t[i].end;
  }
  return Status::Corruption("the CREATE TABLE text has no column " + std::to_string(index) + ": " + std::string(create_sql));
}

Status CheckAlterColumn(sqlite3* db, const AlterColumn& alter) { return MakePlan(db, alter).status(); }

Status ApplyAlterColumn(sqlite3* db, const AlterColumn& alter) {
  auto plan = MakePlan(db, alter);
  if (!plan.ok()) return plan.status();
  const std::string schema_q = DoubleQuoted(plan->schema);
  if (Status s = Exec(db, "SAVEPOINT litehouse_alter_column"); !s.ok()) return s;
  auto change = [&]() -> Status {
    if (Status s = Exec(db, "PRAGMA writable_schema=ON"); !s.ok()) return s;
    Status s = Query(db, "UPDATE " + schema_q + ".sqlite_schema SET sql = ?1 WHERE type = 'table' AND name = ?2",
                     {plan->new_sql, plan->table}, nullptr);
    int64_t version = 0;
    if (s.ok()) s = Query(db, "PRAGMA " + schema_q + ".schema_version", {}, [&](sqlite3_stmt* st) { version = sqlite3_column_int64(st, 0); });
    // The bump makes every connection, this one included, read the schema again.
    if (s.ok()) s = Exec(db, "PRAGMA " + schema_q + ".schema_version = " + std::to_string(version + 1));
    // The client's result counts no changed row, as libSQL's (whose edit is a nested statement):
    // the last counted statement changes none.
    if (s.ok()) s = Exec(db, "UPDATE " + schema_q + ".sqlite_schema SET sql = sql WHERE 0");
    Status off = Exec(db, "PRAGMA writable_schema=OFF");
    if (s.ok()) s = off;
    // The schema as SQLite reads it now must load, and name the table.
    if (s.ok()) s = Exec(db, "SELECT 1 FROM " + schema_q + "." + DoubleQuoted(plan->table) + " LIMIT 0");
    return s;
  };
  Status s = change();
  if (!s.ok()) {
    (void)Exec(db, "PRAGMA writable_schema=OFF");
    if (Exec(db, "ROLLBACK TO litehouse_alter_column").ok()) {
      (void)Exec(db, "RELEASE litehouse_alter_column");
    } else if (!sqlite3_get_autocommit(db)) {
      // Never RELEASE (commit) a half-made change: the whole transaction goes, the client's too
      // if it was in one (its next statement finds none).
      (void)Exec(db, "ROLLBACK");
    }
    return s;
  }
  return Exec(db, "RELEASE litehouse_alter_column");
}

}  // namespace litehouse::engine
