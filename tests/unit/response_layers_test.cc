// server/response_layers.h: which Accept-Encoding values accept gzip, what is worth compressing, and
// that Gzip's output (and GzipStream's, flushed piece by piece) is a gzip member zlib reads back.
#include "server/response_layers.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <vector>

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

// Inflates what came so far of a gzip member (Z_SYNC_FLUSH: no Z_STREAM_END yet).
std::string InflateSoFar(z_stream& z, const std::string& packed) {
  std::string out(4 << 20, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
  z.avail_in = static_cast<uInt>(packed.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&z, Z_SYNC_FLUSH);
  // Z_BUF_ERROR: nothing to do (no input).
  EXPECT_TRUE(rc == Z_OK || rc == Z_STREAM_END || (packed.empty() && rc == Z_BUF_ERROR)) << rc;
  EXPECT_EQ(z.avail_in, 0u);
  out.resize(out.size() - z.avail_out);
  return out;
}

TEST(GzipStream, EachFlushDecodesWholeAndTheMemberRoundTrips) {
  auto gz = GzipStream::Make();
  ASSERT_TRUE(gz);
  z_stream in{};
  ASSERT_EQ(inflateInit2(&in, 15 + 16), Z_OK);
  std::string all, packed_all;
  std::vector<std::string> pieces = {"head\n", std::string(300000, 'a'), "", "x", [] {
                                       std::string s;
                                       for (int i = 0; i < 100000; ++i) s += std::to_string(i * 7919 % 10007) + ",";
                                       return s;
                                     }()};
  for (const std::string& piece : pieces) {
    auto packed = gz->Flush(piece);
    ASSERT_TRUE(packed.has_value());
    packed_all += *packed;
    all += piece;
    // Everything given so far comes out of what was written so far.
    EXPECT_EQ(InflateSoFar(in, *packed), piece);
  }
  auto end = gz->Finish();
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(InflateSoFar(in, *end), "");
  inflateEnd(&in);
  packed_all += *end;
  EXPECT_EQ(static_cast<unsigned char>(packed_all[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(packed_all[1]), 0x8b);
  EXPECT_EQ(Gunzip(packed_all).size(), all.size());
  EXPECT_EQ(Gunzip(packed_all), all);
}

TEST(AllowedHeaders, EchoesTheRequestOrAllowsAny) {
  EXPECT_EQ(AllowedHeaders("authorization, content-type"), "authorization, content-type");
  EXPECT_EQ(AllowedHeaders("  "), "*");
  EXPECT_EQ(AllowedHeaders(""), "*");
}

}  // namespace
}  // namespace litehouse::server
