#include "vector/index_sql.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>

#include "common/strings.h"
#include "vector/index_settings.h"
#include "vector/vector.h"

namespace litehouse::vector {
namespace {

thread_local int maintenance_depth = 0;

// Marks this thread as running an index's own statements while it lives.
class MaintenanceScope {
 public:
  MaintenanceScope() { ++maintenance_depth; }
  ~MaintenanceScope() { --maintenance_depth; }
  MaintenanceScope(const MaintenanceScope&) = delete;
  MaintenanceScope& operator=(const MaintenanceScope&) = delete;
};

Status Error(std::string message) { return Status::Sqlite(SQLITE_ERROR, std::move(message)); }

Status DbError(sqlite3* db) { return Status::Sqlite(sqlite3_extended_errcode(db), sqlite3_errmsg(db)); }

// A prepared statement, finalized when it goes.
class Stmt {
 public:
  Stmt() = default;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(stmt_); }
  Status Prepare(sqlite3* db, const std::string& sql) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) return DbError(db);
    return Status::OK();
  }
  sqlite3_stmt* get() const { return stmt_; }
  bool prepared() const { return stmt_ != nullptr; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

std::string ColumnText(sqlite3_stmt* st, int i) {
  const unsigned char* p = sqlite3_column_text(st, i);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(st, i))) : std::string();
}

Status Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) == SQLITE_OK) return Status::OK();
  Status s = Status::Sqlite(sqlite3_extended_errcode(db), err ? err : sqlite3_errmsg(db));
  sqlite3_free(err);
  return s;
}

Result<bool> TableExists(sqlite3* db, const char* name) {
  Stmt st;
  if (Status s = st.Prepare(db, "SELECT 1 FROM main.sqlite_schema WHERE type = 'table' AND name = ?1"); !s.ok()) return s;
  sqlite3_bind_text(st.get(), 1, name, -1, SQLITE_STATIC);
  const int rc = sqlite3_step(st.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return DbError(db);
}

// The definition kept for index `name` (case-insensitive, as SQLite's names), if any.
struct Stored {
  std::string name, table, column;
  GraphSettings settings;
};
Result<std::optional<Stored>> LoadIndex(sqlite3* db, std::string_view name) {
  auto exists = TableExists(db, kIndexTable);
  if (!exists.ok()) return exists.status();
  if (!*exists) return std::optional<Stored>();
  Stmt st;
  if (Status s = st.Prepare(db, std::string("SELECT name, tbl, col, settings FROM ") + kIndexTable + " WHERE name = ?1 COLLATE NOCASE"); !s.ok()) return s;
  sqlite3_bind_text(st.get(), 1, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
  const int rc = sqlite3_step(st.get());
  if (rc == SQLITE_DONE) return std::optional<Stored>();
  if (rc != SQLITE_ROW) return DbError(db);
  Stored out{ColumnText(st.get(), 0), ColumnText(st.get(), 1), ColumnText(st.get(), 2), {}};
  auto settings = ParseSettings(ColumnText(st.get(), 3));
  if (!settings.ok()) return settings.status();
  out.settings = *settings;
  return std::optional<Stored>(std::move(out));
}

// ---- The graph's rows --------------------------------------------------------------------------

void PutU16(std::vector<uint8_t>* out, uint16_t v) {
  out->push_back(static_cast<uint8_t>(v));
  out->push_back(static_cast<uint8_t>(v >> 8));
}
void PutI64(std::vector<uint8_t>* out, int64_t v) {
  const uint64_t u = static_cast<uint64_t>(v);
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<uint8_t>(u >> (8 * i)));
}
int64_t GetI64(const uint8_t* p) {
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u |= static_cast<uint64_t>(p[i]) << (8 * i);
  return static_cast<int64_t>(u);
}

class SqliteNodeStore : public NodeStore {
 public:
  SqliteNodeStore(sqlite3* db, std::string graph_table, const GraphSettings& settings)
      : db_(db), table_(DoubleQuoted(graph_table)), settings_(settings),
        node_bytes_(DataSize(settings.type, settings.dims)), edge_bytes_(DataSize(settings.edge_type, settings.dims)) {}

  Result<bool> Get(int64_t id, Node* node) override {
    auto ready = Ready(&get_, "SELECT node FROM " + table_ + " WHERE id = ?1");
    if (!ready.ok()) return ready.status();
    sqlite3_stmt* st = *ready;
    sqlite3_bind_int64(st, 1, id);
    const int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) return false;
    if (rc != SQLITE_ROW) return DbError(db_);
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(st, 0));
    const size_t n = static_cast<size_t>(sqlite3_column_bytes(st, 0));
    if (!p || n < 4 || p[0] != 1) return Status::Corruption("vector index: malformed node " + std::to_string(id) + " in " + table_);
    const size_t edges = static_cast<size_t>(p[2]) | (static_cast<size_t>(p[3]) << 8);
    if (n != 4 + node_bytes_ + edges * (8 + edge_bytes_)) {
      return Status::Corruption("vector index: malformed node " + std::to_string(id) + " in " + table_);
    }
    const uint8_t* at = p + 4;
    node->data.assign(at, at + node_bytes_);
    at += node_bytes_;
    node->edge_ids.resize(edges);
    for (size_t i = 0; i < edges; ++i) node->edge_ids[i] = GetI64(at + 8 * i);
    const uint8_t* vectors = at + edges * 8;
    node->edge_data.assign(vectors, vectors + edges * edge_bytes_);
    sqlite3_reset(st);
    return true;
  }

  Status Put(int64_t id, const Node& node) override {
    auto ready = Ready(&put_, "INSERT OR REPLACE INTO " + table_ + "(id, node) VALUES (?1, ?2)");
    if (!ready.ok()) return ready.status();
    sqlite3_stmt* st = *ready;
    buffer_.clear();
    buffer_.push_back(1);
    buffer_.push_back(0);
    PutU16(&buffer_, static_cast<uint16_t>(node.edge_count()));
    buffer_.insert(buffer_.end(), node.data.begin(), node.data.end());
    for (int64_t edge : node.edge_ids) PutI64(&buffer_, edge);
    buffer_.insert(buffer_.end(), node.edge_data.begin(), node.edge_data.end());
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_blob64(st, 2, buffer_.data(), buffer_.size(), SQLITE_STATIC);
    const int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? Status::OK() : DbError(db_);
  }

  Status Remove(int64_t id) override {
    auto ready = Ready(&remove_, "DELETE FROM " + table_ + " WHERE id = ?1");
    if (!ready.ok()) return ready.status();
    sqlite3_stmt* st = *ready;
    sqlite3_bind_int64(st, 1, id);
    const int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? Status::OK() : DbError(db_);
  }

  Result<std::optional<int64_t>> EntryAfter(int64_t id) override {
    return FirstId(&after_, "SELECT id FROM " + table_ + " WHERE id > ?1 ORDER BY id LIMIT 1", id);
  }

  Result<std::optional<int64_t>> Entry() override {
    return FirstId(&entry_, "SELECT id FROM " + table_ + " ORDER BY id LIMIT 1", std::nullopt);
  }

 private:
  // `stmt`, prepared from `sql` the first time, reset for a new use.
  Result<sqlite3_stmt*> Ready(Stmt* stmt, const std::string& sql) {
    if (!stmt->prepared()) {
      if (Status s = stmt->Prepare(db_, sql); !s.ok()) return s;
    }
    sqlite3_reset(stmt->get());
    return stmt->get();
  }
  // The id the query answers first (bound to `after` when given), or nullopt.
  Result<std::optional<int64_t>> FirstId(Stmt* stmt, const std::string& sql, std::optional<int64_t> after) {
    auto st = Ready(stmt, sql);
    if (!st.ok()) return st.status();
    if (after) sqlite3_bind_int64(*st, 1, *after);
    const int rc = sqlite3_step(*st);
    std::optional<int64_t> out;
    if (rc == SQLITE_ROW) out = sqlite3_column_int64(*st, 0);
    else if (rc != SQLITE_DONE) return DbError(db_);
    sqlite3_reset(*st);
    return out;
  }

  sqlite3* const db_;
  const std::string table_;
  const GraphSettings settings_;
  const size_t node_bytes_, edge_bytes_;
  Stmt get_, put_, remove_, entry_, after_;
  std::vector<uint8_t> buffer_;
};

// ---- Values as vectors -------------------------------------------------------------------------

// `value` read as a vector for an index of `settings` (`what` is "insert" or "search" in messages):
// a blob of any type, or text parsed as f32, as libSQL reads them; then the dimensions and the type
// must be the index's.
Status ReadIndexVector(sqlite3_value* value, const GraphSettings& settings, const char* what,
                       std::optional<Vector>* parsed, VectorRef* out) {
  const int type = sqlite3_value_type(value);
  if (type == SQLITE_TEXT) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_value_text(value));
    auto v = ParseText(std::string_view(p ? p : "", static_cast<size_t>(sqlite3_value_bytes(value))), Type::kFloat32);
    if (!v.ok()) return Error("vector index(" + std::string(what) + "): " + v.status().message());
    parsed->emplace(std::move(*v));
    *out = (*parsed)->ref();
  } else if (type == SQLITE_BLOB) {
    const auto* p = static_cast<const uint8_t*>(sqlite3_value_blob(value));
    auto v = DecodeBlob(std::span<const uint8_t>(p, static_cast<size_t>(sqlite3_value_bytes(value))));
    if (!v.ok()) return Error("vector index(" + std::string(what) + "): " + v.status().message());
    *out = *v;
  } else {
    return Error("vector index(" + std::string(what) + "): unexpected value type: expected TEXT or BLOB");
  }
  if (out->dims != settings.dims) {
    return Error("vector index(" + std::string(what) + "): dimensions are different: " + std::to_string(out->dims) +
                 " != " + std::to_string(settings.dims));
  }
  if (out->type != settings.type) {
    return Error("vector index(" + std::string(what) + "): vector type differs from column type: " +
                 std::to_string(static_cast<int>(out->type)) + " != " + std::to_string(static_cast<int>(settings.type)));
  }
  return Status::OK();
}

// ---- SQL functions -----------------------------------------------------------------------------


std::string_view ArgText(sqlite3_value* v) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_value_text(v));
  return p ? std::string_view(p, static_cast<size_t>(sqlite3_value_bytes(v))) : std::string_view();
}

// libsql_vector_idx(column, options...): the marker of a vector index's expression. NULL, so that
// SQLite's B-tree for the index holds only the rowids (index_sql.h).
void MarkerFunction(sqlite3_context* ctx, int, sqlite3_value**) { sqlite3_result_null(ctx); }

// ---- vector_top_k ------------------------------------------------------------------------------

enum TopKColumn { kColIndex = 0, kColVector = 1, kColK = 2, kColId = 3 };

struct TopKTable {
  sqlite3_vtab base;
  sqlite3* db;
};

struct TopKCursor {
  sqlite3_vtab_cursor base;
  std::vector<int64_t> ids;
  size_t at = 0;
};

int TopKConnect(sqlite3* db, void*, int, const char* const*, sqlite3_vtab** out, char**) {
  const int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(idx hidden, vector hidden, k hidden, id)");
  if (rc != SQLITE_OK) return rc;
  auto* table = new TopKTable{};
  table->db = db;
  *out = &table->base;
  return SQLITE_OK;
}

int TopKDisconnect(sqlite3_vtab* vtab) {
  delete reinterpret_cast<TopKTable*>(vtab);
  return SQLITE_OK;
}

int TopKBestIndex(sqlite3_vtab*, sqlite3_index_info* info) {
  int where[3] = {-1, -1, -1};
  for (int i = 0; i < info->nConstraint; ++i) {
    const auto& c = info->aConstraint[i];
    if (c.iColumn < kColIndex || c.iColumn > kColK || c.op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    if (!c.usable) return SQLITE_CONSTRAINT;  // a plan that has the arguments exists
    where[c.iColumn] = i;
  }
  // An argument left out entirely (vector_top_k('i', q)) still gets a plan, so that xFilter says
  // what libSQL says ("got 2 parameters, expected 3").
  int next = 1;
  for (int col = 0; col < 3; ++col) {
    if (where[col] < 0) continue;
    info->aConstraintUsage[where[col]].argvIndex = next++;
    info->aConstraintUsage[where[col]].omit = 1;
  }
  info->estimatedCost = 1000;
  info->estimatedRows = 10;
  return SQLITE_OK;
}

int TopKOpen(sqlite3_vtab*, sqlite3_vtab_cursor** out) {
  *out = &(new TopKCursor{})->base;
  return SQLITE_OK;
}

int TopKClose(sqlite3_vtab_cursor* cur) {
  delete reinterpret_cast<TopKCursor*>(cur);
  return SQLITE_OK;
}

int VtabError(sqlite3_vtab* vtab, const std::string& message) {
  sqlite3_free(vtab->zErrMsg);
  vtab->zErrMsg = sqlite3_mprintf("%s", message.c_str());
  return SQLITE_ERROR;
}

int TopKFilterUnguarded(sqlite3_vtab_cursor* base, int argc, sqlite3_value** argv) {
  auto* cur = reinterpret_cast<TopKCursor*>(base);
  auto* table = reinterpret_cast<TopKTable*>(base->pVtab);
  cur->ids.clear();
  cur->at = 0;
  if (argc != 3) return VtabError(base->pVtab, "vector index(search): got " + std::to_string(argc) + " parameters, expected 3");
  // k first, as libSQL checks it.
  int64_t k = 0;
  switch (sqlite3_value_type(argv[2])) {
    case SQLITE_INTEGER: k = sqlite3_value_int64(argv[2]); break;
    case SQLITE_FLOAT: {
      const double d = sqlite3_value_double(argv[2]);
      if (!(d > -9.0e18 && d < 9.0e18) || d != static_cast<double>(static_cast<int64_t>(d))) {
        return VtabError(base->pVtab, "vector index(search): third parameter (k) must be an integer, but float value were provided");
      }
      k = static_cast<int64_t>(d);
      break;
    }
    default:
      return VtabError(base->pVtab, "vector index(search): third parameter (k) must be an integer, but unexpected type of value were provided");
  }
  if (k < 0) {
    return VtabError(base->pVtab, "vector index(search): third parameter (k) must be a non-negative integer, but negative value were provided");
  }
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    return VtabError(base->pVtab, "vector index(search): first parameter (index) must be a string");
  }
  std::string_view name = ArgText(argv[0]);
  if (const size_t dot = name.find('.'); dot != std::string_view::npos) {
    const std::string_view schema = name.substr(0, dot);
    if (!EqualsIgnoreCase(schema, "main")) return VtabError(base->pVtab, "vector index(search): unknown schema '" + std::string(schema) + "'");
    name = name.substr(dot + 1);
  }
  auto stored = LoadIndex(table->db, name);
  if (!stored.ok()) return VtabError(base->pVtab, "vector index(search): " + stored.status().message());
  if (!stored->has_value()) return VtabError(base->pVtab, "vector index(search): index not found");
  const GraphSettings& settings = (*stored)->settings;
  std::optional<Vector> parsed;
  VectorRef query;
  if (Status s = ReadIndexVector(argv[1], settings, "search", &parsed, &query); !s.ok()) return VtabError(base->pVtab, s.message());
  if (k == 0) return SQLITE_OK;
  SqliteNodeStore store(table->db, GraphTableName((*stored)->name), settings);
  Graph graph(settings, &store);
  // Only rows the table still holds: an INSERT OR REPLACE that deletes a conflicting row of another
  // rowid fires no delete trigger (SQLite does so only with recursive_triggers), so its node stays in
  // the graph, still useful as a waypoint, until that rowid is written again or the index rebuilt.
  // The table as the schema names it now (ALTER TABLE ... RENAME rewrites the index's entry, not
  // the index table's row). A row of a NULL vector has no node, so its rowid is enough.
  std::string indexed_table;
  {
    Stmt st;
    if (Status s = st.Prepare(table->db, "SELECT tbl_name FROM main.sqlite_schema WHERE type = 'index' AND name = ?1 COLLATE NOCASE"); !s.ok()) {
      return VtabError(base->pVtab, "vector index(search): " + s.message());
    }
    sqlite3_bind_text(st.get(), 1, (*stored)->name.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st.get()) != SQLITE_ROW) return VtabError(base->pVtab, "vector index(search): index not found");
    indexed_table = ColumnText(st.get(), 0);
  }
  Stmt exists;
  if (Status s = exists.Prepare(table->db, "SELECT 1 FROM main." + DoubleQuoted(indexed_table) + " WHERE rowid = ?1"); !s.ok()) {
    return VtabError(base->pVtab, "vector index(search): " + s.message());
  }
  auto keep = [&](int64_t id) -> Result<bool> {
    sqlite3_stmt* st = exists.get();
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, id);
    const int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return DbError(table->db);
  };
  auto found = graph.Search(query, static_cast<uint32_t>(std::min<int64_t>(k, Graph::kMaxExpansions)), keep);
  if (!found.ok()) return VtabError(base->pVtab, "vector index(search): " + found.status().message());
  for (const Neighbor& n : *found) cur->ids.push_back(n.id);
  return SQLITE_OK;
}

// No exception may cross SQLite's C frames.
int TopKFilter(sqlite3_vtab_cursor* base, int, const char*, int argc, sqlite3_value** argv) {
  try {
    return TopKFilterUnguarded(base, argc, argv);
  } catch (const std::bad_alloc&) {
    return SQLITE_NOMEM;
  } catch (const std::exception& e) {
    return VtabError(base->pVtab, std::string("vector index(search): ") + e.what());
  }
}

int TopKNext(sqlite3_vtab_cursor* base) {
  ++reinterpret_cast<TopKCursor*>(base)->at;
  return SQLITE_OK;
}

int TopKEof(sqlite3_vtab_cursor* base) {
  auto* cur = reinterpret_cast<TopKCursor*>(base);
  return cur->at >= cur->ids.size();
}

int TopKColumnValue(sqlite3_vtab_cursor* base, sqlite3_context* ctx, int col) {
  auto* cur = reinterpret_cast<TopKCursor*>(base);
  if (col == kColId) sqlite3_result_int64(ctx, cur->ids[cur->at]);
  else sqlite3_result_null(ctx);
  return SQLITE_OK;
}

int TopKRowid(sqlite3_vtab_cursor* base, sqlite_int64* rowid) {
  auto* cur = reinterpret_cast<TopKCursor*>(base);
  *rowid = cur->ids[cur->at];
  return SQLITE_OK;
}

sqlite3_module MakeTopKModule() {
  sqlite3_module m;
  std::memset(&m, 0, sizeof m);
  m.iVersion = 0;
  m.xCreate = nullptr;  // eponymous only: CREATE VIRTUAL TABLE ... USING vector_top_k is refused
  m.xConnect = TopKConnect;
  m.xBestIndex = TopKBestIndex;
  m.xDisconnect = TopKDisconnect;
  m.xDestroy = TopKDisconnect;
  m.xOpen = TopKOpen;
  m.xClose = TopKClose;
  m.xFilter = TopKFilter;
  m.xNext = TopKNext;
  m.xEof = TopKEof;
  m.xColumn = TopKColumnValue;
  m.xRowid = TopKRowid;
  return m;
}

const sqlite3_module kTopKModule = MakeTopKModule();

}  // namespace

std::string GraphTableName(const std::string& name) { return name + "_lh_graph"; }

namespace {
bool EndsWithIgnoreCase(std::string_view s, std::string_view suffix) {
  return s.size() > suffix.size() && EqualsIgnoreCase(s.substr(s.size() - suffix.size()), suffix);
}
}  // namespace

bool IsIndexTableName(std::string_view table) {
  return EqualsIgnoreCase(table, kIndexTable) || EndsWithIgnoreCase(table, "_lh_graph");
}

bool InIndexMaintenance() { return maintenance_depth > 0; }

Status SyncRow(sqlite3* db, const IndexDefinition& def, int64_t rowid) {
  MaintenanceScope maintenance;
  auto stored = LoadIndex(db, def.name);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return Status::OK();  // dropped in this statement
  const GraphSettings& settings = (*stored)->settings;
  // The row as it is now (a trigger of the user's may have changed it since the statement wrote
  // it), and whether a partial index holds it.
  Stmt read;
  if (Status s = read.Prepare(db, "SELECT " + DoubleQuoted(def.column) + " FROM main." + DoubleQuoted(def.table) + " WHERE rowid = ?1" +
                                      (def.where.empty() ? "" : " AND (" + def.where + ")"));
      !s.ok()) {
    return s;
  }
  sqlite3_bind_int64(read.get(), 1, rowid);
  const int rc = sqlite3_step(read.get());
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return DbError(db);
  SqliteNodeStore store(db, GraphTableName((*stored)->name), settings);
  Graph graph(settings, &store);
  if (rc == SQLITE_DONE || sqlite3_column_type(read.get(), 0) == SQLITE_NULL) return graph.Remove(rowid);
  std::optional<Vector> parsed;
  VectorRef v;
  if (Status s = ReadIndexVector(sqlite3_column_value(read.get(), 0), settings, "insert", &parsed, &v); !s.ok()) return s;
  Node node;
  auto found = store.Get(rowid, &node);
  if (!found.ok()) return found.status();
  if (*found && node.data.size() == DataSize(v.type, v.dims) && std::memcmp(node.data.data(), v.data, node.data.size()) == 0) {
    return Status::OK();  // the node is the row's already (an update of other columns)
  }
  return graph.Insert(rowid, v);
}

std::vector<std::string> TriggerNames(const std::string& name) {
  return {name + "_lh_insert", name + "_lh_update", name + "_lh_delete"};
}

Status RegisterIndexFunctions(sqlite3* db) {
  // The marker is deterministic and innocuous (it is an index's expression); the two others write
  // and are called from triggers, which trusted_schema (SQLite's default, ON) allows.
  int rc = sqlite3_create_function_v2(db, "libsql_vector_idx", -1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                                      nullptr, MarkerFunction, nullptr, nullptr, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_create_module_v2(db, "vector_top_k", &kTopKModule, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::OK() : DbError(db);
}

Result<GraphSettings> CheckIndex(sqlite3* db, const IndexDefinition& def) {
  std::optional<std::string> declared;
  bool shadowed_rowid = false;
  {
    Stmt st;
    if (Status s = st.Prepare(db, "PRAGMA main.table_xinfo(" + DoubleQuoted(def.table) + ")"); !s.ok()) return s;
    while (sqlite3_step(st.get()) == SQLITE_ROW) {
      const std::string column = ColumnText(st.get(), 1);
      if (EqualsIgnoreCase(column, def.column)) declared = ColumnText(st.get(), 2);
      if (EqualsIgnoreCase(column, "rowid") || EqualsIgnoreCase(column, "_rowid_") || EqualsIgnoreCase(column, "oid")) shadowed_rowid = true;
    }
  }
  if (!declared) return Error("no such column: " + def.column);
  // The index names rows by rowid (its triggers, its search): a column that takes that name would
  // be read in its place.
  if (shadowed_rowid) return Error("vector index: unsupported for tables with a column named rowid, _rowid_ or oid");
  auto settings = ParseIndexOptions(*declared, def.options);
  if (!settings.ok()) return settings.status();
  Stmt rowid;
  if (!rowid.Prepare(db, "SELECT rowid FROM main." + DoubleQuoted(def.table) + " LIMIT 0").ok()) {
    return Error("vector index: unsupported for tables without ROWID and composite primary key");
  }
  return settings;
}

Status CreateIndex(sqlite3* db, const IndexDefinition& def) {
  auto settings = CheckIndex(db, def);
  if (!settings.ok()) return settings.status();
  const std::string graph = GraphTableName(def.name);
  const std::vector<std::string> triggers = TriggerNames(def.name);
  const std::string t = DoubleQuoted(def.table), c = DoubleQuoted(def.column);
  std::string name_literal = "'";
  for (char ch : def.name) {
    name_literal.push_back(ch);
    if (ch == '\'') name_literal.push_back('\'');
  }
  name_literal.push_back('\'');
  // An index made again (REINDEX, a CREATE after DROP in one savepoint) replaces its own objects;
  // an object of the user's that has one of their names is never dropped.
  {
    auto registered = LoadIndex(db, def.name);
    if (!registered.ok()) return registered.status();
    Stmt st;
    if (Status p = st.Prepare(db, "SELECT type, name, tbl_name, sql FROM main.sqlite_schema WHERE (type = 'table' AND name = ?1 COLLATE NOCASE) OR "
                                  "(type = 'trigger' AND name IN (?2, ?3, ?4) COLLATE NOCASE)");
        !p.ok()) {
      return p;
    }
    sqlite3_bind_text(st.get(), 1, graph.c_str(), -1, SQLITE_TRANSIENT);
    for (int i = 0; i < 3; ++i) sqlite3_bind_text(st.get(), 2 + i, triggers[static_cast<size_t>(i)].c_str(), -1, SQLITE_TRANSIENT);
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
      const std::string type = ColumnText(st.get(), 0), name = ColumnText(st.get(), 1), on = ColumnText(st.get(), 2), sql = ColumnText(st.get(), 3);
      const bool ours = type == "table" ? registered->has_value()
                                        : EqualsIgnoreCase(on, def.table) && sql.find("litehouse_vector_index_sync(") != std::string::npos;
      if (!ours) return Error("vector index: " + type + " " + name + " already exists");
    }
    if (rc != SQLITE_DONE) return DbError(db);
  }
  Status s = Exec(db, std::string("CREATE TABLE IF NOT EXISTS main.") + kIndexTable +
                          "(name TEXT PRIMARY KEY, tbl TEXT NOT NULL, col TEXT NOT NULL, settings TEXT NOT NULL)");
  if (s.ok()) {
    Stmt st;
    s = st.Prepare(db, std::string("INSERT OR REPLACE INTO main.") + kIndexTable + "(name, tbl, col, settings) VALUES (?1, ?2, ?3, ?4)");
    if (s.ok()) {
      const std::string text = FormatSettings(*settings);
      sqlite3_bind_text(st.get(), 1, def.name.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st.get(), 2, def.table.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st.get(), 3, def.column.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(st.get(), 4, text.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(st.get()) != SQLITE_DONE) s = DbError(db);
    }
  }
  if (s.ok()) s = Exec(db, "DROP TABLE IF EXISTS main." + DoubleQuoted(graph));
  if (s.ok()) s = Exec(db, "CREATE TABLE main." + DoubleQuoted(graph) + "(id INTEGER PRIMARY KEY, node BLOB NOT NULL)");
  for (const std::string& trigger : triggers) {
    if (s.ok()) s = Exec(db, "DROP TRIGGER IF EXISTS main." + DoubleQuoted(trigger));
  }
  // Each trigger makes the graph agree with the row as it is then (SyncRow): the order among the
  // table's other triggers, a NULL vector, a partial index's condition, do not matter.
  const auto sync = [&](const char* row) { return "SELECT litehouse_vector_index_sync(" + name_literal + ", " + row + ".rowid);"; };
  if (s.ok()) s = Exec(db, "CREATE TRIGGER main." + DoubleQuoted(triggers[0]) + " AFTER INSERT ON " + t + " BEGIN " + sync("new") + " END");
  if (s.ok()) {
    // Any change of a partial index's row may change whether it meets the condition.
    const std::string when = def.where.empty() ? " WHEN old.rowid IS NOT new.rowid OR old." + c + " IS NOT new." + c : "";
    s = Exec(db, "CREATE TRIGGER main." + DoubleQuoted(triggers[1]) + " AFTER UPDATE ON " + t + when + " BEGIN " + sync("old") + " " +
                     sync("new") + " END");
  }
  if (s.ok()) s = Exec(db, "CREATE TRIGGER main." + DoubleQuoted(triggers[2]) + " AFTER DELETE ON " + t + " BEGIN " + sync("old") + " END");
  if (!s.ok()) return s;
  // The rows already there, in rowid order.
  Stmt rows;
  const std::string where = def.where.empty() ? "" : " AND (" + def.where + ")";
  if (Status p = rows.Prepare(db, "SELECT rowid, " + c + " FROM main." + t + " WHERE " + c + " IS NOT NULL" + where + " ORDER BY rowid"); !p.ok()) {
    return p;
  }
  SqliteNodeStore store(db, graph, *settings);
  Graph g(*settings, &store);
  int rc;
  while ((rc = sqlite3_step(rows.get())) == SQLITE_ROW) {
    std::optional<Vector> parsed;
    VectorRef v;
    if (Status r = ReadIndexVector(sqlite3_column_value(rows.get(), 1), *settings, "insert", &parsed, &v); !r.ok()) return r;
    if (Status r = g.Insert(sqlite3_column_int64(rows.get(), 0), v); !r.ok()) return r;
  }
  return rc == SQLITE_DONE ? Status::OK() : DbError(db);
}

Status SyncIndexes(sqlite3* db) {
  auto exists = TableExists(db, kIndexTable);
  if (!exists.ok()) return exists.status();
  if (!*exists) return Status::OK();
  std::vector<std::string> gone;
  int64_t left = 0;
  {
    Stmt st;
    if (Status s = st.Prepare(db, std::string("SELECT v.name, (SELECT count(*) FROM sqlite_schema s WHERE s.type = 'index' AND s.name = v.name) FROM main.") +
                                      kIndexTable + " v");
        !s.ok()) {
      return s;
    }
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
      if (sqlite3_column_int64(st.get(), 1) == 0) gone.push_back(ColumnText(st.get(), 0));
      else ++left;
    }
    if (rc != SQLITE_DONE) return DbError(db);
  }
  for (const std::string& name : gone) {
    Status s = Exec(db, "DROP TABLE IF EXISTS main." + DoubleQuoted(GraphTableName(name)));
    for (const std::string& trigger : TriggerNames(name)) {
      if (s.ok()) s = Exec(db, "DROP TRIGGER IF EXISTS main." + DoubleQuoted(trigger));
    }
    if (s.ok()) {
      Stmt del;
      s = del.Prepare(db, std::string("DELETE FROM main.") + kIndexTable + " WHERE name = ?1");
      if (s.ok()) {
        sqlite3_bind_text(del.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
        if (sqlite3_step(del.get()) != SQLITE_DONE) s = DbError(db);
      }
    }
    if (!s.ok()) return s;
  }
  if (left == 0) return Exec(db, std::string("DROP TABLE IF EXISTS main.") + kIndexTable);
  return Status::OK();
}

}  // namespace litehouse::vector
