// The SQL surface a client gets: what the guard refuses, with which reason, and what it lets through.
#include "engine/sql_guard.h"

#include <gtest/gtest.h>

#include "engine/connection.h"
#include "test_dir.h"

namespace litehouse::engine {
namespace {

class SqlGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GuardOptions options;
    options.max_sql_length_bytes = 4096;
    options.query_timeout = std::chrono::milliseconds(200);
    auto conn = Connection::Open(dir_.file("db"), Role::kWriter, options);
    ASSERT_TRUE(conn.ok()) << conn.status().ToString();
    conn_ = std::move(conn).value();
    ASSERT_TRUE(conn_->Exec("CREATE TABLE t(x); CREATE TABLE log(y);"
                            "CREATE TRIGGER tr AFTER UPDATE ON t BEGIN INSERT INTO log VALUES (1); END;").ok());
  }
  // Prepares and runs `sql` as a client statement would run.
  Status Run(const std::string& sql) {
    conn_->guard().StartQuery();
    auto stmt = conn_->Prepare(sql, nullptr);
    if (!stmt.ok()) return stmt.status();
    while (true) {
      auto step = stmt->Step();
      if (!step.ok()) return step.status();
      if (!*step) return Status::OK();
    }
  }
  void ExpectRefused(const std::string& sql, int primary, const std::string& reason) {
    Status s = Run(sql);
    ASSERT_TRUE(s.IsSqlite()) << sql << " was allowed";
    EXPECT_EQ(s.sqlite_code() & 0xff, primary) << sql << ": " << s.message();
    EXPECT_NE(s.message().find(reason), std::string::npos) << sql << ": " << s.message();
  }

  testing::TestDir dir_;
  std::unique_ptr<Connection> conn_;
};

TEST_F(SqlGuardTest, NothingReachesFilesOutsideTheDatabase) {
  std::string outside = dir_.file("outside.db");
  ExpectRefused("ATTACH '" + outside + "' AS o", SQLITE_AUTH, "outside the database");
  ExpectRefused("ATTACH ':memory:' AS m", SQLITE_AUTH, "connections are shared");
  ExpectRefused("ATTACH '' AS e", SQLITE_AUTH, "connections are shared");
  ExpectRefused("/* VACUUM */ ATTACH '' AS e", SQLITE_AUTH, "connections are shared");
  ExpectRefused("VACUUM INTO '" + outside + "'", SQLITE_AUTH, "outside the database");
  ExpectRefused("SELECT * FROM sqlite_dbpage", SQLITE_AUTH, "reserved to the server");
  ExpectRefused("SELECT load_extension('/lib/x86_64-linux-gnu/libc.so.6')", SQLITE_ERROR, "not authorized");
  EXPECT_TRUE(Run("VACUUM").ok()) << "plain VACUUM stays allowed for a read-write client";
}

TEST_F(SqlGuardTest, ShadowTablesAreWrittenOnlyThroughTheirVirtualTable) {
  ASSERT_TRUE(Run("CREATE VIRTUAL TABLE docs USING fts5(body)").ok());
  ASSERT_TRUE(Run("CREATE VIRTUAL TABLE r USING rtree(id, x0, x1)").ok());
  ASSERT_TRUE(Run("INSERT INTO docs(rowid, body) VALUES (1, 'hello world')").ok()) << "the module writes them";
  ASSERT_TRUE(Run("INSERT INTO r VALUES (1, 0, 1)").ok());
  ExpectRefused("INSERT INTO docs_data VALUES (99, X'00')", SQLITE_ERROR, "table docs_data may not be modified");
  ExpectRefused("UPDATE docs_content SET c0 = 'x'", SQLITE_ERROR, "table docs_content may not be modified");
  ExpectRefused("DELETE FROM docs_config", SQLITE_ERROR, "table docs_config may not be modified");
  ExpectRefused("INSERT INTO r_node VALUES (2, X'00')", SQLITE_ERROR, "table r_node may not be modified");
  ExpectRefused("DROP TABLE docs_idx", SQLITE_ERROR, "may not be dropped");
  EXPECT_TRUE(Run("SELECT * FROM docs_data").ok()) << "reading them is fine";
  int defensive = 0;
  ASSERT_EQ(sqlite3_db_config(conn_->raw(), SQLITE_DBCONFIG_DEFENSIVE, -1, &defensive), SQLITE_OK);
  EXPECT_EQ(defensive, 1);
}

TEST_F(SqlGuardTest, SharedConnectionsKeepNoClientState) {
  ExpectRefused("CREATE TEMP TABLE tt(x)", SQLITE_AUTH, "temporary");
  ExpectRefused("CREATE TEMP VIEW tv AS SELECT 1", SQLITE_AUTH, "temporary");
  ExpectRefused("PRAGMA journal_mode=DELETE", SQLITE_AUTH, "cannot be set");
  ExpectRefused("PRAGMA wal_checkpoint", SQLITE_AUTH, "checkpoints are run by the server");
  EXPECT_TRUE(Run("PRAGMA foreign_keys=OFF").ok());
  EXPECT_TRUE(conn_->TakeSettingsChanged());
  EXPECT_TRUE(Run("PRAGMA journal_mode").ok()) << "reading a pragma is fine";
}

// Every way of naming the temp schema is refused, not only the TEMP keyword, and the connection
// comes out of it with nothing but main attached and nothing in temp.
TEST_F(SqlGuardTest, NothingIsCreatedInTheTempSchemaHoweverItIsNamed) {
  for (const char* sql : {"CREATE TABLE temp.x(a)", "CREATE TABLE TEMP.x(a)", "CREATE TABLE \"temp\".x(a)",
                          "CREATE TABLE temp.x AS SELECT 1", "CREATE VIEW temp.v AS SELECT 1",
                          "CREATE TRIGGER temp.trg AFTER INSERT ON main.t BEGIN SELECT 1; END",
                          "CREATE TEMP TRIGGER trg2 AFTER INSERT ON t BEGIN SELECT 1; END",
                          "CREATE VIRTUAL TABLE temp.r USING rtree(id, a, b)",
                          "CREATE VIRTUAL TABLE temp.f USING fts5(body)", "CREATE INDEX temp.i ON t(x)",
                          "PRAGMA temp.user_version=7", "PRAGMA temp.application_id=7"}) {
    Status s = Run(sql);
    EXPECT_FALSE(s.ok()) << sql << " was allowed";
  }
  ExpectRefused("CREATE TABLE temp.x(a)", SQLITE_AUTH, "temp schema");
  ExpectRefused("CREATE TRIGGER temp.trg AFTER INSERT ON main.t BEGIN SELECT 1; END", SQLITE_AUTH, "temp schema");
  ExpectRefused("CREATE VIRTUAL TABLE temp.r USING rtree(id, a, b)", SQLITE_AUTH, "temp schema");
  EXPECT_TRUE(Run("SELECT * FROM temp.sqlite_schema").ok()) << "reading the (empty) temp schema is harmless";
  // The connection is as it was: nothing attached beside main (and temp); temp holds nothing.
  {
    auto list = conn_->Prepare("SELECT count(*) FROM pragma_database_list WHERE name NOT IN ('main', 'temp')", nullptr);
    ASSERT_TRUE(list.ok());
    ASSERT_TRUE(list->Step().ok());
    EXPECT_EQ(std::get<int64_t>(list->column(0)), 0);
    auto temp = conn_->Prepare("SELECT count(*) FROM temp.sqlite_schema", nullptr);
    ASSERT_TRUE(temp.ok());
    ASSERT_TRUE(temp->Step().ok());
    EXPECT_EQ(std::get<int64_t>(temp->column(0)), 0);
  }
  // A main table named like the schema is still an ordinary table.
  EXPECT_TRUE(Run("CREATE TABLE main.\"temp\"(a)").ok());
  EXPECT_TRUE(Run("INSERT INTO \"temp\" VALUES (1)").ok());
  Status vacuum = Run("VACUUM");
  EXPECT_TRUE(vacuum.ok()) << "VACUUM's own attach stays allowed: " << vacuum.ToString();
  vacuum = Run("  -- comment\n /* and another */ VACUUM");
  EXPECT_TRUE(vacuum.ok()) << "VACUUM after comments too: " << vacuum.ToString();
}

TEST_F(SqlGuardTest, SchemaPragmasWithArgumentsAreReads) {
  for (const char* sql : {"PRAGMA table_info(t)", "PRAGMA table_xinfo('t')", "PRAGMA index_list(t)",
                          "PRAGMA foreign_key_list(t)", "PRAGMA integrity_check(10)",
                          "SELECT name FROM pragma_table_info('t')"}) {
    EXPECT_TRUE(Run(sql).ok()) << sql;
  }
  conn_->guard().set_read_only(true);
  EXPECT_TRUE(Run("PRAGMA table_info(t)").ok()) << "read-only clients read the schema too";
  conn_->guard().set_read_only(false);
}

TEST_F(SqlGuardTest, PragmasThatWriteTheFileAreWritesForReadWriteClients) {
  EXPECT_TRUE(Run("PRAGMA user_version=7").ok());
  EXPECT_TRUE(Run("PRAGMA application_id=42").ok());
  EXPECT_FALSE(conn_->TakeSettingsChanged()) << "a write to the file is not a connection setting";
  conn_->guard().set_read_only(true);
  Status s = Run("PRAGMA user_version=8");
  EXPECT_EQ(s.sqlite_code() & 0xff, SQLITE_AUTH) << s.message();
  conn_->guard().set_read_only(false);
}

TEST_F(SqlGuardTest, ReadOnlyRefusesEveryKindOfWrite) {
  conn_->guard().set_read_only(true);
  for (const char* sql : {"INSERT INTO t VALUES (1)", "UPDATE t SET x = 2", "DELETE FROM t", "CREATE TABLE u(x)",
                          "DROP TABLE log", "ALTER TABLE t ADD COLUMN y", "CREATE INDEX i ON t(x)",
                          "WITH c AS (SELECT 1) INSERT INTO t SELECT * FROM c", "VACUUM", "ANALYZE",
                          "PRAGMA user_version=3"}) {
    Status s = Run(sql);
    ASSERT_FALSE(s.ok()) << sql << " was allowed read-only";
    EXPECT_EQ(s.sqlite_code() & 0xff, SQLITE_AUTH) << sql << ": " << s.message();
  }
  EXPECT_TRUE(Run("SELECT count(*) FROM t").ok());
  conn_->guard().set_read_only(false);
  EXPECT_TRUE(Run("INSERT INTO t VALUES (1)").ok());
}

TEST_F(SqlGuardTest, LongSqlIsRefusedWithTooBig) {
  std::string sql = "SELECT '" + std::string(5000, 'x') + "'";
  Status s = Run(sql);
  ASSERT_TRUE(s.IsSqlite());
  EXPECT_EQ(s.sqlite_code() & 0xff, SQLITE_TOOBIG);
  EXPECT_NE(s.message().find("statement too long"), std::string::npos);
}

TEST_F(SqlGuardTest, ARunawayQueryIsInterruptedAndTheConnectionStaysUsable) {
  ExpectRefused("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT count(*) FROM c",
                SQLITE_INTERRUPT, "longer than the limit of 200 ms");
  EXPECT_TRUE(Run("SELECT 1").ok());
}

}  // namespace
}  // namespace litehouse::engine
