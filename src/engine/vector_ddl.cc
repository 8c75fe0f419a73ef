#include "engine/vector_ddl.h"

#include <vector>

#include "common/strings.h"
#include "engine/sql_tokens.h"

namespace litehouse::engine {
namespace {

using namespace sql;  // NOLINT: the tokens are this file's vocabulary

Status Error(std::string message) { return Status::Sqlite(SQLITE_ERROR, std::move(message)); }

// The significant tokens of the first statement of `sql` (up to its `;`).
std::vector<Token> StatementTokens(std::string_view sql) {
  std::vector<Token> t;
  for (size_t pos = 0; pos < sql.size();) {
    Token tok = Next(sql, pos);
    pos = tok.end;
    if (tok.kind == Kind::kSpace || tok.kind == Kind::kComment) continue;
    if (IsPunct(sql, tok, ';')) break;
    t.push_back(tok);
  }
  return t;
}

std::optional<Result<VectorDdl>> MatchCreateIndex(std::string_view sql, const std::vector<Token>& t) {
  auto at = [&](size_t k) -> const Token* { return k < t.size() ? &t[k] : nullptr; };
  size_t i = 1;
  if (at(i) && IsKeyword(sql, t[i], "UNIQUE")) ++i;
  if (!at(i) || !IsKeyword(sql, t[i], "INDEX")) return std::nullopt;
  ++i;
  VectorDdl ddl;
  ddl.kind = VectorDdl::Kind::kCreateIndex;
  if (at(i + 2) && IsKeyword(sql, t[i], "IF") && IsKeyword(sql, t[i + 1], "NOT") && IsKeyword(sql, t[i + 2], "EXISTS")) {
    ddl.if_not_exists = true;
    i += 3;
  }
  if (!at(i) || !IsName(t[i])) return std::nullopt;
  if (at(i + 1) && IsPunct(sql, t[i + 1], '.')) {
    if (!at(i + 2) || !IsName(t[i + 2])) return std::nullopt;
    i += 2;
  }
  ddl.index.name = Dequote(Text(sql, t[i]));
  ++i;
  if (!at(i) || !IsKeyword(sql, t[i], "ON")) return std::nullopt;
  ++i;
  if (!at(i) || !IsName(t[i])) return std::nullopt;
  ddl.index.table = Dequote(Text(sql, t[i]));
  ++i;
  if (!at(i) || !IsPunct(sql, t[i], '(')) return std::nullopt;
  ++i;
  if (!at(i + 1) || !IsKeyword(sql, t[i], "libsql_vector_idx") || !IsPunct(sql, t[i + 1], '(')) return std::nullopt;
  i += 2;
  if (!at(i) || !IsName(t[i]) || t[i].kind == Kind::kString) {
    return Result<VectorDdl>(Error("vector index: libsql_vector_idx first argument must be a column token"));
  }
  ddl.index.column = Dequote(Text(sql, t[i]));
  ++i;
  while (at(i) && IsPunct(sql, t[i], ',')) {
    if (!at(i + 1) || t[i + 1].kind != Kind::kString) {
      return Result<VectorDdl>(Error("vector index: all arguments after first must be strings"));
    }
    ddl.index.options.push_back(Dequote(Text(sql, t[i + 1])));
    i += 2;
  }
  if (!at(i) || !IsPunct(sql, t[i], ')')) {
    // Anything else inside the call (an expression, COLLATE) is not a column token.
    return Result<VectorDdl>(Error("vector index: libsql_vector_idx first argument must be a column token"));
  }
  ++i;
  if (at(i) && IsPunct(sql, t[i], ',')) {
    return Result<VectorDdl>(Error("vector index: must contain exactly one column wrapped into the libsql_vector_idx function"));
  }
  // The column list's `)` (past a sort order or a collation of the term), then a partial index's
  // condition.
  while (at(i) && !IsPunct(sql, t[i], ')') && !IsPunct(sql, t[i], ',')) ++i;
  if (at(i) && IsPunct(sql, t[i], ',')) {
    return Result<VectorDdl>(Error("vector index: must contain exactly one column wrapped into the libsql_vector_idx function"));
  }
  if (at(i + 1) && IsPunct(sql, t[i], ')') && IsKeyword(sql, t[i + 1], "WHERE") && at(i + 2)) {
    ddl.index.where = std::string(sql.substr(t[i + 2].begin, t.back().end - t[i + 2].begin));
  }
  return Result<VectorDdl>(std::move(ddl));
}

}  // namespace

std::optional<Result<VectorDdl>> MatchVectorDdl(std::string_view sql) {
  const std::string_view first = FirstWord(sql);
  if (first.empty()) return std::nullopt;
  const bool create = EqualsIgnoreCase(first, "CREATE"), drop = EqualsIgnoreCase(first, "DROP"),
             reindex = EqualsIgnoreCase(first, "REINDEX");
  if (!create && !drop && !reindex) return std::nullopt;
  const std::vector<Token> t = StatementTokens(sql);
  if (t.empty()) return std::nullopt;
  if (create) return MatchCreateIndex(sql, t);
  VectorDdl ddl;
  if (drop) {
    if (t.size() < 2 || (!IsKeyword(sql, t[1], "INDEX") && !IsKeyword(sql, t[1], "TABLE"))) return std::nullopt;
    ddl.kind = VectorDdl::Kind::kDrop;
    return Result<VectorDdl>(std::move(ddl));
  }
  ddl.kind = VectorDdl::Kind::kReindex;
  if (t.size() >= 2 && IsName(t.back())) ddl.target = Dequote(Text(sql, t.back()));
  return Result<VectorDdl>(std::move(ddl));
}

Status CheckVectorDdl(sqlite3* db, const VectorDdl& ddl) {
  if (ddl.kind != VectorDdl::Kind::kCreateIndex) return Status::OK();
  if (ddl.if_not_exists && IndexExists(db, ddl.index.name)) return Status::OK();
  return vector::CheckIndex(db, ddl.index).status();
}

bool IndexExists(sqlite3* db, const std::string& name) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM main.sqlite_schema WHERE type = 'index' AND name = ?1 COLLATE NOCASE", -1, &st, nullptr) != SQLITE_OK) {
    return false;
  }
  sqlite3_bind_text(st, 1, name.c_str(), -1, SQLITE_TRANSIENT);
  const bool found = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  return found;
}

Status ApplyVectorDdl(sqlite3* db, const VectorDdl& ddl, bool index_existed) {
  switch (ddl.kind) {
    case VectorDdl::Kind::kCreateIndex:
      if (index_existed) return Status::OK();
      return vector::CreateIndex(db, ddl.index);
    case VectorDdl::Kind::kDrop: return vector::SyncIndexes(db);
    case VectorDdl::Kind::kReindex: return RebuildVectorIndexes(db, ddl.target);
  }
  return Status::OK();
}

Status RebuildVectorIndexes(sqlite3* db, std::string_view target) {
  std::vector<VectorDdl> found;
  {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT name, tbl_name, sql FROM main.sqlite_schema WHERE type = 'index' AND sql LIKE '%libsql_vector_idx%'", -1, &st,
                           nullptr) != SQLITE_OK) {
      return Status::Sqlite(sqlite3_extended_errcode(db), sqlite3_errmsg(db));
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
      const auto text = [&](int i) {
        const unsigned char* p = sqlite3_column_text(st, i);
        return p ? std::string(reinterpret_cast<const char*>(p)) : std::string();
      };
      const std::string name = text(0), table = text(1), create = text(2);
      if (!target.empty() && !EqualsIgnoreCase(target, name) && !EqualsIgnoreCase(target, table)) continue;
      auto ddl = MatchVectorDdl(create);
      if (ddl && ddl->ok() && ddl->value().kind == VectorDdl::Kind::kCreateIndex) found.push_back(std::move(ddl->value()));
    }
    sqlite3_finalize(st);
  }
  for (const VectorDdl& ddl : found) {
    if (Status s = vector::CreateIndex(db, ddl.index); !s.ok()) return s;
  }
  return Status::OK();
}

namespace {

// litehouse_vector_index_sync(index, rowid)
void SyncFunction(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  try {
    if (argc != 2 || sqlite3_value_type(argv[0]) != SQLITE_TEXT || sqlite3_value_type(argv[1]) != SQLITE_INTEGER) {
      return sqlite3_result_error(ctx, "litehouse_vector_index_sync(index, rowid): an index name and a rowid", -1);
    }
    sqlite3* db = sqlite3_context_db_handle(ctx);
    std::string create;
    {
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v2(db, "SELECT sql FROM main.sqlite_schema WHERE type = 'index' AND name = ?1 COLLATE NOCASE", -1, &st, nullptr) != SQLITE_OK) {
        return sqlite3_result_error(ctx, sqlite3_errmsg(db), -1);
      }
      sqlite3_bind_value(st, 1, argv[0]);
      const int rc = sqlite3_step(st);
      if (rc == SQLITE_ROW && sqlite3_column_text(st, 0)) create = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      sqlite3_finalize(st);
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite3_result_error(ctx, sqlite3_errmsg(db), -1);
    }
    if (create.empty()) return sqlite3_result_null(ctx);  // the index is gone
    auto ddl = MatchVectorDdl(create);
    if (!ddl || !ddl->ok() || ddl->value().kind != VectorDdl::Kind::kCreateIndex) return sqlite3_result_null(ctx);  // not a vector index
    Status s = vector::SyncRow(db, ddl->value().index, sqlite3_value_int64(argv[1]));
    if (!s.ok()) {
      sqlite3_result_error(ctx, s.message().c_str(), -1);
      if (s.sqlite_code() != 0 && s.sqlite_code() != SQLITE_ERROR) sqlite3_result_error_code(ctx, s.sqlite_code());
      return;
    }
    sqlite3_result_null(ctx);
  } catch (const std::bad_alloc&) {
    sqlite3_result_error_nomem(ctx);
  } catch (const std::exception& e) {
    sqlite3_result_error(ctx, e.what(), -1);
  }
}

}  // namespace

Status RegisterVectorIndexSync(sqlite3* db) {
  const int rc = sqlite3_create_function_v2(db, "litehouse_vector_index_sync", 2, SQLITE_UTF8, nullptr, SyncFunction, nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::OK() : Status::Sqlite(rc, sqlite3_errmsg(db));
}

}  // namespace litehouse::engine
