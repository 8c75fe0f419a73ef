#include "server/stream_registry.h"

#include "server/client_address.h"
#include "server/limits.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "../support/fake_clock.h"
#include "engine/database.h"
#include "test_dir.h"

namespace litehouse::server {
namespace {

// A database for the streams' sessions; declared before the registry, so that it outlives them.
class TestDb {
 public:
  TestDb() {
    engine::DatabaseOptions opts;
    opts.path = dir_.file("db");
    db_ = std::move(engine::Database::Open(opts)).value();
  }
  engine::Database& operator*() { return *db_; }

 private:
  testing::TestDir dir_;
  std::unique_ptr<engine::Database> db_;
};

// Parks `s` and returns its baton (the random source does not fail in these tests).
std::string Park(StreamRegistry& reg, std::unique_ptr<HttpStream> s) {
  auto baton = reg.Put(&s);
  EXPECT_TRUE(baton.ok()) << baton.status().message();
  return baton.ok() ? *baton : std::string();
}

const Principal kAnon;

TEST(StreamRegistry, ABatonServesExactlyOneRequest) {
  TestDb db;
  StreamRegistry reg(*db, std::chrono::seconds(10));
  auto s = reg.Create();
  uint64_t id = s->id;
  std::string baton = Park(reg, std::move(s));
  StreamRegistry::TakeError why;
  auto taken = reg.Take(baton, kAnon, &why);
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->id, id);
  EXPECT_EQ(why, StreamRegistry::TakeError::kNone);
  EXPECT_FALSE(reg.Take(baton, kAnon, &why)) << "a used baton must be refused";
  EXPECT_EQ(why, StreamRegistry::TakeError::kUsed);
  std::string next = Park(reg, std::move(taken));
  EXPECT_NE(next, baton);
  EXPECT_FALSE(reg.Take(baton, kAnon, &why)) << "the previous baton stays used";
  EXPECT_EQ(why, StreamRegistry::TakeError::kUsed);
  EXPECT_TRUE(reg.Take(next, kAnon, &why));
}

TEST(StreamRegistry, RefusesForgedBatons) {
  TestDb db;
  StreamRegistry reg(*db, std::chrono::seconds(10));
  std::string baton = Park(reg, reg.Create());
  StreamRegistry::TakeError why;
  std::string forged = baton;
  forged.back() = forged.back() == '0' ? '1' : '0';
  EXPECT_FALSE(reg.Take(forged, kAnon, &why));
  EXPECT_EQ(why, StreamRegistry::TakeError::kUsed) << "a real stream id with a wrong secret";
  for (const std::string& b : {std::string(""), std::string("garbage"), std::string("7.00"),
                               std::string("99999999999999999999999.x")}) {
    EXPECT_FALSE(reg.Take(b, kAnon, &why)) << b;
    EXPECT_EQ(why, StreamRegistry::TakeError::kUnknown) << b;
  }
  EXPECT_TRUE(reg.Take(baton, kAnon, &why));
}

TEST(StreamRegistry, IdleStreamsExpireAndTheirBatonsSaySo) {
  TestDb db;
  testing::FakeClock clock;
  StreamRegistry reg(*db, std::chrono::seconds(10), clock);
  std::string baton = Park(reg, reg.Create());
  clock.Advance(std::chrono::seconds(9));
  EXPECT_TRUE(reg.Sweep().empty()) << "not idle for the expiry yet";
  clock.Advance(std::chrono::seconds(1));
  auto expired = reg.Sweep();
  ASSERT_EQ(expired.size(), 1u);
  StreamRegistry::TakeError why;
  EXPECT_FALSE(reg.Take(baton, kAnon, &why));
  EXPECT_EQ(why, StreamRegistry::TakeError::kExpired);
  EXPECT_EQ(reg.parked(), 0u);
}

// Batons carry 128 random bits from the CSPRNG: the format is "<id>.<32 hex digits>", and the secret
// parts of many batons are all different and use every hex digit (an mt19937_64 seeded from 32 bits
// passes this too: the property that matters, unpredictability, comes from RAND_bytes in Put).
TEST(StreamRegistry, BatonsCarry128RandomBits) {
  TestDb db;
  StreamRegistry reg(*db, std::chrono::seconds(10));
  std::set<std::string> secrets;
  std::set<char> digits;
  const std::regex shape("^[0-9]+\\.[0-9a-f]{32}$");
  for (int i = 0; i < 200; ++i) {
    std::string baton = Park(reg, reg.Create());
    ASSERT_TRUE(std::regex_match(baton, shape)) << baton;
    std::string secret = baton.substr(baton.find('.') + 1);
    secrets.insert(secret);
    digits.insert(secret.begin(), secret.end());
  }
  EXPECT_EQ(secrets.size(), 200u);
  EXPECT_EQ(digits.size(), 16u);
}

// A stream is bound to the principal that opened it: another credential presenting the right baton
// is refused as kForeign, and the stream stays parked, under the same baton, for its owner.
TEST(StreamRegistry, AnotherPrincipalCannotTakeAStream) {
  TestDb db;
  StreamRegistry reg(*db, std::chrono::seconds(10));
  const Principal owner{Grant::kReadWrite, "jwt:owner"};
  const Principal other{Grant::kReadWrite, "jwt:other"};
  const Principal owner_read_only{Grant::kReadOnly, "jwt:owner"};  // the same id with another grant
  std::string baton = Park(reg, reg.Create(owner));
  StreamRegistry::TakeError why;
  for (const Principal& who : {other, owner_read_only, kAnon}) {
    EXPECT_FALSE(reg.Take(baton, who, &why)) << who.id;
    EXPECT_EQ(why, StreamRegistry::TakeError::kForeign) << who.id;
  }
  EXPECT_EQ(reg.parked(), 1u) << "the refusal must not remove the stream";
  auto taken = reg.Take(baton, owner, &why);
  ASSERT_TRUE(taken) << "the owner's baton still works after the refusals";
  EXPECT_EQ(why, StreamRegistry::TakeError::kNone);
  EXPECT_EQ(taken->owner, owner);
  // A forged secret is still "used", whoever presents it: the principal is checked only for a
  // baton that is right, so a refusal says nothing about whose stream an id is.
  std::string next = Park(reg, std::move(taken));
  std::string forged = next;
  forged.back() = forged.back() == '0' ? '1' : '0';
  EXPECT_FALSE(reg.Take(forged, other, &why));
  EXPECT_EQ(why, StreamRegistry::TakeError::kUsed);
}

TEST(KeyedLimit, BoundsEachKeyAndForgetsEmptyKeys) {
  KeyedLimit limit(2);
  auto a1 = limit.TryTake("a");
  auto a2 = limit.TryTake("a");
  EXPECT_TRUE(a1);
  EXPECT_TRUE(a2);
  EXPECT_FALSE(limit.TryTake("a")) << "a third for the same key";
  auto b1 = limit.TryTake("b");
  EXPECT_TRUE(b1) << "another key is not affected";
  EXPECT_EQ(limit.count("a"), 2u);
  a1.Reset();
  EXPECT_EQ(limit.count("a"), 1u);
  EXPECT_TRUE(limit.TryTake("a")) << "a place given back can be taken again";
  a2 = KeyedLimit::Ticket();
  b1.Reset();
  EXPECT_EQ(limit.keys(), 0u) << "keys with no tickets are forgotten";
}

TEST(StreamLimits, OneClientCannotTakeEveryStream) {
  StreamLimits limits(/*max_streams=*/10, /*per_client=*/3, /*per_principal=*/0);
  StreamLimits::Refusal why;
  std::vector<StreamSlot> slots;
  for (int i = 0; i < 3; ++i) slots.push_back(limits.TryTake("10.0.0.1", "open", &why));
  for (auto& s : slots) EXPECT_TRUE(s);
  EXPECT_FALSE(limits.TryTake("10.0.0.1", "open", &why));
  EXPECT_EQ(why, StreamLimits::Refusal::kClient);
  for (int i = 0; i < 7; ++i) {
    std::string client = "10.0.1." + std::to_string(i / 3);
    slots.push_back(limits.TryTake(client, "open", &why));
    EXPECT_TRUE(slots.back()) << i;
  }
  EXPECT_EQ(limits.open(), 10u);
  EXPECT_FALSE(limits.TryTake("10.0.2.1", "open", &why));
  EXPECT_EQ(why, StreamLimits::Refusal::kServer);
  EXPECT_EQ(limits.open_by_client("10.0.2.1"), 0u) << "a refused slot holds nothing";
  slots.clear();
  EXPECT_EQ(limits.open(), 0u);
}

TEST(StreamLimits, PerTokenLimit) {
  StreamLimits limits(100, 100, /*per_principal=*/2);
  StreamLimits::Refusal why;
  auto a = limits.TryTake("10.0.0.1", "jwt:x", &why);
  auto b = limits.TryTake("10.0.0.2", "jwt:x", &why);
  EXPECT_TRUE(a);
  EXPECT_TRUE(b);
  EXPECT_FALSE(limits.TryTake("10.0.0.3", "jwt:x", &why));
  EXPECT_EQ(why, StreamLimits::Refusal::kPrincipal);
  EXPECT_EQ(limits.open_by_client("10.0.0.3"), 0u);
  EXPECT_TRUE(limits.TryTake("10.0.0.3", "jwt:y", &why));
}

namespace ip = boost::asio::ip;

TEST(TrustedProxies, ParsesAddressesAndNetworks) {
  auto p = TrustedProxies::Parse("127.0.0.1, 10.0.0.0/8,fdaa::/16");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_TRUE(p->Contains(ip::make_address("127.0.0.1")));
  EXPECT_FALSE(p->Contains(ip::make_address("127.0.0.2")));
  EXPECT_TRUE(p->Contains(ip::make_address("10.200.3.4")));
  EXPECT_TRUE(p->Contains(ip::make_address("::ffff:10.1.2.3"))) << "IPv4-mapped";
  EXPECT_TRUE(p->Contains(ip::make_address("fdaa:0:1::5")));
  EXPECT_FALSE(p->Contains(ip::make_address("fdab::5")));
  for (const char* bad : {"", " , ", "nonsense", "10.0.0.0/33", "10.0.0.0/", "1.2.3.4/x", "::/129"}) {
    EXPECT_FALSE(TrustedProxies::Parse(bad).ok()) << bad;
  }
}

TEST(TrustedProxies, ClientKeys) {
  auto proxies = TrustedProxies::Parse("127.0.0.1,10.0.0.0/8");
  ASSERT_TRUE(proxies.ok());
  const TrustedProxies& p = *proxies;
  auto proxy = ip::make_address("127.0.0.1");
  auto stranger = ip::make_address("198.51.100.9");
  // From a peer that is not a trusted proxy, the headers are ignored.
  EXPECT_EQ(p.ClientKey(stranger, "203.0.113.1", {"203.0.113.2"}), "198.51.100.9");
  // Fly-Client-IP first, then X-Forwarded-For, then the proxy itself.
  EXPECT_EQ(p.ClientKey(proxy, "203.0.113.1", {"203.0.113.2"}), "203.0.113.1");
  EXPECT_EQ(p.ClientKey(proxy, "", {"203.0.113.2"}), "203.0.113.2");
  EXPECT_EQ(p.ClientKey(proxy, "not an address", {}), "127.0.0.1");
  // X-Forwarded-For: the rightmost entry that is not a trusted proxy; what the client wrote to its
  // left is never believed.
  EXPECT_EQ(p.ClientKey(proxy, "", {"6.6.6.6, 203.0.113.2"}), "203.0.113.2");
  EXPECT_EQ(p.ClientKey(proxy, "", {"6.6.6.6, 203.0.113.2, 10.1.1.1"}), "203.0.113.2") << "through two proxies";
  EXPECT_EQ(p.ClientKey(proxy, "", {"6.6.6.6", "203.0.113.2"}), "203.0.113.2") << "several headers";
  EXPECT_EQ(p.ClientKey(proxy, "", {"6.6.6.6, garbage, 10.1.1.1"}), "10.1.1.1") << "a bad entry stops the walk";
  EXPECT_EQ(p.ClientKey(proxy, "", {" [2001:db8::1] "}), "2001:db8::/64");
  // IPv6 clients are keyed by their /64.
  EXPECT_EQ(ClientKeyOf(ip::make_address("2001:db8:1:2:aaaa::1")), ClientKeyOf(ip::make_address("2001:db8:1:2:bbbb::9")));
  EXPECT_EQ(ClientKeyOf(ip::make_address("::ffff:192.0.2.1")), "192.0.2.1");
}

// What a replica writes in X-Forwarded-For for a client key: an address the primary keys the same.
TEST(TrustedProxies, ForwardedForRoundTrips) {
  auto proxies = TrustedProxies::Parse("127.0.0.1");
  ASSERT_TRUE(proxies.ok());
  auto replica = ip::make_address("127.0.0.1");
  for (const char* client : {"203.0.113.7", "2001:db8:1:2:aaaa::1", "::ffff:192.0.2.1"}) {
    const std::string key = ClientKeyOf(ip::make_address(client));
    const std::string forwarded = ForwardedForOf(key);
    ASSERT_FALSE(forwarded.empty()) << key;
    EXPECT_EQ(proxies->ClientKey(replica, "", {forwarded}), key) << client;
  }
  EXPECT_EQ(ForwardedForOf(""), "");
  EXPECT_EQ(ForwardedForOf("not a key"), "");
}

}  // namespace
}  // namespace litehouse::server
