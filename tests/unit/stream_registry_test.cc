#include "server/stream_registry.h"

#include <gtest/gtest.h>

#include <thread>

namespace litehouse::server {
namespace {

TEST(StreamRegistry, ABatonServesExactlyOneRequest) {
  StreamRegistry reg(std::chrono::seconds(10));
  auto s = reg.Create();
  uint64_t id = s->id;
  std::string baton = reg.Put(std::move(s));
  StreamRegistry::TakeError why;
  auto taken = reg.Take(baton, &why);
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->id, id);
  EXPECT_EQ(why, StreamRegistry::TakeError::kNone);
  EXPECT_FALSE(reg.Take(baton, &why)) << "a used baton must be refused";
  EXPECT_EQ(why, StreamRegistry::TakeError::kUsed);
  std::string next = reg.Put(std::move(taken));
  EXPECT_NE(next, baton);
  EXPECT_FALSE(reg.Take(baton, &why)) << "the previous baton stays used";
  EXPECT_EQ(why, StreamRegistry::TakeError::kUsed);
  EXPECT_TRUE(reg.Take(next, &why));
}

TEST(StreamRegistry, RefusesForgedBatons) {
  StreamRegistry reg(std::chrono::seconds(10));
  std::string baton = reg.Put(reg.Create());
  StreamRegistry::TakeError why;
  std::string forged = baton;
  forged.back() = forged.back() == '0' ? '1' : '0';
  EXPECT_FALSE(reg.Take(forged, &why));
  EXPECT_EQ(why, StreamRegistry::TakeError::kUsed) << "a real stream id with a wrong secret";
  for (const std::string& b : {std::string(""), std::string("garbage"), std::string("7.00"),
                               std::string("99999999999999999999999.x")}) {
    EXPECT_FALSE(reg.Take(b, &why)) << b;
    EXPECT_EQ(why, StreamRegistry::TakeError::kUnknown) << b;
  }
  EXPECT_TRUE(reg.Take(baton, &why));
}

TEST(StreamRegistry, IdleStreamsExpireAndTheirBatonsSaySo) {
  StreamRegistry reg(std::chrono::milliseconds(1));
  std::string baton = reg.Put(reg.Create());
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // past a 1 ms expiry; no race to lose
  auto expired = reg.Sweep();
  ASSERT_EQ(expired.size(), 1u);
  StreamRegistry::TakeError why;
  EXPECT_FALSE(reg.Take(baton, &why));
  EXPECT_EQ(why, StreamRegistry::TakeError::kExpired);
  EXPECT_EQ(reg.parked(), 0u);
}

}  // namespace
}  // namespace litehouse::server
