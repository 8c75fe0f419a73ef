#include "common/status.h"

#include <gtest/gtest.h>

namespace litehouse {

TEST(Status, OkIsCheapAndEmpty) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(Status, SqliteKeepsTheExtendedCode) {
  Status s = Status::Sqlite(1555 /* SQLITE_CONSTRAINT_PRIMARYKEY */, "UNIQUE constraint failed: t.id");
  EXPECT_TRUE(s.IsSqlite());
  EXPECT_EQ(s.sqlite_code(), 1555);
  Status copy = s;
  EXPECT_EQ(copy.sqlite_code(), 1555);
  EXPECT_EQ(copy.message(), "UNIQUE constraint failed: t.id");
}

TEST(Result, HoldsValueOrError) {
  Result<int> good = 7;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad = Status::NotFound("no such thing");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().IsNotFound());
}

}  // namespace litehouse
