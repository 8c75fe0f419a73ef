// server/response_layers.h: which Accept-Encoding values accept gzip, what is worth compressing, and
// that Gzip's output is a gzip member zlib reads back to the input.
#include "server/response_layers.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace litehouse::server {
namespace {

TEST(AcceptsGzip, ByCodingAndQValue) {
  EXPECT_TRUE(AcceptsGzip("gzip"));
  EXPECT_TRUE(AcceptsGzip("GZIP"));
  EXPECT_TRUE(AcceptsGzip("x-gzip"));
  EXPECT_TRUE(AcceptsGzip("gzip, deflate, br"));
  EXPECT_TRUE(AcceptsGzip("br;q=1.0, gzip;q=0.5"));
  EXPECT_TRUE(AcceptsGzip(" deflate , gzip ; q=0.1"));
  EXPECT_TRUE(AcceptsGzip("*"));
  EXPECT_TRUE(AcceptsGzip("br, *;q=0.2"));

  EXPECT_FALSE(AcceptsGzip(""));
  EXPECT_FALSE(AcceptsGzip("identity"));
  EXPECT_FALSE(AcceptsGzip("deflate, br"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0.000"));
  EXPECT_FALSE(AcceptsGzip("*;q=0"));
  // An explicit refusal of gzip wins over `*`.
  EXPECT_FALSE(AcceptsGzip("gzip;q=0, *"));
  // An unreadable q-value accepts nothing.
  EXPECT_FALSE(AcceptsGzip("gzip;q=high"));
  EXPECT_FALSE(AcceptsGzip("gzipped"));
}

TEST(WorthCompressing, SizeAndType) {
  EXPECT_FALSE(WorthCompressing("application/json", kMinCompressBytes - 1));
  EXPECT_TRUE(WorthCompressing("application/json", kMinCompressBytes));
  EXPECT_TRUE(WorthCompressing("text/plain", 1 << 20));
  EXPECT_TRUE(WorthCompressing("application/x-protobuf", 1 << 20));
  EXPECT_FALSE(WorthCompressing("image/png", 1 << 20));
  EXPECT_FALSE(WorthCompressing("application/grpc-web+proto", 1 << 20));
  EXPECT_FALSE(WorthCompressing("text/event-stream", 1 << 20));
}

std::string Gunzip(const std::string& packed) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);  // gzip only
  std::string out(1 << 20, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
  z.avail_in = static_cast<uInt>(packed.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  inflateEnd(&z);
  return out;
}

TEST(Gzip, RoundTrips) {
  for (const std::string& input : {std::string(), std::string("x"), std::string(100000, 'a'), [] {
         std::string s;
         for (int i = 0; i < 20000; ++i) s += std::to_string(i * 7919 % 10007) + ",";
         return s;
       }()}) {
    auto packed = Gzip(input);
    ASSERT_TRUE(packed.has_value());
    ASSERT_GE(packed->size(), 18u);  // header and trailer
    EXPECT_EQ(static_cast<unsigned char>((*packed)[0]), 0x1f);
    EXPECT_EQ(static_cast<unsigned char>((*packed)[1]), 0x8b);
    EXPECT_EQ(Gunzip(*packed), input);
  }
  EXPECT_LT(Gzip(std::string(100000, 'a'))->size(), 1000u);
}

TEST(AllowedHeaders, EchoesTheRequestOrAllowsAny) {
  EXPECT_EQ(AllowedHeaders("authorization, content-type"), "authorization, content-type");
  EXPECT_EQ(AllowedHeaders("  "), "*");
  EXPECT_EQ(AllowedHeaders(""), "*");
}

}  // namespace
}  // namespace litehouse::server
