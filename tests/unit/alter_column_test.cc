// libSQL's ALTER COLUMN (engine/alter_column.h): the statement recognised before SQLite parses it,
// the CREATE TABLE text rewritten, and the change made through a connection as the client library's
// local files and the server make it.
#include "engine/alter_column.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/connection.h"
#include "test_dir.h"

namespace litehouse::engine {
namespace {

TEST(AlterColumn, RecognisesTheStatementAndOnlyIt) {
  EXPECT_FALSE(MatchAlterColumn("SELECT 1").has_value());
  EXPECT_FALSE(MatchAlterColumn("ALTER TABLE t RENAME TO u").has_value());
  EXPECT_FALSE(MatchAlterColumn("ALTER TABLE t ADD COLUMN c").has_value());
  EXPECT_FALSE(MatchAlterColumn("ALTER TABLE t ALTER c TO c").has_value()) << "COLUMN is required, as in libSQL's grammar";
  EXPECT_FALSE(MatchAlterColumn("").has_value());
  EXPECT_FALSE(MatchAlterColumn("  -- only a comment").has_value());

  auto m = MatchAlterColumn(" /* c */ alter table main.\"My T\" alter column [v] to [v] INTEGER DEFAULT(-1);  SELECT 2");
  ASSERT_TRUE(m.has_value());
  ASSERT_TRUE(m->ok()) << m->status().ToString();
  EXPECT_EQ((*m)->schema, "main");
  EXPECT_EQ((*m)->table, "My T");
  EXPECT_EQ((*m)->column, "v");
  EXPECT_EQ((*m)->column_token, "[v]");
  EXPECT_EQ((*m)->definition, "[v] INTEGER DEFAULT(-1)");
  const std::string sql = " /* c */ alter table main.\"My T\" alter column [v] to [v] INTEGER DEFAULT(-1);  SELECT 2";
  EXPECT_EQ(sql.substr((*m)->length), "  SELECT 2") << "the tail begins after its ;";

  auto comment = MatchAlterColumn("ALTER TABLE t4 ALTER COLUMN x TO x INTEGER DEFAULT(-1) -- why");
  ASSERT_TRUE(comment && comment->ok());
  EXPECT_EQ((*comment)->definition, "x INTEGER DEFAULT(-1)");
  auto quoted = MatchAlterColumn("ALTER TABLE \";;)),\" ALTER COLUMN \"v,);\" TO \"v,);\" REFERENCES \"x;;,)\"(\"y;,,,,\")");
  ASSERT_TRUE(quoted && quoted->ok());
  EXPECT_EQ((*quoted)->table, ";;)),");
  EXPECT_EQ((*quoted)->definition, "\"v,);\" REFERENCES \"x;;,)\"(\"y;,,,,\")");
  auto nothing = MatchAlterColumn("ALTER TABLE t ALTER COLUMN x TO");
  ASSERT_TRUE(nothing.has_value());
  EXPECT_FALSE(nothing->ok());
}

TEST(AlterColumn, ReplacesOneColumnsDefinition) {
  auto r = ReplaceColumnDefinition("CREATE TABLE t(a INT, b TEXT DEFAULT ('x,)'), CHECK (a > 0))", 1, "b BLOB");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "CREATE TABLE t(a INT, b BLOB, CHECK (a > 0))");
  r = ReplaceColumnDefinition("CREATE TABLE t(a INT /* first */, b)", 0, "a");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "CREATE TABLE t(a /* first */, b)");
  r = ReplaceColumnDefinition("CREATE TABLE `x(`(\n\t`a` integer,\n\t`b` text\n)", 1, "\"b\" integer NOT NULL");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "CREATE TABLE `x(`(\n\t`a` integer,\n\t\"b\" integer NOT NULL\n)");
  EXPECT_FALSE(ReplaceColumnDefinition("CREATE TABLE t(a)", 3, "x").ok());
  EXPECT_FALSE(ReplaceColumnDefinition("CREATE VIEW v AS SELECT 1", 0, "x").ok());
}

class AlterColumnOnAFile : public ::testing::Test {
 protected:
  void SetUp() override { conn_ = std::move(Connection::Open(dir_.file("db"), Role::kStandalone)).value(); }
  std::string Run(const std::string& sql) {
    size_t tail = 0;
    auto st = conn_->Prepare(sql, &tail);
    if (!st.ok()) return "error: " + st.status().message();
    std::string out;
    while (true) {
      auto row = st->Step();
      if (!row.ok()) return "error: " + row.status().message();
      if (!*row) break;
      if (!out.empty()) out += "|";
      Value v = st->column(0);
      if (auto* s = std::get_if<std::string>(&v)) out += *s;
      if (auto* i = std::get_if<int64_t>(&v)) out += std::to_string(*i);
    }
    return out;
  }
  std::string Schema(const std::string& name) { return Run("SELECT sql FROM sqlite_schema WHERE name = '" + name + "'"); }
  testing::TestDir dir_;
  std::unique_ptr<Connection> conn_;
};

TEST_F(AlterColumnOnAFile, ChangesTheSchemaNotTheRows) {
  ASSERT_EQ(Run("CREATE TABLE t(id, v)"), "");
  ASSERT_EQ(Run("INSERT INTO t VALUES (1, 100)"), "");
  auto st = conn_->Prepare("ALTER TABLE t ALTER COLUMN v TO v NOT NULL CHECK(v < 42)", nullptr);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_FALSE(st->readonly()) << "a write: the server takes the write lock for it";
  EXPECT_EQ(st->column_count(), 0);
  auto done = st->Step();
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_FALSE(*done);
  EXPECT_EQ(sqlite3_changes(conn_->raw()), 0) << "no row changed, as libSQL counts it";
  EXPECT_EQ(Schema("t"), "CREATE TABLE t(id, v NOT NULL CHECK(v < 42))");
  EXPECT_EQ(Run("INSERT INTO t VALUES (2, 50)").rfind("error: CHECK constraint failed", 0), 0u);
  EXPECT_EQ(Run("SELECT v FROM t"), "100") << "rows are neither rewritten nor checked";
  // Inside a transaction that rolls back, it goes too.
  ASSERT_EQ(Run("BEGIN"), "");
  ASSERT_EQ(Run("ALTER TABLE t ALTER COLUMN v TO v"), "");
  EXPECT_EQ(Schema("t"), "CREATE TABLE t(id, v)");
  ASSERT_EQ(Run("ROLLBACK"), "");
  EXPECT_EQ(Schema("t"), "CREATE TABLE t(id, v NOT NULL CHECK(v < 42))");
  // libSQL's caveat, as SQLite's integrity_check sees it: the old row breaks the new CHECK.
  EXPECT_EQ(Run("PRAGMA integrity_check"), "CHECK constraint failed in t");
  ASSERT_EQ(Run("ALTER TABLE t ALTER COLUMN v TO v"), "");
  EXPECT_EQ(Run("PRAGMA integrity_check"), "ok");
}

TEST_F(AlterColumnOnAFile, RefusesWithLibsqlsMessages) {
  ASSERT_EQ(Run("CREATE TABLE t(x, y)"), "");
  ASSERT_EQ(Run("CREATE VIRTUAL TABLE r USING rtree(id, a, b)"), "");
  EXPECT_EQ(Run("ALTER TABLE t ALTER COLUMN x TO x PRIMARY KEY"), "error: error in adding x PRIMARY KEY to t: PRIMARY KEY constraint cannot be altered");
  EXPECT_EQ(Run("ALTER TABLE t ALTER COLUMN x TO x INTEGER UNIQUE"), "error: error in adding x INTEGER UNIQUE to t: UNIQUE constraint cannot be altered");
  EXPECT_EQ(Run("ALTER TABLE t ALTER COLUMN y TO y GENERATED ALWAYS AS (2 * x) VIRTUAL"),
            "error: error in adding y GENERATED ALWAYS AS (2 * x) VIRTUAL to t: GENERATED constraint cannot be altered");
  EXPECT_EQ(Run("ALTER TABLE t ALTER COLUMN x TO z"), "error: UPDATE cannot also rename column: \"x\" to \"z\". Use ALTER TABLE RENAME instead");
  EXPECT_EQ(Run("ALTER TABLE t ALTER COLUMN q TO q"), "error: no such column: \"q\"");
  EXPECT_EQ(Run("ALTER TABLE nope ALTER COLUMN q TO q"), "error: no such table: nope");
  EXPECT_EQ(Run("ALTER TABLE r ALTER COLUMN a TO a"), "error: cannot rename columns of virtual table \"r\"");
  EXPECT_EQ(Run("ALTER TABLE sqlite_schema ALTER COLUMN sql TO sql").rfind("error: ", 0), 0u);
  EXPECT_EQ(Run("ALTER TABLE t ALTER COLUMN x TO x 1 2 3"), "error: near \"1\": syntax error");
  // One column's definition only: no added column or table constraint, no NUL cutting the text.
  EXPECT_EQ(Run("ALTER TABLE t ALTER COLUMN x TO x, z"), "error: near \",\": syntax error");
  EXPECT_EQ(Run("ALTER TABLE t ALTER COLUMN x TO x, PRIMARY KEY(y)"), "error: near \",\": syntax error");
  EXPECT_EQ(Run("ALTER TABLE t ALTER COLUMN x TO x) WITHOUT ROWID --"), "error: near \")\": syntax error");
  EXPECT_EQ(Run("ALTER TABLE t ALTER COLUMN x TO x CHECK (x > 0"), "error: incomplete input");
  const std::string with_nul("ALTER TABLE t ALTER COLUMN x TO x INT\0 junk", 43);
  EXPECT_NE(Run(with_nul).find("NUL byte"), std::string::npos) << Run(with_nul);
  EXPECT_EQ(Schema("t"), "CREATE TABLE t(x, y)");
  ASSERT_EQ(Run("CREATE TABLE id(k INTEGER PRIMARY KEY, v)"), "");
  EXPECT_EQ(Run("ALTER TABLE id ALTER COLUMN k TO k INTEGER PRIMARY KEY AUTOINCREMENT"),
            "error: error in adding k INTEGER PRIMARY KEY AUTOINCREMENT to id: AUTOINCREMENT cannot be altered");
  ASSERT_EQ(Run("CREATE TABLE g(a, b GENERATED ALWAYS AS (a * 2) VIRTUAL)"), "");
  EXPECT_EQ(Run("ALTER TABLE g ALTER COLUMN b TO b GENERATED ALWAYS AS (a * 2) STORED"),
            "error: error in adding b GENERATED ALWAYS AS (a * 2) STORED to g: GENERATED constraint cannot be altered");
  EXPECT_EQ(Run("ALTER TABLE g ALTER COLUMN b TO b GENERATED ALWAYS AS (a * 3) VIRTUAL"), "") << "a VIRTUAL one's expression may change";
}

}  // namespace
}  // namespace litehouse::engine
