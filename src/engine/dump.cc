#include "engine/dump.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "common/strings.h"
#include "common/virtual_table.h"
#include "vector/index_sql.h"

namespace litehouse::engine {
namespace {

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

void AppendQuotedText(std::string_view text, std::string* out) {
  out->push_back('\'');
  for (char c : text) {
    if (c == '\'') out->push_back('\'');
    out->push_back(c);
  }
  out->push_back('\'');
}

// Runs `sql` (no arguments) and hands each row's values to `row`.
template <typename Fn>
Status ForEachRow(Connection* conn, std::string_view sql, Fn row) {
  size_t tail = 0;
  auto stmt = conn->Prepare(sql, &tail);
  if (!stmt.ok()) return stmt.status();
  while (true) {
    auto more = stmt->Step();
    if (!more.ok()) return more.status();
    if (!*more) return Status::OK();
    std::vector<Value> values;
    for (int i = 0; i < stmt->column_count(); ++i) values.push_back(stmt->column(i));
    row(values);
  }
}

std::string TextOf(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  return {};
}

}  // namespace

std::string QuoteIdentifier(const std::string& name) {
  bool plain = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') plain = false;
  }
  if (plain && sqlite3_keyword_check(name.data(), static_cast<int>(name.size()))) plain = false;
  return plain ? name : DoubleQuoted(name);
}

void AppendSqlLiteral(const Value& value, std::string* out) {
  if (IsNull(value)) {
    out->append("NULL");
  } else if (const auto* i = std::get_if<int64_t>(&value)) {
    out->append(std::to_string(*i));
  } else if (const auto* d = std::get_if<double>(&value)) {
    if (std::isinf(*d)) {
      out->append(*d > 0 ? "1e999" : "-1e999");
    } else if (std::isnan(*d)) {
      out->append("NULL");  // SQLite stores NaN as NULL; never reached from a real row
    } else {
      AppendReal(*d, out);
    }
  } else if (const auto* s = std::get_if<std::string>(&value)) {
    if (s->find('\0') != std::string::npos) {
      out->append("CAST(");
      AppendBlobLiteral(*s, out);
      out->append(" AS TEXT)");
    } else {
      AppendQuotedText(*s, out);
    }
  } else {
    AppendBlobLiteral(std::get<Blob>(value).bytes, out);
  }
}

Dumper::~Dumper() {
  rows_ = Statement();
  if (in_txn_) (void)conn_->Exec("ROLLBACK");
}

Status Dumper::Start(std::string* out) {
  started_ = true;
  conn_->guard().StopClock();
  // Its own read transaction, unless the caller has one open (a shell after BEGIN): then the dump
  // reads inside it, as sqlite3's .dump does.
  if (conn_->autocommit()) {
    if (Status s = conn_->Exec("BEGIN"); !s.ok()) return s;
    in_txn_ = true;
  }
  // Tables in the order they were created, sqlite_sequence last (its rows follow every table's), then
  // every index, trigger and view, as sqlite3's .dump.
  Status s = ForEachRow(conn_,
                        "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND sql NOT NULL "
                        "ORDER BY tbl_name = 'sqlite_sequence', rowid",
                        [&](const std::vector<Value>& row) { tables_.push_back({TextOf(row[0]), TextOf(row[1])}); });
  if (!s.ok()) return s;
  // A vector index's own tables and triggers (vector/index_sql.h) are left out: its CREATE INDEX,
  // dumped with the other indexes, makes them again and fills the graph from the rows.
  std::vector<std::string> shadow;
  std::vector<std::string> index_triggers;
  const bool has_vector_index = std::any_of(tables_.begin(), tables_.end(), [](const Table& t) { return t.name == vector::kIndexTable; });
  if (has_vector_index) {
    shadow.push_back(vector::kIndexTable);
    s = ForEachRow(conn_, std::string("SELECT name FROM ") + vector::kIndexTable + " ORDER BY name", [&](const std::vector<Value>& row) {
      const std::string name = TextOf(row[0]);
      shadow.push_back(vector::GraphTableName(name));
      for (std::string& trigger : vector::TriggerNames(name)) index_triggers.push_back(std::move(trigger));
    });
    if (!s.ok()) return s;
  }
  s = ForEachRow(conn_,
                 "SELECT sql, type, name FROM sqlite_schema WHERE sql NOT NULL AND type IN ('index', 'trigger', 'view') "
                 "ORDER BY rowid",
                 [&](const std::vector<Value>& row) {
                   if (TextOf(row[1]) == "trigger" &&
                       std::find(index_triggers.begin(), index_triggers.end(), TextOf(row[2])) != index_triggers.end()) {
                     return;
                   }
                   others_.push_back(TextOf(row[0]));
                 });
  if (!s.ok()) return s;
  // Shadow tables as SQLite knows them: those its built-in modules claim (xShadowName), which their
  // virtual tables' rows recreate.
  s = ForEachRow(conn_, "PRAGMA main.table_list", [&](const std::vector<Value>& row) {
    if (TextOf(row[2]) == "shadow") shadow.push_back(TextOf(row[1]));
  });
  if (!s.ok()) return s;
  std::string warnings;
  for (auto& table : tables_) {
    if (Status c = Classify(&table, shadow, &warnings); !c.ok()) return c;
  }
  out->append(warnings);
  out->append("PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n");
  return Status::OK();
}

Status Dumper::Classify(Table* table, const std::vector<std::string>& shadow, std::string* warnings) {
  if (std::find(shadow.begin(), shadow.end(), table->name) != shadow.end()) {
    table->kind = Kind::kShadow;
    return Status::OK();
  }
  if (!StartsWithIgnoreCase(table->sql, "CREATE VIRTUAL TABLE")) return Status::OK();
  auto parsed = ParseCreateVirtualTable(table->sql);
  const std::string module = parsed ? parsed->module : std::string();
  if (module == "fts5") {
    switch (ParseFts5Args(parsed->args).content) {
      case Fts5Content::kStored: table->kind = Kind::kFts5; break;
      case Fts5Content::kExternal: table->kind = Kind::kFts5External; break;
      case Fts5Content::kNone: {
        table->kind = Kind::kFts5Contentless;
        bool empty = true;
        Status s = ForEachRow(conn_, "SELECT 1 FROM " + QuoteIdentifier(table->name) + " LIMIT 1",
                              [&](const std::vector<Value>&) { empty = false; });
        if (!s.ok()) return s;
        if (!empty) {
          warnings->append("-- warning: the FTS5 table " + table->name +
                           " keeps no copy of its text (content=''), so its rows cannot be read back: "
                           "this dump recreates it empty\n");
        }
        break;
      }
    }
  } else if (module == "rtree" || module == "rtree_i32") {
    table->kind = Kind::kRtree;
  } else if (module == "fts5vocab") {
    table->kind = Kind::kNoData;
  } else {
    table->kind = Kind::kRawVirtual;
  }
  return Status::OK();
}

Status Dumper::StartVirtualTable(const Table& table, std::string* out) {
  out->append(table.sql).append(";\n");
  const std::string quoted = QuoteIdentifier(table.name);
  if (table.kind == Kind::kFts5 || table.kind == Kind::kFts5External || table.kind == Kind::kFts5Contentless) {
    // FTS5's settings (pgsz, rank, automerge, ...), set again through the table as a user sets them;
    // 'version' is the module's own.
    std::string settings = "SELECT k, v FROM " + QuoteIdentifier(table.name + "_config") +
                           " WHERE k <> 'version' ORDER BY k";
    Status s = ForEachRow(conn_, settings, [&](const std::vector<Value>& row) {
      out->append("INSERT INTO ").append(quoted).append("(").append(quoted).append(",rank) VALUES(");
      AppendSqlLiteral(row[0], out);
      out->push_back(',');
      AppendSqlLiteral(row[1], out);
      out->append(");\n");
    });
    if (!s.ok()) return s;
  }
  std::string select;
  switch (table.kind) {
    case Kind::kFts5: {
      // The declared columns (hidden ones are the table's own name and rank), with the rowid.
      std::string columns = "rowid";
      std::string xinfo = "PRAGMA table_xinfo(";
      AppendQuotedText(table.name, &xinfo);
      xinfo.push_back(')');
      Status s = ForEachRow(conn_, xinfo, [&](const std::vector<Value>& row) {
        auto* hidden = std::get_if<int64_t>(&row[6]);
        if (!hidden || *hidden == 0) columns.append(",").append(QuoteIdentifier(TextOf(row[1])));
      });
      if (!s.ok()) return s;
      insert_prefix_ = "INSERT INTO " + quoted + "(" + columns + ") VALUES(";
      select = "SELECT " + columns + " FROM " + quoted + " ORDER BY rowid";
      break;
    }
    case Kind::kRtree:
      // The id column is the rowid; auxiliary columns come after the coordinates.
      insert_prefix_ = "INSERT INTO " + quoted + " VALUES(";
      select = "SELECT * FROM " + quoted + " ORDER BY 1";
      break;
    case Kind::kFts5External: rebuilds_.push_back(table.name); return Status::OK();
    default: return Status::OK();
  }
  size_t tail = 0;
  auto stmt = conn_->Prepare(select, &tail);
  if (!stmt.ok()) return stmt.status();
  rows_ = std::move(stmt).value();
  return Status::OK();
}

Status Dumper::StartTable(const Table& table, std::string* out) {
  const std::string& name = table.name;
  switch (table.kind) {
    case Kind::kTable: break;
    case Kind::kShadow: return Status::OK();
    case Kind::kRawVirtual: break;
    default: return StartVirtualTable(table, out);
  }
  if (name == "sqlite_sequence") {
    out->append("DELETE FROM sqlite_sequence;\n");
  } else if (name.size() == 12 && name.rfind("sqlite_stat", 0) == 0) {
    out->append("ANALYZE sqlite_schema;\n");
  } else if (name.rfind("sqlite_", 0) == 0) {
    return Status::OK();  // SQLite's own tables: recreated by SQLite
  } else if (StartsWithIgnoreCase(table.sql, "CREATE VIRTUAL TABLE")) {
    // A module this build lacks: its rows cannot be read, so the dump is sqlite3's, for a loader
    // that has the module. The schema row goes in as it is (a virtual table cannot be created
    // without its module), and its shadow tables, ordinary tables here, carry its content.
    if (!writable_schema_) out->append("PRAGMA writable_schema=ON;\n");
    writable_schema_ = true;
    out->append("INSERT INTO sqlite_schema(type,name,tbl_name,rootpage,sql)VALUES('table',");
    AppendQuotedText(name, out);
    out->push_back(',');
    AppendQuotedText(name, out);
    out->append(",0,");
    AppendQuotedText(table.sql, out);
    out->append(");\n");
    return Status::OK();
  } else if (StartsWithIgnoreCase(table.sql, "CREATE TABLE '") || StartsWithIgnoreCase(table.sql, "CREATE TABLE \"")) {
    // A quoted name is how SQLite writes a virtual table's shadow tables, which the virtual table may
    // have created already when the dump is loaded.
    out->append("CREATE TABLE IF NOT EXISTS ").append(table.sql.substr(13)).append(";\n");
  } else {
    out->append(table.sql).append(";\n");
  }

  // Generated columns are computed, never inserted: only the stored ones are read.
  std::string quoted = QuoteIdentifier(name);
  std::vector<std::string> stored;
  bool generated = false;
  std::string xinfo = "PRAGMA table_xinfo(";
  AppendQuotedText(name, &xinfo);
  xinfo.push_back(')');
  Status s = ForEachRow(conn_, xinfo, [&](const std::vector<Value>& row) {
    auto* hidden = std::get_if<int64_t>(&row[6]);
    if (hidden && (*hidden == 2 || *hidden == 3)) generated = true;
    else stored.push_back(QuoteIdentifier(TextOf(row[1])));
  });
  if (!s.ok()) return s;
  // Without a column list an INSERT fills the stored columns only, so the prefix is the same either way.
  insert_prefix_ = "INSERT INTO " + quoted + " VALUES(";
  std::string select = "SELECT ";
  if (generated) {
    for (size_t i = 0; i < stored.size(); ++i) select.append(i ? "," : "").append(stored[i]);
  } else {
    select.push_back('*');
  }
  select.append(" FROM ").append(quoted);
  size_t tail = 0;
  auto stmt = conn_->Prepare(select, &tail);
  if (!stmt.ok()) return stmt.status();
  rows_ = std::move(stmt).value();
  return Status::OK();
}

Result<bool> Dumper::Next(std::string* out, size_t budget) {
  if (finished_) return false;
  if (!started_) {
    if (Status s = Start(out); !s.ok()) return s;
  }
  conn_->guard().StopClock();
  const size_t limit = out->size() + budget;
  while (out->size() < limit) {
    if (!rows_.empty()) {
      auto more = rows_.Step();
      if (!more.ok()) return more.status();
      if (!*more) {
        rows_ = Statement();
        continue;
      }
      out->append(insert_prefix_);
      for (int i = 0; i < rows_.column_count(); ++i) {
        if (i) out->push_back(',');
        AppendSqlLiteral(rows_.column(i), out);
      }
      out->append(");\n");
      continue;
    }
    if (next_table_ < tables_.size()) {
      if (Status s = StartTable(tables_[next_table_++], out); !s.ok()) return s;
      continue;
    }
    // Once every table is in, external-content FTS5 tables index their content tables' rows.
    for (const auto& name : rebuilds_) {
      std::string quoted = QuoteIdentifier(name);
      out->append("INSERT INTO ").append(quoted).append("(").append(quoted).append(") VALUES('rebuild');\n");
    }
    for (const auto& sql : others_) out->append(sql).append(";\n");
    if (writable_schema_) out->append("PRAGMA writable_schema=OFF;\n");
    out->append("COMMIT;\n");
    finished_ = true;
    if (in_txn_) {
      in_txn_ = false;
      if (Status s = conn_->Exec("COMMIT"); !s.ok()) return s;
    }
    return false;
  }
  return true;
}

}  // namespace litehouse::engine
