// Reading CREATE VIRTUAL TABLE statements as SQLite and FTS5 read them.
#include "common/virtual_table.h"

#include <gtest/gtest.h>

namespace litehouse {
namespace {

TEST(VirtualTableTest, SplitsArgumentsOutsideQuotesAndParentheses) {
  auto vt = ParseCreateVirtualTable(
      "CREATE VIRTUAL TABLE \"my docs\" USING FTS5(title, 'a,b' UNINDEXED, tokenize = 'porter ascii', prefix='2 3', x(1,2))");
  ASSERT_TRUE(vt.has_value());
  EXPECT_EQ(vt->name, "my docs");
  EXPECT_EQ(vt->module, "fts5");
  EXPECT_EQ(vt->args, std::vector<std::string>({"title", "'a,b' UNINDEXED", "tokenize = 'porter ascii'", "prefix='2 3'", "x(1,2)"}));
  auto fts = ParseFts5Args(vt->args);
  EXPECT_EQ(fts.columns, std::vector<std::string>({"title", "a,b", "x"}));
  EXPECT_EQ(fts.content, Fts5Content::kStored);
}

TEST(VirtualTableTest, ReadsTheContentOption) {
  EXPECT_EQ(ParseFts5Args({"a", "content=''"}).content, Fts5Content::kNone);
  EXPECT_EQ(ParseFts5Args({"a", "CONTENT = \"\""}).content, Fts5Content::kNone);
  EXPECT_EQ(ParseFts5Args({"a", "content='src'", "content_rowid='id'"}).content, Fts5Content::kExternal);
  EXPECT_EQ(ParseFts5Args({"a", "content=src"}).content, Fts5Content::kExternal);
  EXPECT_EQ(ParseFts5Args({"a", "content_rowid=id"}).content, Fts5Content::kStored);
}

TEST(VirtualTableTest, OtherShapes) {
  auto vt = ParseCreateVirtualTable("create virtual table if not exists main.r using rtree_i32(id, a, b)");
  ASSERT_TRUE(vt.has_value());
  EXPECT_EQ(vt->name, "r");
  EXPECT_EQ(vt->module, "rtree_i32");
  EXPECT_EQ(vt->args.size(), 3u);
  auto bare = ParseCreateVirtualTable("CREATE VIRTUAL TABLE s USING spellfix1");
  ASSERT_TRUE(bare.has_value());
  EXPECT_TRUE(bare->args.empty());
  EXPECT_FALSE(ParseCreateVirtualTable("CREATE TABLE t(a)").has_value());
  EXPECT_FALSE(ParseCreateVirtualTable("CREATE VIRTUAL TABLE t USING fts5(a").has_value());
  EXPECT_EQ(Dequote("'it''s'"), "it's");
  EXPECT_EQ(Dequote("[a b]"), "a b");
  EXPECT_EQ(Dequote("plain"), "plain");
  EXPECT_EQ(ShadowSuffixes("FTS5").size(), 5u);
  EXPECT_EQ(ShadowSuffixes("rtree").size(), 3u);
  EXPECT_TRUE(ShadowSuffixes("fts5vocab").empty());
}

}  // namespace
}  // namespace litehouse
