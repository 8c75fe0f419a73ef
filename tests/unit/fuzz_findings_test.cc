// Regression tests for what the fuzz targets of fuzz/ found (docs/FUZZING.md, "Findings"): each test
// is named after its finding and holds the input that crashed, or a minimal form of it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "protocol/codec.h"
#include "protocol/json_client_codec.h"
#include "protocol/json_codec.h"

namespace litehouse::protocol::json {
namespace {

// Finding 3: a server's WebSocket response_ok whose "response" was not an object made the client
// call RapidJSON's FindMember on a number, which reads a pointer out of the number's bits (SIGSEGV in
// a release build). A hostile server must get a refusal, not a crashed client.
TEST(FuzzFindings, F3_ClientRefusesAResponseThatIsNotAnObject) {
  for (const char* response : {"5", "\"execute\"", "[1,2]", "true"}) {
    std::string msg = std::string(R"({"type":"response_ok","request_id":1,"response":)") + response + "}";
    auto reply = ParseWsServerMsg(msg, StreamRequest::Type::kExecute);
    ASSERT_FALSE(reply.ok()) << msg;
    EXPECT_NE(reply.status().message().find("'response'"), std::string::npos) << reply.status().ToString();
  }
}

// Finding 3, the same shape in an HTTP pipeline response: a column that is not an object.
TEST(FuzzFindings, F3_ClientRefusesAColumnThatIsNotAnObject) {
  PipelineRequest request;
  request.requests.emplace_back().type = StreamRequest::Type::kExecute;
  for (const char* col : {"5", "\"a\"", "[1,2,3]"}) {
    std::string body = std::string(R"({"results":[{"type":"ok","response":{"type":"execute","result":{"cols":[)") + col +
                       R"(],"rows":[]}}}]})";
    auto parsed = ParsePipelineResponse(body, request);
    ASSERT_FALSE(parsed.ok()) << body;
    EXPECT_NE(parsed.status().message().find("'cols'"), std::string::npos) << parsed.status().ToString();
  }
  // A well-formed column still parses.
  auto ok = ParsePipelineResponse(
      R"({"results":[{"type":"ok","response":{"type":"execute","result":{"cols":[{"name":"a"}],"rows":[]}}}]})", request);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->results.at(0).response.stmt_result.cols.at(0).name, "a");
}

// Finding 4: RapidJSON 1.1.0's full-precision number conversion read a zero significand with an
// exponent past 22 ("0e99") as 6.5e296, through undefined behaviour (__builtin_clzll(0)). A client
// binding 0e99 got 6.5e296 stored; a server answering 0e99 made the client read it so.
TEST(FuzzFindings, F4_ZeroWithALargeExponentIsZero) {
  auto req = CodecFor(Encoding::kJson).ParsePipelineRequest(
      R"({"requests":[{"type":"execute","stmt":{"sql":"SELECT ?, ?, ?, ?","args":[)"
      R"({"type":"float","value":0e99},{"type":"float","value":-0.000E+300},{"type":"float","value":0.0e23},)"
      R"({"type":"float","value":1e99}]}}]})");
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  const auto& args = req->requests.at(0).stmt.args;
  ASSERT_EQ(args.size(), 4u);
  EXPECT_EQ(std::get<double>(args[0]), 0.0);
  EXPECT_EQ(std::get<double>(args[1]), 0.0);
  EXPECT_TRUE(std::signbit(std::get<double>(args[1])));
  EXPECT_EQ(std::get<double>(args[2]), 0.0);
  EXPECT_EQ(std::get<double>(args[3]), 1e99);  // other numbers convert as before

  PipelineRequest request;
  request.requests.emplace_back().type = StreamRequest::Type::kExecute;
  auto resp = ParsePipelineResponse(R"({"results":[{"type":"ok","response":{"type":"execute","result":{)"
                                    R"("cols":[{"name":"z"}],"rows":[[{"type":"float","value":0e99}]]}}}]})",
                                    request);
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(std::get<double>(resp->results.at(0).response.stmt_result.rows.at(0).at(0)), 0.0);

  auto legacy = ParseLegacyRequest(R"({"statements":[{"q":"SELECT ?","params":[0e99]}]})");
  ASSERT_TRUE(legacy.ok()) << legacy.status().ToString();
  EXPECT_EQ(std::get<double>(legacy->at(0).args.at(0)), 0.0);
}

// Finding 5: past a double's range, RapidJSON 1.1.0's full-precision conversion read out of bounds of
// its table of powers and returned garbage: 2e308 became NaN, 7777...7e300 a tiny negative number,
// 111...1e300 2.98e38. They are refused now, as 1e400 always was, with RapidJSON's reason.
TEST(FuzzFindings, F5_NumbersPastADoubleAreRefused) {
  const std::string sevens(41, '7');
  const std::string ones(91, '1');
  for (const std::string& number : {std::string("2e308"), std::string("-2e308"), sevens + "e300", ones + "e300",
                                    std::string(400, '1'), std::string("1.7976931348623159e308")}) {
    auto parsed = ParseLegacyRequest(R"({"statements":[{"q":"S","params":[)" + number + "]}]}");
    ASSERT_FALSE(parsed.ok()) << number;
    EXPECT_NE(parsed.status().message().find("Number too big"), std::string::npos) << parsed.status().ToString();
  }
}

// Findings 4 and 5: every other number reads as before: integers by size, doubles correctly rounded
// (the largest, the smallest subnormal), numbers below the smallest double as zero.
TEST(FuzzFindings, F5_OtherNumbersAreReadAsBefore) {
  auto legacy = ParseLegacyRequest(
      R"({"statements":[{"q":"S","params":[-9223372036854775808, 9223372036854775807, 18446744073709551616, 0.1, -0,)"
      R"( 1.7976931348623157e308, 5e-324, 1e-400, -1e-400, 2.2250738585072011e-308, 1E+2]}]})");
  ASSERT_TRUE(legacy.ok()) << legacy.status().ToString();
  const auto& args = legacy->at(0).args;
  ASSERT_EQ(args.size(), 11u);
  EXPECT_EQ(std::get<int64_t>(args[0]), INT64_MIN);
  EXPECT_EQ(std::get<int64_t>(args[1]), INT64_MAX);
  EXPECT_EQ(std::get<double>(args[2]), 18446744073709551616.0);
  EXPECT_EQ(std::get<double>(args[3]), 0.1);
  EXPECT_EQ(std::get<int64_t>(args[4]), 0);
  EXPECT_EQ(std::get<double>(args[5]), std::numeric_limits<double>::max());
  EXPECT_EQ(std::get<double>(args[6]), std::numeric_limits<double>::denorm_min());
  EXPECT_EQ(std::get<double>(args[7]), 0.0);
  EXPECT_EQ(std::get<double>(args[8]), 0.0);
  EXPECT_TRUE(std::signbit(std::get<double>(args[8])));
  EXPECT_EQ(std::get<double>(args[9]), 2.2250738585072009e-308);
  EXPECT_EQ(std::get<double>(args[10]), 100.0);
}

}  // namespace
}  // namespace litehouse::protocol::json
