#include "common/base64.h"

#include <gtest/gtest.h>

namespace litehouse {

TEST(Base64, Rfc4648Vectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
}

TEST(Base64, UrlSafeUnpadded) {
  EXPECT_EQ(Base64Encode(std::string("\xfb\xff", 2), Base64Alphabet::kUrlSafe, false), "-_8");
  EXPECT_EQ(Base64Encode(std::string("\xfb\xff", 2), Base64Alphabet::kStandard, true), "+/8=");
}

TEST(Base64, DecodesPaddedAndUnpaddedInBothAlphabets) {
  EXPECT_EQ(Base64Decode("Zm9vYg=="), "foob");
  EXPECT_EQ(Base64Decode("Zm9vYg"), "foob");
  EXPECT_EQ(Base64Decode("-_8"), std::string("\xfb\xff", 2));
  EXPECT_EQ(Base64Decode("+/8="), std::string("\xfb\xff", 2));
}

TEST(Base64, RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t len = 0; len <= all.size(); len += 37) {
    std::string s = all.substr(0, len);
    EXPECT_EQ(Base64Decode(Base64Encode(s)), s);
    EXPECT_EQ(Base64Decode(Base64Encode(s, Base64Alphabet::kUrlSafe, false)), s);
  }
}

TEST(Base64, RejectsGarbage) {
  EXPECT_FALSE(Base64Decode("Zm9v!").has_value());
  EXPECT_FALSE(Base64Decode("Z").has_value());
  EXPECT_FALSE(Base64Decode("Zm 9v").has_value());
}

}  // namespace litehouse

#include "common/byte_size.h"

namespace litehouse {

TEST(ByteSize, ParsesWhatSqldAccepts) {
  EXPECT_EQ(ParseByteSize("1048576"), 1048576u);
  EXPECT_EQ(ParseByteSize("10MB"), 10000000u);
  EXPECT_EQ(ParseByteSize("10mb"), 10000000u);
  EXPECT_EQ(ParseByteSize("32MiB"), 32u * 1024 * 1024);
  EXPECT_EQ(ParseByteSize("512 KB"), 512000u);
  EXPECT_EQ(ParseByteSize("1GiB"), 1024u * 1024 * 1024);
  EXPECT_EQ(ParseByteSize("7B"), 7u);
  for (const char* bad : {"", "MB", "ten", "10XB", "-1", "99999999999999999999", "18446744073709551615GB"}) {
    EXPECT_FALSE(ParseByteSize(bad).has_value()) << bad;
  }
}

}  // namespace litehouse
