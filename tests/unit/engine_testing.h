// Helpers of the engine's unit tests.
#pragma once

#include <gtest/gtest.h>

#include "engine/database.h"

namespace litehouse::testing {

// The write lock with a connection, taken synchronously: only valid when nobody holds the lock.
inline engine::Lease TakeWriter(engine::Database& db) {
  engine::Lease out;
  db.AcquireWriter([&](engine::Lease l) { out = std::move(l); });
  EXPECT_TRUE(out) << "the write lock was not free";
  return out;
}

}  // namespace litehouse::testing
