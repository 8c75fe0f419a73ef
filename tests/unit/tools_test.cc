// The data-move tools' parts that need no server: the script splitter, the dump rewrites, the
// importer and migrations on a local database, and the dumper's literals.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "litehouse/client.h"
#include "test_dir.h"
#include "tools/dump_compat.h"
#include "tools/format.h"
#include "tools/import.h"
#include "tools/migrate.h"
#include "tools/script.h"

namespace litehouse::tools {
namespace {

const char* kScript =
    "-- a comment; with a semicolon\n"
    "CREATE TABLE t(a, \"b;c\", [d;e], `f;g`);\n"
    "INSERT INTO t VALUES('x;y', 'it''s', 'two\n"
    "lines;', X'00ff'); INSERT INTO t VALUES(1,2,3,4);\n"
    ".tables\n"
    "/* block; comment */ CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n"
    "  UPDATE t SET a = 1; DELETE FROM t WHERE a = 2;\n"
    "END;\n"
    "   ;  ;\n"
    "SELECT 1 -- trailing; comment\n"
    ";\n"
    "SELECT 'unfinished";

TEST(ScriptSplitterTest, CutsStatementsWhereSqliteWouldWhateverThePieces) {
  for (size_t piece : {size_t{1}, size_t{2}, size_t{7}, size_t{1} << 20}) {
    SCOPED_TRACE(piece);
    auto items = SplitScript(kScript, piece);
    ASSERT_EQ(items.size(), 7u);
    EXPECT_EQ(items[0].text, "CREATE TABLE t(a, \"b;c\", [d;e], `f;g`);");
    EXPECT_EQ(items[0].line, 2u);
    EXPECT_EQ(items[1].text, "INSERT INTO t VALUES('x;y', 'it''s', 'two\nlines;', X'00ff');");
    EXPECT_EQ(items[1].line, 3u);
    EXPECT_EQ(items[2].text, "INSERT INTO t VALUES(1,2,3,4);");
    EXPECT_EQ(items[2].line, 4u);
    EXPECT_EQ(items[3].kind, ScriptItem::Kind::kDotCommand);
    EXPECT_EQ(items[3].text, ".tables");
    EXPECT_EQ(items[3].line, 5u);
    EXPECT_EQ(items[4].text,
              "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n  UPDATE t SET a = 1; DELETE FROM t WHERE a = 2;\nEND;");
    EXPECT_EQ(items[4].line, 6u);
    EXPECT_EQ(items[5].text, "SELECT 1 -- trailing; comment\n;");
    EXPECT_EQ(items[5].line, 10u);
    EXPECT_EQ(items[6].text, "SELECT 'unfinished");
    EXPECT_EQ(items[6].line, 12u);
  }
}

TEST(ScriptSplitterTest, ADotInsideAStatementIsNotACommand) {
  auto items = SplitScript("SELECT\n.5;\n.mode csv", 3);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].text, "SELECT\n.5;");
  EXPECT_EQ(items[1].kind, ScriptItem::Kind::kDotCommand);
  EXPECT_EQ(items[1].text, ".mode csv");
}

// Found by fuzz/script_splitter_fuzz.cc (docs/FUZZING.md, finding 2): when a piece ended fewer than six
// bytes into a statement, the splitter took it for a CREATE and asked sqlite3_complete(), which stops
// at a NUL byte, so the same text gave one statement fed in pieces of 3 bytes and two fed whole.
TEST(ScriptSplitterTest, PiecesOfAnySizeGiveTheSameStatements) {
  const std::string text("SELEC\x01\0\0\0\0\0\0\x06\x15\n;o..\n0mde 0sv", 28);
  for (size_t piece : {size_t{1}, size_t{3}, size_t{5}, text.size()}) {
    auto items = SplitScript(text, piece);
    ASSERT_EQ(items.size(), 2u) << "piece " << piece;
    EXPECT_EQ(items[0].text, text.substr(0, 16)) << "piece " << piece;
    EXPECT_EQ(items[1].text, "o..\n0mde 0sv") << "piece " << piece;
    EXPECT_EQ(items[1].line, 2u) << "piece " << piece;
  }
  // A CREATE TRIGGER cut anywhere still ends only after its END.
  const std::string trigger = "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END; SELECT 2;";
  for (size_t piece = 1; piece <= trigger.size(); ++piece) {
    auto items = SplitScript(trigger, piece);
    ASSERT_EQ(items.size(), 2u) << "piece " << piece;
    EXPECT_EQ(items[0].text, "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END;") << "piece " << piece;
  }
}

TEST(ScriptSplitterTest, OnlyCommentsLeaveNothing) {
  EXPECT_TRUE(SplitScript("-- nothing\n/* at all */\n  ", 4).empty());
}

TEST(FirstKeywordTest, SkipsSpaceAndComments) {
  EXPECT_EQ(FirstKeyword("  -- x\n /* y */ begin immediate;"), "BEGIN");
  EXPECT_EQ(FirstKeyword("commit"), "COMMIT");
  EXPECT_EQ(FirstKeyword("  "), "");
}

// What DumpCompat sends for `sql`: the statements joined by '\n' ("" for nothing).
std::string Rewritten(DumpCompat* compat, const std::string& sql) {
  std::vector<std::string> out;
  Status s = compat->Rewrite(sql, &out);
  EXPECT_TRUE(s.ok()) << sql << ": " << s.ToString();
  std::string joined;
  for (const auto& statement : out) joined += (joined.empty() ? "" : "\n") + statement;
  return joined;
}

std::string SchemaRow(const std::string& name, const std::string& create) {
  std::string quoted;
  for (char c : create) quoted += c == '\'' ? std::string("''") : std::string(1, c);
  return "INSERT INTO sqlite_schema(type,name,tbl_name,rootpage,sql)VALUES('table','" + name + "','" + name +
         "',0,'" + quoted + "');";
}

TEST(DumpCompatTest, LoadsAnFts5TableThroughItselfFromItsContentRows) {
  DumpCompat compat;
  EXPECT_EQ(Rewritten(&compat, "PRAGMA writable_schema=ON;"), "");
  EXPECT_EQ(Rewritten(&compat, SchemaRow("Docs", "CREATE VIRTUAL TABLE Docs USING fts5(title, \"my body\" UNINDEXED, tokenize='porter')")),
            "CREATE VIRTUAL TABLE Docs USING fts5(title, \"my body\" UNINDEXED, tokenize='porter');");
  // The shadow tables: announced (dropped: the virtual table made them), then their rows.
  EXPECT_EQ(Rewritten(&compat, "CREATE TABLE IF NOT EXISTS 'docs_data'(id INTEGER PRIMARY KEY, block BLOB);"), "");
  EXPECT_EQ(Rewritten(&compat, "INSERT INTO docs_data VALUES(10,X'000000010101010001010101');"), "");
  EXPECT_EQ(Rewritten(&compat, "INSERT INTO docs_idx VALUES(1,X'',2);"), "");
  EXPECT_EQ(Rewritten(&compat, "INSERT INTO docs_content VALUES(5,'a b','c');"),
            "INSERT INTO \"Docs\"(rowid,\"title\",\"my body\") VALUES(5,'a b','c');");
  EXPECT_EQ(Rewritten(&compat, "INSERT INTO docs_docsize VALUES(5,X'0200');"), "");
  EXPECT_EQ(Rewritten(&compat, "INSERT INTO 'docs_config' VALUES('pgsz',1000);"),
            "INSERT INTO \"Docs\"(\"Docs\",rank) VALUES('pgsz',1000);");
  EXPECT_EQ(Rewritten(&compat, "INSERT INTO docs_config VALUES('version',4);"), "");
  // An ordinary table that merely shares the prefix keeps its statements.
  EXPECT_EQ(Rewritten(&compat, "CREATE TABLE docs_users(a);"), "CREATE TABLE docs_users(a);");
  EXPECT_EQ(Rewritten(&compat, "INSERT INTO docs_users VALUES(1);"), "INSERT INTO docs_users VALUES(1);");
  EXPECT_EQ(Rewritten(&compat, "INSERT INTO other VALUES(1);"), "INSERT INTO other VALUES(1);");
  EXPECT_EQ(Rewritten(&compat, "PRAGMA writable_schema = OFF;"), "");
}

TEST(DumpCompatTest, RebuildsAnExternalContentTableOnceItsContentIsLoaded) {
  DumpCompat compat;
  EXPECT_EQ(Rewritten(&compat, SchemaRow("ext", "CREATE VIRTUAL TABLE ext USING fts5(t, content='src', content_rowid='id')")),
            "CREATE VIRTUAL TABLE ext USING fts5(t, content='src', content_rowid='id');");
  EXPECT_EQ(Rewritten(&compat, "INSERT INTO ext_data VALUES(10,X'00000000000000');"), "");
  EXPECT_EQ(Rewritten(&compat, "INSERT INTO src VALUES(1,'hello');"), "INSERT INTO src VALUES(1,'hello');");
  EXPECT_EQ(Rewritten(&compat, "PRAGMA writable_schema=OFF;"), "INSERT INTO \"ext\"(\"ext\") VALUES('rebuild');");
}

TEST(DumpCompatTest, RefusesWhatOnlyShadowTablesHold) {
  {
    DumpCompat compat;
    Rewritten(&compat, SchemaRow("cl", "CREATE VIRTUAL TABLE cl USING fts5(x, content='')"));
    // An empty contentless table: only the records its CREATE makes anew.
    EXPECT_EQ(Rewritten(&compat, "INSERT INTO cl_data VALUES(1,X'');"), "");
    EXPECT_EQ(Rewritten(&compat, "INSERT INTO cl_data VALUES(10,X'00000000000000');"), "");
    std::vector<std::string> out;
    Status s = compat.Rewrite("INSERT INTO cl_docsize VALUES(3,X'01');", &out);
    EXPECT_TRUE(s.IsInvalidArgument());
    EXPECT_NE(s.message().find("FTS5 table cl keeps no copy of its text (content='')"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("cl_docsize"), std::string::npos) << s.message();
    EXPECT_TRUE(out.empty());
  }
  {
    DumpCompat compat;
    Rewritten(&compat, SchemaRow("r", "CREATE VIRTUAL TABLE r USING rtree(id, x0, x1)"));
    EXPECT_EQ(Rewritten(&compat, "CREATE TABLE IF NOT EXISTS \"r_node\"(nodeno INTEGER PRIMARY KEY,data);"), "");
    // An empty R*Tree: its root node without cells.
    EXPECT_EQ(Rewritten(&compat, "INSERT INTO r_node VALUES(1,X'00000000" + std::string(40, '0') + "');"), "");
    std::vector<std::string> out;
    Status s = compat.Rewrite("INSERT INTO r_node VALUES(1,X'00000001" + std::string(40, '0') + "');", &out);
    EXPECT_TRUE(s.IsInvalidArgument());
    EXPECT_NE(s.message().find("R*Tree table r has its rows in this dump only inside r_node"), std::string::npos)
        << s.message();
    EXPECT_NE(s.message().find("litehouse dump FILE"), std::string::npos) << s.message();
    EXPECT_FALSE(compat.Rewrite("INSERT INTO r_rowid VALUES(1,1);", &out).ok());
  }
}

TEST(DumpCompatTest, LeavesOtherSchemaWritesForTheServerToRefuse) {
  DumpCompat compat;
  std::string sql = "INSERT INTO sqlite_schema(type,name,tbl_name,rootpage,sql)VALUES('table','x','x',0,'CREATE TABLE x(a)');";
  EXPECT_EQ(Rewritten(&compat, sql), sql);
}

TEST(DumpWarningsTest, ReadsOnlyTheLeadingCommentLinesInPiecesOfAnySize) {
  const std::string dump =
      "-- warning: the FTS5 table cl keeps no copy\n-- another comment\n-- warning: second\n"
      "PRAGMA foreign_keys=OFF;\nINSERT INTO t VALUES('\n-- warning: inside the data\n');\n";
  for (size_t piece : {size_t{1}, size_t{7}, dump.size()}) {
    DumpWarnings warnings;
    for (size_t i = 0; i < dump.size(); i += piece) warnings.Feed(std::string_view(dump).substr(i, piece));
    EXPECT_EQ(warnings.warnings(), std::vector<std::string>({"the FTS5 table cl keeps no copy", "second"})) << piece;
  }
  DumpWarnings none;
  none.Feed("PRAGMA foreign_keys=OFF;\n-- warning: not leading\n");
  EXPECT_TRUE(none.warnings().empty());
}

TEST(DisplayTextTest, ShowsEachType) {
  EXPECT_EQ(DisplayText(Value{}), "");
  EXPECT_EQ(DisplayText(Value{int64_t{-7}}), "-7");
  EXPECT_EQ(DisplayText(Value{2.0}), "2.0");
  EXPECT_EQ(DisplayText(Value{0.1}), "0.1");
  EXPECT_EQ(DisplayText(Value{Blob{std::string("\x00\xff", 2)}}), "X'00ff'");
}

class LocalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = Client::Open({dir_.file("db")});
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(c).value();
  }
  int64_t Count(const std::string& table) {
    auto rs = client_->Execute("SELECT count(*) FROM " + table);
    EXPECT_TRUE(rs.ok()) << rs.status().ToString();
    return rs.ok() ? std::get<int64_t>(rs->rows[0][0]) : -1;
  }
  litehouse::testing::TestDir dir_;
  std::unique_ptr<Client> client_;
};

TEST_F(LocalTest, ImportStopsAtTheFirstErrorNamingItsLineAndRollsBackTheScriptsTransaction) {
  auto session = client_->OpenSession();
  ASSERT_TRUE(session.ok());
  ImportOptions options;
  options.max_batch_statements = 2;  // the failure lands in a later batch than the BEGIN
  Importer importer(session->get(), options);
  ASSERT_TRUE(importer.Add("CREATE TABLE t(a);", 1).ok());
  ASSERT_TRUE(importer.Add("BEGIN;", 2).ok());
  ASSERT_TRUE(importer.Add("INSERT INTO t VALUES(1);", 3).ok());
  ASSERT_TRUE(importer.Add("INSERT INTO t VALUES(2);", 4).ok());
  Status s = importer.Add("INSERT INTO missing VALUES(3);", 5);
  if (s.ok()) s = importer.Finish();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("line 5"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("no such table: missing"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("begun on line 2"), std::string::npos) << s.message();
  session->reset();
  EXPECT_EQ(Count("t"), 0);  // the CREATE ran in autocommit; the transaction left nothing
}

TEST_F(LocalTest, AScriptEndingInsideATransactionIsRolledBackAndFails) {
  auto session = client_->OpenSession();
  ASSERT_TRUE(session.ok());
  Importer importer(session->get(), {});
  ASSERT_TRUE(importer.Add("CREATE TABLE t(a);", 1).ok());
  ASSERT_TRUE(importer.Add("BEGIN;", 2).ok());
  ASSERT_TRUE(importer.Add("INSERT INTO t VALUES(1);", 3).ok());
  Status s = importer.Finish();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code_name(), "TRANSACTION_OPEN");
  session->reset();
  EXPECT_EQ(Count("t"), 0);
}

TEST_F(LocalTest, AScriptEndingInsideASavepointIsRolledBackToo) {
  auto session = client_->OpenSession();
  Importer importer(session->get(), {});
  ASSERT_TRUE(importer.Add("CREATE TABLE t(a);", 1).ok());
  ASSERT_TRUE(importer.Add("SAVEPOINT s;", 2).ok());
  ASSERT_TRUE(importer.Add("INSERT INTO t VALUES(1);", 3).ok());
  ASSERT_TRUE(importer.Add("ROLLBACK TRANSACTION TO s;", 4).ok());
  ASSERT_TRUE(importer.Add("INSERT INTO t VALUES(2);", 5).ok());
  Status s = importer.Finish();
  EXPECT_EQ(s.code_name(), "TRANSACTION_OPEN");
  session->reset();
  EXPECT_EQ(Count("t"), 0);
}

TEST_F(LocalTest, DumpInsideAnOpenTransactionReadsIt) {
  ASSERT_TRUE(client_->Execute("CREATE TABLE t(a)").ok());
  auto session = client_->OpenSession();
  ASSERT_TRUE((*session)->Execute("BEGIN").ok());
  ASSERT_TRUE((*session)->Execute("INSERT INTO t VALUES('uncommitted')").ok());
  std::string dump;
  ASSERT_TRUE(client_->Dump([&](std::string_view c) { dump.append(c); return Status::OK(); }).ok());
  EXPECT_NE(dump.find("INSERT INTO t VALUES('uncommitted');"), std::string::npos) << dump;
  ASSERT_TRUE((*session)->Execute("ROLLBACK").ok());
  EXPECT_EQ(Count("t"), 0);
}

TEST_F(LocalTest, DumpWritesEveryTypeAsALiteralThatReadsBack) {
  ASSERT_TRUE(client_
                  ->ExecuteMultiple("CREATE TABLE v(x); INSERT INTO v VALUES(NULL),(9223372036854775807),"
                                    "(-9223372036854775808),(0.1),(1e308),(-1e999),(2.0),('it''s'),"
                                    "(CAST(X'610062' AS TEXT)),(X''),(X'00ff'),('é\n;')")
                  .ok());
  std::string dump;
  ASSERT_TRUE(client_->Dump([&](std::string_view s) { dump.append(s); return Status::OK(); }).ok());
  for (const char* literal : {"VALUES(NULL)", "VALUES(9223372036854775807)", "VALUES(-9223372036854775808)",
                              "VALUES(0.1)", "VALUES(1e+308)", "VALUES(-1e999)", "VALUES(2.0)", "VALUES('it''s')",
                              "VALUES(CAST(X'610062' AS TEXT))", "VALUES(X'')", "VALUES(X'00ff')", "VALUES('é\n;')"}) {
    EXPECT_NE(dump.find(literal), std::string::npos) << literal << "\n" << dump;
  }
  // Loading it elsewhere gives the same values, and the same dump.
  auto other = Client::Open({dir_.file("copy")});
  ASSERT_TRUE(other.ok());
  auto session = (*other)->OpenSession();
  Importer importer(session->get(), {});
  ScriptSplitter splitter;
  splitter.Feed(dump);
  ScriptItem item;
  while (splitter.Next(&item)) ASSERT_TRUE(importer.Add(item.text, item.line).ok()) << item.text;
  ASSERT_TRUE(importer.Finish().ok());
  std::string again;
  ASSERT_TRUE((*other)->Dump([&](std::string_view s) { again.append(s); return Status::OK(); }).ok());
  EXPECT_EQ(again, dump);
  auto same = (*other)->Execute("SELECT count(*) FROM v WHERE typeof(x) = 'text' AND x = CAST(X'610062' AS TEXT)");
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(std::get<int64_t>(same->rows[0][0]), 1);
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

TEST_F(LocalTest, MigrationsApplyOnceAndAFailureLeavesNothing) {
  std::string dir = dir_.file("migrations");
  std::filesystem::create_directory(dir);
  WriteFile(dir + "/001-create.sql", "CREATE TABLE users(id INTEGER PRIMARY KEY);\n");
  WriteFile(dir + "/002-more.sql", "CREATE TABLE a(x);\nINSERT INTO a VALUES(1);\n");
  WriteFile(dir + "/README.md", "not a migration");
  auto loaded = LoadMigrations(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ(loaded->size(), 2u);
  MigrateReport dry = Migrate(*client_, *loaded, {.dry_run = true, .log = nullptr});
  EXPECT_EQ(dry.outcome, MigrateOutcome::kDone);
  EXPECT_EQ(dry.applied, (std::vector<std::string>{"001-create.sql", "002-more.sql"}));
  auto none = client_->Execute("SELECT count(*) FROM sqlite_schema");
  EXPECT_EQ(std::get<int64_t>(none->rows[0][0]), 0);  // a dry run writes nothing, not even _migrations

  MigrateReport first = Migrate(*client_, *loaded, {});
  EXPECT_EQ(first.outcome, MigrateOutcome::kDone) << first.status.ToString();
  EXPECT_EQ(first.applied.size(), 2u);
  MigrateReport again = Migrate(*client_, *loaded, {});
  EXPECT_EQ(again.outcome, MigrateOutcome::kDone);
  EXPECT_TRUE(again.applied.empty());
  EXPECT_EQ(Count("a"), 1);

  WriteFile(dir + "/003-bad.sql", "CREATE TABLE b(x);\n\nINSERT INTO nowhere VALUES(1);\n");
  loaded = LoadMigrations(dir);
  MigrateReport bad = Migrate(*client_, *loaded, {});
  EXPECT_EQ(bad.outcome, MigrateOutcome::kFailed);
  EXPECT_NE(bad.status.message().find("003-bad.sql line 3"), std::string::npos) << bad.status.message();
  auto b = client_->Execute("SELECT count(*) FROM sqlite_schema WHERE name = 'b'");
  EXPECT_EQ(std::get<int64_t>(b->rows[0][0]), 0);
  EXPECT_EQ(Count("_migrations"), 2);

  std::filesystem::remove(dir + "/003-bad.sql");
  std::filesystem::rename(dir + "/002-more.sql", dir + "/002-renamed.sql");
  loaded = LoadMigrations(dir);
  MigrateReport mismatch = Migrate(*client_, *loaded, {});
  EXPECT_EQ(mismatch.outcome, MigrateOutcome::kMismatch);
  EXPECT_NE(mismatch.status.message().find("'more'"), std::string::npos) << mismatch.status.message();
  EXPECT_NE(mismatch.status.message().find("002-renamed.sql"), std::string::npos) << mismatch.status.message();
}

TEST(LoadMigrationsTest, RefusesMisnamedFilesDuplicatesAndTransactionControl) {
  litehouse::testing::TestDir dir;
  const std::string m = dir.file("m");
  std::filesystem::create_directory(m);
  WriteFile(m + "/1-a.sql", "SELECT 1;");
  WriteFile(m + "/01-b.sql", "SELECT 1;");
  auto dup = LoadMigrations(m);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("two migrations have version 1"), std::string::npos);
  std::filesystem::remove(m + "/01-b.sql");
  WriteFile(m + "/create-x.sql", "SELECT 1;");
  auto misnamed = LoadMigrations(m);
  ASSERT_FALSE(misnamed.ok());
  EXPECT_NE(misnamed.status().message().find("create-x.sql"), std::string::npos);
  std::filesystem::remove(m + "/create-x.sql");
  WriteFile(m + "/2-txn.sql", "BEGIN;\nCREATE TABLE x(a);\nCOMMIT;\n");
  auto loaded = LoadMigrations(m);
  ASSERT_TRUE(loaded.ok());
  auto client = Client::Open({dir.file("db")});
  MigrateReport r = Migrate(**client, *loaded, {});
  EXPECT_EQ(r.outcome, MigrateOutcome::kFailed);
  EXPECT_NE(r.status.message().find("2-txn.sql line 1: BEGIN is not allowed"), std::string::npos) << r.status.message();
}

}  // namespace
}  // namespace litehouse::tools
