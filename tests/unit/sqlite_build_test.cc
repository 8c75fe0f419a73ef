// The SQLite we build is the pinned one, with the options the rest of Litehouse relies on.
#include <sqlite3.h>

#include <gtest/gtest.h>

#include <string>

TEST(SqliteBuild, IsThePinnedVersion) {
  EXPECT_STREQ(sqlite3_libversion(), "3.54.1");
  EXPECT_EQ(sqlite3_libversion_number(), 3054001);
}

TEST(SqliteBuild, HasTheOptionsWeRelyOn) {
  for (const char* opt : {"ENABLE_DBPAGE_VTAB", "ENABLE_FTS5", "ENABLE_RTREE", "ENABLE_MATH_FUNCTIONS",
                          "ENABLE_COLUMN_METADATA", "ENABLE_SNAPSHOT", "THREADSAFE=2", "DEFAULT_WAL_SYNCHRONOUS=1", "DEFAULT_FOREIGN_KEYS"}) {
    EXPECT_TRUE(sqlite3_compileoption_used(opt)) << opt;
  }
  EXPECT_FALSE(sqlite3_compileoption_used("SECURE_DELETE"));
  EXPECT_FALSE(sqlite3_compileoption_used("OMIT_LOOKASIDE"));
  EXPECT_EQ(sqlite3_threadsafe(), 2);
}

TEST(SqliteBuild, FeaturesWork) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  for (const char* sql : {"CREATE VIRTUAL TABLE f USING fts5(body)", "CREATE VIRTUAL TABLE r USING rtree(id, x0, x1)",
                          "SELECT sqrt(16), ln(1)", "SELECT count(*) FROM sqlite_dbpage"}) {
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, &err), SQLITE_OK) << sql << ": " << (err ? err : "");
    sqlite3_free(err);
  }
  int lookaside_cur = 0, lookaside_hi = 0;
  EXPECT_EQ(sqlite3_db_status(db, SQLITE_DBSTATUS_LOOKASIDE_USED, &lookaside_cur, &lookaside_hi, 0), SQLITE_OK);
  EXPECT_GT(lookaside_hi, 0) << "lookaside should be on";
  sqlite3_close(db);
}
