// Regression tests for what the fuzz targets of fuzz/ found (docs/FUZZING.md, "Findings"): each test
// is named after its finding and holds the input that crashed, or a minimal form of it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
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

// Finding 4: numbers still read as RapidJSON reads them: integers by size, a double past the range
// refused with RapidJSON's reason.
TEST(FuzzFindings, F4_OtherNumbersAreReadAsBefore) {
  auto legacy = ParseLegacyRequest(
      R"({"statements":[{"q":"S","params":[-9223372036854775808, 9223372036854775807, 18446744073709551616, 0.1, -0]}]})");
  ASSERT_TRUE(legacy.ok()) << legacy.status().ToString();
  const auto& args = legacy->at(0).args;
  EXPECT_EQ(std::get<int64_t>(args.at(0)), INT64_MIN);
  EXPECT_EQ(std::get<int64_t>(args.at(1)), INT64_MAX);
  EXPECT_EQ(std::get<double>(args.at(2)), 18446744073709551616.0);
  EXPECT_EQ(std::get<double>(args.at(3)), 0.1);
  EXPECT_EQ(std::get<int64_t>(args.at(4)), 0);
  auto too_big = ParseLegacyRequest(R"({"statements":[{"q":"S","params":[1e400]}]})");
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.status().message().find("Number too big"), std::string::npos) << too_big.status().ToString();
}

}  // namespace
}  // namespace litehouse::protocol::json
