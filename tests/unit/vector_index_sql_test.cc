// Vector indexes through a connection (engine/vector_ddl.h, vector/index_sql.h), as the client
// library's local files and the server run them: CREATE INDEX ... libsql_vector_idx, vector_top_k,
// the index kept by INSERT/UPDATE/DELETE and transactions, DROP, REINDEX, the dump, and libSQL's
// error messages (libsql-sqlite3/test/libsql_vector_index.test).
#include "engine/vector_ddl.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/connection.h"
#include "engine/dump.h"
#include "test_dir.h"

namespace litehouse::engine {
namespace {

TEST(VectorDdl, RecognisesVectorIndexStatementsOnly) {
  EXPECT_FALSE(MatchVectorDdl("SELECT 1").has_value());
  EXPECT_FALSE(MatchVectorDdl("CREATE INDEX i ON t(a)").has_value());
  EXPECT_FALSE(MatchVectorDdl("CREATE TABLE t(a)").has_value());
  EXPECT_FALSE(MatchVectorDdl("CREATE INDEX i ON t(libsql_vector(e))").has_value());
  auto m = MatchVectorDdl("create index if not exists \"my i\" on [t] ( LIBSQL_VECTOR_IDX ( emb , 'metric=l2', 'max_neighbors=8' ) ); SELECT 1");
  ASSERT_TRUE(m && m->ok());
  EXPECT_EQ((*m)->kind, VectorDdl::Kind::kCreateIndex);
  EXPECT_TRUE((*m)->if_not_exists);
  EXPECT_EQ((*m)->index.name, "my i");
  EXPECT_EQ((*m)->index.table, "t");
  EXPECT_EQ((*m)->index.column, "emb");
  EXPECT_EQ((*m)->index.options, (std::vector<std::string>{"metric=l2", "max_neighbors=8"}));
  auto bad = MatchVectorDdl("CREATE INDEX i ON t(libsql_vector_idx(e, 3))");
  ASSERT_TRUE(bad && !bad->ok());
  EXPECT_EQ(bad->status().message(), "vector index: all arguments after first must be strings");
  bad = MatchVectorDdl("CREATE INDEX i ON t(libsql_vector_idx(e), a)");
  ASSERT_TRUE(bad && !bad->ok());
  EXPECT_EQ(bad->status().message(), "vector index: must contain exactly one column wrapped into the libsql_vector_idx function");
  auto drop = MatchVectorDdl("DROP INDEX i");
  ASSERT_TRUE(drop && drop->ok());
  EXPECT_EQ((*drop)->kind, VectorDdl::Kind::kDrop);
  auto reindex = MatchVectorDdl("REINDEX main.i");
  ASSERT_TRUE(reindex && reindex->ok());
  EXPECT_EQ((*reindex)->kind, VectorDdl::Kind::kReindex);
  EXPECT_EQ((*reindex)->target, "i");
}

class VectorIndexOnAFile : public ::testing::Test {
 protected:
  void SetUp() override { conn_ = std::move(Connection::Open(dir_.file("db"), Role::kStandalone)).value(); }
  // Rows joined with '|', columns with ','; "error: <message>" on failure.
  std::string Run(const std::string& sql) {
    size_t tail = 0;
    auto st = conn_->Prepare(sql, &tail);
    if (!st.ok()) return "error: " + st.status().message();
    std::string out;
    for (int rows = 0; rows < 100000; ++rows) {
      auto row = st->Step();
      if (!row.ok()) return "error: " + row.status().message();
      if (!*row) break;
      if (!out.empty()) out += "|";
      for (int c = 0; c < st->column_count(); ++c) {
        if (c) out += ",";
        Value v = st->column(c);
        if (auto* s = std::get_if<std::string>(&v)) out += *s;
        if (auto* i = std::get_if<int64_t>(&v)) out += std::to_string(*i);
        if (std::holds_alternative<std::monostate>(v)) out += "NULL";
      }
    }
    return out;
  }
  testing::TestDir dir_;
  std::unique_ptr<Connection> conn_;
};

TEST_F(VectorIndexOnAFile, FindsNearestRowsAndFollowsEveryWrite) {
  ASSERT_EQ(Run("CREATE TABLE movies(title TEXT, year INT, emb F32_BLOB(3))"), "");
  ASSERT_EQ(Run("INSERT INTO movies VALUES ('Napoleon', 2023, vector('[1,2,3]')), ('Black Hawk Down', 2001, vector('[10,11,12]')),"
                " ('Gladiator', 2000, vector('[7,8,9]')), ('Blade Runner', 1982, vector('[4,5,6]')), ('None', 1, NULL)"),
            "");
  ASSERT_EQ(Run("CREATE INDEX movies_idx ON movies(libsql_vector_idx(emb, 'metric=l2'))"), "");
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('movies_idx', vector('[4,5,6]'), 3)"), "4|1|3") << "a tie goes to the smaller id";
  EXPECT_EQ(Run("SELECT title, year FROM vector_top_k('movies_idx', '[4,5,6]', 2) JOIN movies ON movies.rowid = id"),
            "Blade Runner,1982|Napoleon,2023");
  EXPECT_EQ(Run("SELECT * FROM vector_top_k('main.movies_idx', vector('[10,11,12]'), 1)"), "2") << "SELECT * is id alone";
  EXPECT_EQ(Run("SELECT count(*) FROM vector_top_k('movies_idx', vector('[4,5,6]'), 100)"), "4") << "NULL is not indexed";
  // Writes after the index was made.
  ASSERT_EQ(Run("INSERT INTO movies VALUES ('Dune', 2021, vector('[4,5,7]'))"), "");
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('movies_idx', vector('[4,5,7]'), 1)"), "6");
  ASSERT_EQ(Run("UPDATE movies SET emb = vector('[100,100,100]') WHERE title = 'Dune'"), "");
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('movies_idx', vector('[4,5,7]'), 1)"), "4");
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('movies_idx', vector('[99,99,99]'), 1)"), "6");
  ASSERT_EQ(Run("DELETE FROM movies WHERE title = 'Blade Runner'"), "");
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('movies_idx', vector('[4,5,6]'), 2)"), "1|3");
  ASSERT_EQ(Run("UPDATE movies SET emb = vector('[4,5,6]') WHERE title = 'None'"), "");
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('movies_idx', vector('[4,5,6]'), 1)"), "5");
  // A transaction that rolls back leaves the index as it was; one that commits keeps its writes.
  ASSERT_EQ(Run("BEGIN"), "");
  ASSERT_EQ(Run("INSERT INTO movies VALUES ('Tmp', 1, vector('[4,5,6.5]'))"), "");
  ASSERT_EQ(Run("DELETE FROM movies WHERE title = 'Napoleon'"), "");
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('movies_idx', vector('[1,2,3]'), 1)"), "5") << "its own writes, inside";
  ASSERT_EQ(Run("ROLLBACK"), "");
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('movies_idx', vector('[1,2,3]'), 1)"), "1");
  EXPECT_EQ(Run("SELECT count(*) FROM vector_top_k('movies_idx', vector('[4,5,6]'), 100)"), "5");
  EXPECT_EQ(Run("PRAGMA integrity_check"), "ok");
  // Exact search agrees.
  EXPECT_EQ(Run("SELECT rowid FROM movies WHERE emb IS NOT NULL ORDER BY vector_distance_l2(emb, vector('[7,8,8]')) LIMIT 3"),
            Run("SELECT id FROM vector_top_k('movies_idx', vector('[7,8,8]'), 3)"));
}

// INSERT OR REPLACE that deletes a conflicting row of another rowid fires no delete trigger: the
// deleted row's node stays in the graph, and vector_top_k must not answer it.
TEST_F(VectorIndexOnAFile, ARowDeletedByReplaceIsNotAnswered) {
  ASSERT_EQ(Run("CREATE TABLE docs(name TEXT UNIQUE, emb F32_BLOB(2))"), "");
  ASSERT_EQ(Run("CREATE INDEX docs_idx ON docs(libsql_vector_idx(emb, 'metric=l2'))"), "");
  ASSERT_EQ(Run("INSERT INTO docs VALUES ('a', vector('[0,0]')), ('b', vector('[1,1]')), ('c', vector('[5,5]'))"), "");
  // 'a' (rowid 1) conflicts on name: SQLite deletes rowid 1 and inserts rowid 4.
  ASSERT_EQ(Run("INSERT OR REPLACE INTO docs VALUES ('a', vector('[9,9]'))"), "");
  EXPECT_EQ(Run("SELECT rowid FROM docs ORDER BY rowid"), "2|3|4");
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('docs_idx', vector('[0,0]'), 2)"), "2|3") << "not the deleted rowid 1";
  EXPECT_EQ(Run("SELECT count(*) FROM vector_top_k('docs_idx', vector('[0,0]'), 10)"), "3");
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('docs_idx', vector('[9,9]'), 1)"), "4");
  // The rowid written again takes its node back.
  ASSERT_EQ(Run("INSERT INTO docs(rowid, name, emb) VALUES (1, 'z', vector('[0.5,0.5]'))"), "");
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('docs_idx', vector('[0,0]'), 2)"), "1|2");
  EXPECT_EQ(Run("PRAGMA integrity_check"), "ok");
}

// ALTER TABLE renames the table or the column under an index: SQLite rewrites the index and its
// triggers; the index goes on answering and following writes.
TEST_F(VectorIndexOnAFile, FollowsARenamedTableAndColumn) {
  ASSERT_EQ(Run("CREATE TABLE t(emb F32_BLOB(2))"), "");
  ASSERT_EQ(Run("CREATE INDEX t_idx ON t(libsql_vector_idx(emb, 'metric=l2'))"), "");
  ASSERT_EQ(Run("INSERT INTO t VALUES (vector('[0,0]')), (vector('[3,3]'))"), "");
  ASSERT_EQ(Run("ALTER TABLE t RENAME TO t2"), "");
  ASSERT_EQ(Run("ALTER TABLE t2 RENAME COLUMN emb TO e"), "");
  ASSERT_EQ(Run("INSERT INTO t2 VALUES (vector('[1,1]'))"), "");
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('t_idx', vector('[0.9,0.9]'), 2)"), "3|1");
  ASSERT_EQ(Run("DELETE FROM t2 WHERE rowid = 3"), "");
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('t_idx', vector('[0.9,0.9]'), 1)"), "1");
  ASSERT_EQ(Run("REINDEX t_idx"), "");
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('t_idx', vector('[2.9,2.9]'), 1)"), "2");
  EXPECT_EQ(Run("PRAGMA integrity_check"), "ok");
}

// The index's own tables are the index's: a client's direct write is refused (engine/sql_guard.cc),
// reading them is not.
TEST_F(VectorIndexOnAFile, ClientsCannotWriteTheIndexItself) {
  ASSERT_EQ(Run("CREATE TABLE t(emb F32_BLOB(2))"), "");
  ASSERT_EQ(Run("CREATE INDEX t_idx ON t(libsql_vector_idx(emb))"), "");
  ASSERT_EQ(Run("INSERT INTO t VALUES (vector('[1,0]'))"), "");
  const std::string belongs = "belongs to a vector index, which keeps it itself";
  EXPECT_NE(Run("DELETE FROM t_idx_lh_graph").find(belongs), std::string::npos) << Run("DELETE FROM t_idx_lh_graph");
  EXPECT_NE(Run("INSERT INTO t_idx_lh_graph VALUES (9, x'00')").find(belongs), std::string::npos);
  EXPECT_NE(Run("UPDATE litehouse_vector_index SET settings = ''").find(belongs), std::string::npos);
  EXPECT_NE(Run("DROP TABLE t_idx_lh_graph").find(belongs), std::string::npos);
  EXPECT_NE(Run("ALTER TABLE t_idx_lh_graph ADD COLUMN x").find(belongs), std::string::npos);
  EXPECT_NE(Run("CREATE TRIGGER x AFTER INSERT ON t_idx_lh_graph BEGIN SELECT 1; END").find(belongs), std::string::npos);
  // The triggers' function can be called by anyone, from anywhere (a CTE, a view): it only makes the
  // graph agree with the table.
  EXPECT_EQ(Run("WITH x AS (SELECT litehouse_vector_index_sync('t_idx', 5)) SELECT * FROM x"), "NULL") << "no row 5: nothing";
  EXPECT_EQ(Run("SELECT litehouse_vector_index_sync('t_idx', 1)"), "NULL");
  EXPECT_EQ(Run("SELECT count(*) FROM t_idx_lh_graph"), "1");
  EXPECT_EQ(Run("SELECT litehouse_vector_index_sync('no_such_index', 1)"), "NULL");
  EXPECT_NE(Run("CREATE TABLE my_lh_graph(x)").find("reserved for vector indexes"), std::string::npos);
  EXPECT_EQ(Run("SELECT count(*) FROM t_idx_lh_graph"), "1") << "reading is allowed";
  // The index's own writes still go through, from the client's statements.
  ASSERT_EQ(Run("INSERT INTO t VALUES (vector('[0,1]'))"), "");
  ASSERT_EQ(Run("UPDATE t SET emb = vector('[1,1]') WHERE rowid = 1"), "");
  ASSERT_EQ(Run("DELETE FROM t WHERE rowid = 2"), "");
  EXPECT_EQ(Run("SELECT count(*) FROM t_idx_lh_graph"), "1");
  ASSERT_EQ(Run("DROP INDEX t_idx"), "");
  EXPECT_EQ(Run("SELECT count(*) FROM sqlite_schema WHERE name LIKE 't_idx%'"), "0");
}

// Each trigger makes the graph agree with the row as it is when the trigger runs: a user's trigger
// that rewrites or deletes the row, a NULL written over a vector (by UPDATE or by REPLACE of the same
// rowid), an UPSERT, an UPDATE of the rowid, a foreign key's cascade, ROLLBACK TO.
TEST_F(VectorIndexOnAFile, TheGraphFollowsTheRowWhateverWroteIt) {
  ASSERT_EQ(Run("CREATE TABLE t(id INTEGER PRIMARY KEY, emb F32_BLOB(2), n INT)"), "");
  ASSERT_EQ(Run("CREATE INDEX i ON t(libsql_vector_idx(emb, 'metric=l2'))"), "");
  const auto graph = [&] { return Run("SELECT id FROM i_lh_graph ORDER BY id"); };
  const auto node_is = [&](int id, const char* v) {
    return Run("SELECT count(*) FROM vector_top_k('i', vector('" + std::string(v) + "'), 1) WHERE id = " + std::to_string(id));
  };
  // A user's trigger made after the index runs before the index's own (SQLite fires the newest first).
  ASSERT_EQ(Run("CREATE TRIGGER norm AFTER INSERT ON t WHEN new.n = 1 BEGIN UPDATE t SET emb = vector('[9,9]') WHERE id = new.id; END"), "");
  ASSERT_EQ(Run("INSERT INTO t VALUES (1, vector('[0,0]'), 1)"), "");
  EXPECT_EQ(node_is(1, "[9,9]"), "1") << "the row's vector, not the statement's";
  ASSERT_EQ(Run("CREATE TRIGGER gone AFTER INSERT ON t WHEN new.n = 2 BEGIN DELETE FROM t WHERE id = new.id; END"), "");
  ASSERT_EQ(Run("INSERT INTO t VALUES (2, vector('[1,1]'), 2)"), "");
  EXPECT_EQ(graph(), "1") << "no node for a row a trigger deleted";
  // NULL over a vector.
  ASSERT_EQ(Run("INSERT INTO t VALUES (3, vector('[3,3]'), 0), (4, vector('[4,4]'), 0)"), "");
  ASSERT_EQ(Run("UPDATE t SET emb = NULL WHERE id = 3"), "");
  ASSERT_EQ(Run("REPLACE INTO t VALUES (4, NULL, 0)"), "");
  EXPECT_EQ(graph(), "1");
  // UPSERT, and an UPDATE of the rowid.
  ASSERT_EQ(Run("INSERT INTO t VALUES (5, vector('[5,5]'), 0) ON CONFLICT(id) DO UPDATE SET emb = excluded.emb"), "");
  ASSERT_EQ(Run("INSERT INTO t VALUES (5, vector('[6,6]'), 0) ON CONFLICT(id) DO UPDATE SET emb = excluded.emb"), "");
  EXPECT_EQ(node_is(5, "[6,6]"), "1");
  ASSERT_EQ(Run("UPDATE t SET id = 7 WHERE id = 5"), "");
  EXPECT_EQ(graph(), "1|7");
  // An update of another column leaves the node as it is.
  ASSERT_EQ(Run("UPDATE t SET n = n + 1"), "");
  EXPECT_EQ(graph(), "1|7");
  // A foreign key's cascade deletes rows through SQLite's trigger programs.
  ASSERT_EQ(Run("CREATE TABLE parent(id INTEGER PRIMARY KEY)"), "");
  ASSERT_EQ(Run("CREATE TABLE child(pid REFERENCES parent(id) ON DELETE CASCADE, emb F32_BLOB(2))"), "");
  ASSERT_EQ(Run("CREATE INDEX ci ON child(libsql_vector_idx(emb))"), "");
  ASSERT_EQ(Run("PRAGMA foreign_keys = ON"), "");
  ASSERT_EQ(Run("INSERT INTO parent VALUES (1)"), "");
  ASSERT_EQ(Run("INSERT INTO child VALUES (1, vector('[1,0]'))"), "");
  ASSERT_EQ(Run("INSERT INTO child VALUES (1, vector('[0,1]'))"), "");
  EXPECT_EQ(Run("SELECT count(*) FROM ci_lh_graph"), "2");
  ASSERT_EQ(Run("DELETE FROM parent"), "");
  EXPECT_EQ(Run("SELECT count(*) FROM ci_lh_graph"), "0");
  // ROLLBACK TO undoes the graph's writes with the row's.
  ASSERT_EQ(Run("BEGIN"), "");
  ASSERT_EQ(Run("SAVEPOINT s"), "");
  ASSERT_EQ(Run("INSERT INTO t VALUES (8, vector('[8,8]'), 0)"), "");
  ASSERT_EQ(Run("ROLLBACK TO s"), "");
  ASSERT_EQ(Run("COMMIT"), "");
  EXPECT_EQ(graph(), "1|7");
  EXPECT_EQ(Run("PRAGMA integrity_check"), "ok");
}

// A partial index holds the rows its condition holds for, whatever the order of the DDL's terms.
TEST_F(VectorIndexOnAFile, APartialIndexFollowsItsCondition) {
  ASSERT_EQ(Run("CREATE TABLE d(kind INT, emb F32_BLOB(2))"), "");
  ASSERT_EQ(Run("CREATE INDEX di ON d(libsql_vector_idx(emb) DESC) WHERE kind = 0"), "");
  ASSERT_EQ(Run("INSERT INTO d VALUES (0, vector('[0,1]')), (1, vector('[1,0]'))"), "");
  EXPECT_EQ(Run("SELECT id FROM di_lh_graph ORDER BY id"), "1") << "the condition is kept after DESC";
  ASSERT_EQ(Run("UPDATE d SET kind = 0 WHERE rowid = 2"), "");
  EXPECT_EQ(Run("SELECT id FROM di_lh_graph ORDER BY id"), "1|2");
  ASSERT_EQ(Run("UPDATE d SET kind = 5 WHERE rowid = 1"), "");
  EXPECT_EQ(Run("SELECT id FROM di_lh_graph ORDER BY id"), "2");
  ASSERT_EQ(Run("REPLACE INTO d(rowid, kind, emb) VALUES (2, 3, vector('[1,1]'))"), "");
  EXPECT_EQ(Run("SELECT count(*) FROM di_lh_graph"), "0") << "the replacing row fails the condition";
}

// Objects of the user's that have an index's names are never dropped; a table whose columns shadow
// rowid is refused; options past their bounds are taken as the bound.
TEST_F(VectorIndexOnAFile, NamesAndBounds) {
  ASSERT_EQ(Run("CREATE TABLE t(emb F32_BLOB(2))"), "");
  ASSERT_EQ(Run("CREATE TRIGGER i_lh_insert AFTER INSERT ON t BEGIN SELECT 1; END"), "");
  EXPECT_EQ(Run("CREATE INDEX i ON t(libsql_vector_idx(emb))"), "error: vector index: trigger i_lh_insert already exists");
  EXPECT_EQ(Run("SELECT count(*) FROM sqlite_schema WHERE name = 'i_lh_insert'"), "1");
  EXPECT_EQ(Run("SELECT count(*) FROM sqlite_schema WHERE name = 'i'"), "0") << "nothing left of the failed index";
  ASSERT_EQ(Run("CREATE TABLE r(rowid TEXT, emb F32_BLOB(2))"), "");
  EXPECT_EQ(Run("CREATE INDEX ri ON r(libsql_vector_idx(emb))"), "error: vector index: unsupported for tables with a column named rowid, _rowid_ or oid");
  ASSERT_EQ(Run("CREATE INDEX big ON t(libsql_vector_idx(emb, 'max_neighbors=100000000', 'search_l=100000000'))"), "");
  EXPECT_EQ(Run("SELECT settings LIKE '%search_l=65535%' AND settings LIKE '%max_neighbors=1024%' FROM litehouse_vector_index WHERE name = 'big'"), "1");
  ASSERT_EQ(Run("INSERT INTO t VALUES (vector('[1,2]'))"), "");
  EXPECT_EQ(Run("SELECT count(*) FROM vector_top_k('big', vector('[1,2]'), 100000)"), "1");
}

// Cases of libSQL's test/libsql_vector_index.test, with its expected answers.
TEST_F(VectorIndexOnAFile, LibsqlsOwnCases) {
  // vector-backfill, vector-reindex, vector-typename
  ASSERT_EQ(Run("CREATE TABLE t_backfill( v FLOAT32  (   3   ) )"), "");
  ASSERT_EQ(Run("INSERT INTO t_backfill VALUES (vector('[1,2,3]')), (vector('[2,3,4]')), (vector('[3,4,5]')), (vector('[4,5,6]'))"), "");
  ASSERT_EQ(Run("CREATE INDEX t_backfill_idx ON t_backfill( libsql_vector_idx(v) )"), "");
  EXPECT_EQ(Run("SELECT rowid FROM vector_top_k('t_backfill_idx', vector('[3,4,5]'), 4)"), "3|4|2|1");
  ASSERT_EQ(Run("REINDEX t_backfill_idx"), "");
  EXPECT_EQ(Run("SELECT rowid FROM vector_top_k('t_backfill_idx', vector('[3,4,5]'), 4)"), "3|4|2|1");
  EXPECT_EQ(Run("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(Run("PRAGMA index_list='t_backfill'"), "0,t_backfill_idx,0,c,0");
  // vector-simple: text queries, a REAL k
  ASSERT_EQ(Run("CREATE TABLE t_simple( v FLOAT32(3))"), "");
  ASSERT_EQ(Run("CREATE INDEX t_simple_idx ON t_simple( libsql_vector_idx(v) )"), "");
  ASSERT_EQ(Run("INSERT INTO t_simple VALUES(vector('[1,2,3]')), (vector('[2,3,4]')), (vector('[5,6,7]'))"), "");
  EXPECT_EQ(Run("SELECT * FROM vector_top_k('t_simple_idx', '[5,6,7]', 1)"), "3");
  EXPECT_EQ(Run("SELECT * FROM vector_top_k('t_simple_idx', vector('[1,2,3]'), CAST(1 as REAL))"), "1");
  // vector-update, vector-delete
  ASSERT_EQ(Run("CREATE TABLE t_update( id INTEGER PRIMARY KEY, v FLOAT32(3) )"), "");
  ASSERT_EQ(Run("CREATE INDEX t_update_idx ON t_update( libsql_vector_idx(v) )"), "");
  ASSERT_EQ(Run("INSERT INTO t_update VALUES (10, vector('[1,1,1]')), (20, vector('[-1,-1,-1]'))"), "");
  ASSERT_EQ(Run("UPDATE t_update SET v = vector('[-1,-1,-1]') WHERE id = 10"), "");
  ASSERT_EQ(Run("UPDATE t_update SET v = vector('[1,1,1]') WHERE id = 20"), "");
  EXPECT_EQ(Run("SELECT rowid FROM vector_top_k('t_update_idx', vector('[1,1,1]'), 2)"), "20|10");
  ASSERT_EQ(Run("DELETE FROM t_update WHERE id = 20"), "");
  EXPECT_EQ(Run("SELECT rowid FROM vector_top_k('t_update_idx', vector('[1,1,1]'), 1)"), "10");
  // vector-many-columns
  ASSERT_EQ(Run("CREATE TABLE t_many ( i INTEGER PRIMARY KEY, e1 FLOAT32(2), e2 FLOAT32(2) )"), "");
  ASSERT_EQ(Run("CREATE INDEX t_many_1_idx ON t_many(libsql_vector_idx(e1))"), "");
  ASSERT_EQ(Run("CREATE INDEX t_many_2_idx ON t_many(libsql_vector_idx(e2))"), "");
  ASSERT_EQ(Run("INSERT INTO t_many VALUES (1, vector('[1,1]'), vector('[-1,-1]')), (2, vector('[-1,-1]'), vector('[1,1]'))"), "");
  EXPECT_EQ(Run("SELECT * FROM vector_top_k('t_many_1_idx', vector('[1,1]'), 2)"), "1|2");
  EXPECT_EQ(Run("SELECT * FROM vector_top_k('t_many_2_idx', vector('[1,1]'), 2)"), "2|1");
  // vector-1bit, vector-all-params ('metric=cos': libSQL reads a prefix), vector-f64-index
  ASSERT_EQ(Run("CREATE TABLE t_1bit( v FLOAT32(3) )"), "");
  ASSERT_EQ(Run("CREATE INDEX t_1bit_idx ON t_1bit( libsql_vector_idx(v, 'compress_neighbors=float1bit') )"), "");
  ASSERT_EQ(Run("INSERT INTO t_1bit VALUES (vector('[-1,-1,1]')), (vector('[-1,1,-1.5]')), (vector('[1,-1,-1]')), (vector('[-1,-1,-1]'))"), "");
  EXPECT_EQ(Run("SELECT rowid FROM vector_top_k('t_1bit_idx', vector('[1,-1,-1]'), 4)"), "3|4|2|1");
  ASSERT_EQ(Run("CREATE TABLE t_all_params ( emb FLOAT32(2) )"), "");
  ASSERT_EQ(Run("CREATE INDEX t_all_params_idx ON t_all_params(libsql_vector_idx(emb, 'type=diskann', 'metric=cos', 'alpha=1.2', "
                "'search_l=200', 'insert_l=70', 'max_neighbors=6', 'compress_neighbors=float1bit'))"),
            "");
  ASSERT_EQ(Run("INSERT INTO t_all_params VALUES (vector('[1,2]')), (vector('[3,4]'))"), "");
  EXPECT_EQ(Run("SELECT * FROM vector_top_k('t_all_params_idx', vector('[1,2]'), 2)"), "1|2");
  ASSERT_EQ(Run("CREATE TABLE t_f64 ( emb FLOAT64(2) )"), "");
  ASSERT_EQ(Run("CREATE INDEX t_f64_idx ON t_f64(libsql_vector_idx(emb))"), "");
  ASSERT_EQ(Run("INSERT INTO t_f64 VALUES (vector64('[1,2]')), (vector64('[3,4]'))"), "");
  EXPECT_EQ(Run("SELECT * FROM vector_top_k('t_f64_idx', vector64('[1,2]'), 2)"), "1|2");
  // vector-partial
  ASSERT_EQ(Run("CREATE TABLE t_partial( name TEXT, type INT, v FLOAT32(3))"), "");
  ASSERT_EQ(Run("INSERT INTO t_partial VALUES ('a', 0, vector('[1,2,3]')), ('b', 1, vector('[3,4,5]')), ('c', 2, vector('[4,5,6]')),"
                " ('d', 0, vector('[5,6,7]')), ('e', 1, vector('[6,7,8]')), ('f', 2, vector('[7,8,9]'))"),
            "");
  ASSERT_EQ(Run("CREATE INDEX t_partial_idx_0 ON t_partial( libsql_vector_idx(v) ) WHERE type = 0"), "");
  ASSERT_EQ(Run("CREATE INDEX t_partial_idx_not_0 ON t_partial( libsql_vector_idx(v) ) WHERE type != 0"), "");
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('t_partial_idx_0', vector('[1,2,3]'), 10)"), "1|4");
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('t_partial_idx_not_0', vector('[1,2,3]'), 10)"), "2|3|5|6");
  ASSERT_EQ(Run("INSERT INTO t_partial VALUES ('g', 0, vector('[8,9,10]')), ('h', 1, vector('[9,10,11]'))"), "");
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('t_partial_idx_0', vector('[1,2,3]'), 10)"), "1|4|7");
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('t_partial_idx_not_0', vector('[1,2,3]'), 10)"), "2|3|5|6|8");
  ASSERT_EQ(Run("UPDATE t_partial SET type = 1 WHERE name = 'a'"), "");
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('t_partial_idx_0', vector('[1,2,3]'), 10)"), "4|7");
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('t_partial_idx_not_0', vector('[1,2,3]'), 10)"), "1|2|3|5|6|8");
  EXPECT_EQ(Run("PRAGMA integrity_check"), "ok");
}

TEST_F(VectorIndexOnAFile, ErrorsAreLibsqls) {
  EXPECT_EQ(Run("CREATE INDEX t_no_idx ON t_no( libsql_vector_idx(v) )"), "error: no such table: main.t_no");
  ASSERT_EQ(Run("CREATE TABLE t_err ( a INTEGER, b BLOB, c FLOAT32(-1), d FLOAT32(0), e FLOAT32(1) )"), "");
  ASSERT_EQ(Run("CREATE TABLE t_err2 ( a, b, v FLOAT32(4), PRIMARY KEY (a, b) ) WITHOUT ROWID"), "");
  EXPECT_EQ(Run("CREATE INDEX t_err_idx ON t_err( libsql_vector_idx(v) )"), "error: no such column: v");
  EXPECT_EQ(Run("CREATE INDEX t_err_idx ON t_err( libsql_vector(e) )"), "error: no such function: libsql_vector");
  EXPECT_EQ(Run("CREATE INDEX t_err_idx ON t_err( libsql_vector_idx(a) )"), "error: vector index: unexpected vector column type: INTEGER");
  EXPECT_EQ(Run("CREATE INDEX t_err_idx ON t_err( libsql_vector_idx(b) )"), "error: vector index: unexpected vector column type: BLOB");
  EXPECT_EQ(Run("CREATE INDEX t_err_idx ON t_err( libsql_vector_idx(c) )"),
            "error: vector index: non digit symbol in vector column parameter: FLOAT32(-1)");
  EXPECT_EQ(Run("CREATE INDEX t_err_idx ON t_err( libsql_vector_idx(d) )"),
            "error: vector index: vector column must have non-zero dimension for index: FLOAT32(0)");
  EXPECT_EQ(Run("CREATE INDEX t_err_idx ON t_err( libsql_vector_idx(e, 'a=1') )"),
            "error: vector index: invalid vector index parameter 'a=1': invalid parameter");
  EXPECT_EQ(Run("CREATE INDEX t_err_idx ON t_err( libsql_vector_idx(e, 'metric=unknown') )"),
            "error: vector index: invalid vector index parameter 'metric=unknown': invalid parameter");
  EXPECT_EQ(Run("CREATE INDEX t_err_idx ON t_err2( libsql_vector_idx(v) )"),
            "error: vector index: unsupported for tables without ROWID and composite primary key");
  EXPECT_EQ(Run("SELECT count(*) FROM sqlite_schema WHERE name LIKE 't_err_idx%' OR name = 'litehouse_vector_index'"), "0")
      << "a refused CREATE INDEX leaves nothing";
  ASSERT_EQ(Run("CREATE TABLE t_err3 ( e FLOAT32(4) )"), "");
  ASSERT_EQ(Run("CREATE INDEX t_err3_idx ON t_err3 (libsql_vector_idx(e))"), "");
  EXPECT_EQ(Run("INSERT INTO t_err3 VALUES (vector('[1]'))"), "error: vector index(insert): dimensions are different: 1 != 4");
  EXPECT_EQ(Run("INSERT INTO t_err3 VALUES (vector('[1, 2, 3, 4, 5]'))"), "error: vector index(insert): dimensions are different: 5 != 4");
  EXPECT_EQ(Run("INSERT INTO t_err3 VALUES (vector64('[1,2,3,4]'))"), "error: vector index(insert): vector type differs from column type: 2 != 1");
  EXPECT_EQ(Run("SELECT * FROM vector_top_k('t_err3_idx', vector('[1,2]'), 2)"), "error: vector index(search): dimensions are different: 2 != 4");
  EXPECT_EQ(Run("SELECT * FROM vector_top_k('t_err3_idx', vector('[1,2,3,4]'), 2.5)"),
            "error: vector index(search): third parameter (k) must be an integer, but float value were provided");
  EXPECT_EQ(Run("SELECT * FROM vector_top_k('t_err3_idx', vector('[1,2,3,4]'), -1)"),
            "error: vector index(search): third parameter (k) must be a non-negative integer, but negative value were provided");
  EXPECT_EQ(Run("SELECT * FROM vector_top_k('nope', vector('[1,2,3,4]'), 1)"), "error: vector index(search): index not found");
  EXPECT_EQ(Run("SELECT * FROM vector_top_k('t.t_attach_idx', vector('[3,4,5]'), 4)"), "error: vector index(search): unknown schema 't'");
  ASSERT_EQ(Run("CREATE TABLE t_mixed_t( v FLOAT32(3))"), "");
  ASSERT_EQ(Run("INSERT INTO t_mixed_t VALUES('[1]')"), "");
  EXPECT_EQ(Run("CREATE INDEX t_mixed_t_idx ON t_mixed_t( libsql_vector_idx(v) )"), "error: vector index(insert): dimensions are different: 1 != 3");
  EXPECT_EQ(Run("SELECT count(*) FROM sqlite_schema WHERE name LIKE 't_mixed_t_idx%'"), "0");
}

TEST_F(VectorIndexOnAFile, DropRemovesEverythingAndReindexRebuilds) {
  ASSERT_EQ(Run("CREATE TABLE t(emb F32_BLOB(2))"), "");
  ASSERT_EQ(Run("INSERT INTO t VALUES (vector('[1,0]')), (vector('[0,1]'))"), "");
  ASSERT_EQ(Run("CREATE INDEX i ON t(libsql_vector_idx(emb))"), "");
  ASSERT_EQ(Run("CREATE INDEX IF NOT EXISTS i ON t(libsql_vector_idx(emb, 'metric=l2'))"), "");
  EXPECT_EQ(Run("SELECT settings LIKE '%metric=cosine%' FROM litehouse_vector_index WHERE name = 'i'"), "1") << "IF NOT EXISTS kept it";
  EXPECT_EQ(Run("SELECT name FROM sqlite_schema WHERE type IN ('table', 'trigger') ORDER BY name"),
            "i_lh_delete|i_lh_graph|i_lh_insert|i_lh_update|litehouse_vector_index|t");
  // REINDEX makes the graph again (what a file written by libSQL needs here). The graph is emptied
  // behind the engine's back: a client may not write it.
  const auto empty_graph = [&] {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(dir_.file("db").c_str(), &raw), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(raw, "DELETE FROM i_lh_graph", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(raw);
  };
  empty_graph();
  EXPECT_EQ(Run("SELECT count(*) FROM vector_top_k('i', vector('[1,0]'), 5)"), "0");
  ASSERT_EQ(Run("REINDEX i"), "");
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('i', vector('[1,0.1]'), 5)"), "1|2");
  empty_graph();
  ASSERT_EQ(Run("REINDEX"), "");
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('i', vector('[0.1,1]'), 5)"), "2|1");
  EXPECT_EQ(Run("PRAGMA integrity_check"), "ok");
  // DROP INDEX inside a transaction that rolls back keeps it all.
  ASSERT_EQ(Run("BEGIN"), "");
  ASSERT_EQ(Run("DROP INDEX i"), "");
  EXPECT_EQ(Run("SELECT name FROM sqlite_schema WHERE type IN ('table', 'trigger', 'index') ORDER BY name"), "t");
  ASSERT_EQ(Run("ROLLBACK"), "");
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('i', vector('[0.1,1]'), 1)"), "2");
  ASSERT_EQ(Run("DROP TABLE t"), "");
  EXPECT_EQ(Run("SELECT name FROM sqlite_schema"), "") << "the table's vector index went with it";
}

TEST_F(VectorIndexOnAFile, ADumpLoadsBackWithItsIndex) {
  ASSERT_EQ(Run("CREATE TABLE t(id INTEGER PRIMARY KEY, emb F32_BLOB(2))"), "");
  ASSERT_EQ(Run("INSERT INTO t VALUES (1, vector('[1,0]')), (2, vector('[0,1]'))"), "");
  ASSERT_EQ(Run("CREATE INDEX i ON t(libsql_vector_idx(emb, 'metric=l2'))"), "");
  std::string dump;
  {
    Dumper dumper(conn_.get());
    for (int i = 0; i < 1000; ++i) {
      auto more = dumper.Next(&dump, 1 << 20);
      ASSERT_TRUE(more.ok()) << more.status().ToString();
      if (!*more) break;
    }
  }
  EXPECT_EQ(dump.find("lh_graph"), std::string::npos) << dump;
  EXPECT_EQ(dump.find("litehouse_vector_index"), std::string::npos) << dump;
  EXPECT_EQ(dump.find("lh_insert"), std::string::npos) << dump;
  EXPECT_NE(dump.find("CREATE INDEX i ON t(libsql_vector_idx(emb, 'metric=l2'));"), std::string::npos) << dump;
  auto other = std::move(Connection::Open(dir_.file("copy"), Role::kStandalone)).value();
  size_t at = 0;
  for (int i = 0; i < 100 && at < dump.size(); ++i) {
    size_t tail = 0;
    auto st = other->Prepare(std::string_view(dump).substr(at), &tail);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    at += tail;
    if (st->empty()) continue;
    auto done = st->Step();
    ASSERT_TRUE(done.ok()) << done.status().ToString();
  }
  size_t tail = 0;
  auto st = other->Prepare("SELECT id FROM vector_top_k('i', vector('[0.9,0.1]'), 2)", &tail);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(std::get<int64_t>(st->column(0)), 1);
}

TEST_F(VectorIndexOnAFile, ReadOnlyGuardQueriesButCannotCreate) {
  ASSERT_EQ(Run("CREATE TABLE t(emb F32_BLOB(2))"), "");
  ASSERT_EQ(Run("INSERT INTO t VALUES (vector('[1,0]'))"), "");
  ASSERT_EQ(Run("CREATE INDEX i ON t(libsql_vector_idx(emb))"), "");
  conn_->guard().set_read_only(true);
  EXPECT_EQ(Run("SELECT id FROM vector_top_k('i', vector('[1,0]'), 1)"), "1");
  EXPECT_EQ(Run("CREATE INDEX j ON t(libsql_vector_idx(emb))").rfind("error: not authorized", 0), 0u);
  EXPECT_EQ(Run("DROP INDEX i").rfind("error: not authorized", 0), 0u);
  conn_->guard().set_read_only(false);
}

}  // namespace
}  // namespace litehouse::engine
