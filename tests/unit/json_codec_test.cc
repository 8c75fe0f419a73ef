#include "protocol/json_codec.h"
#include "protocol/json_client_codec.h"
#include "protocol/ws_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "common/json.h"

namespace litehouse::protocol::json {
namespace {

TEST(JsonCodec, ParsesEveryRequestType) {
  auto req = ParsePipelineRequest(R"({"baton":"1.ab","requests":[
    {"type":"execute","stmt":{"sql":"SELECT ?","args":[{"type":"integer","value":"-9223372036854775808"}],"want_rows":false}},
    {"type":"batch","batch":{"steps":[{"stmt":{"sql":"A"}},{"condition":{"type":"not","cond":{"type":"ok","step":0}},"stmt":{"sql_id":3}}]}},
    {"type":"sequence","sql":"X;Y"},{"type":"describe","sql_id":7},{"type":"store_sql","sql_id":7,"sql":"S"},
    {"type":"close_sql","sql_id":7},{"type":"get_autocommit"},{"type":"close"}]})");
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  EXPECT_EQ(req->baton, "1.ab");
  ASSERT_EQ(req->requests.size(), 8u);
  const auto& exec = req->requests[0];
  EXPECT_EQ(exec.type, StreamRequest::Type::kExecute);
  EXPECT_EQ(std::get<int64_t>(exec.stmt.args.at(0)), std::numeric_limits<int64_t>::min());
  EXPECT_FALSE(exec.stmt.want_rows);
  const auto& batch = req->requests[1].batch;
  ASSERT_EQ(batch.steps.size(), 2u);
  EXPECT_FALSE(batch.steps[0].condition.has_value());
  ASSERT_TRUE(batch.steps[1].condition.has_value());
  EXPECT_EQ(batch.steps[1].condition->kind, BatchCond::Kind::kNot);
  EXPECT_EQ(batch.steps[1].condition->conds.at(0).kind, BatchCond::Kind::kOk);
  EXPECT_EQ(batch.steps[1].stmt.sql_id, 3);
  EXPECT_EQ(req->requests[2].sql, "X;Y");
  EXPECT_EQ(req->requests[3].sql_id, 7);
  EXPECT_EQ(req->requests[6].type, StreamRequest::Type::kGetAutocommit);
  EXPECT_EQ(req->requests[7].type, StreamRequest::Type::kClose);
}

TEST(JsonCodec, ParsesEveryValueType) {
  auto req = ParsePipelineRequest(R"({"requests":[{"type":"execute","stmt":{"sql":"S","args":[
    {"type":"null"},{"type":"integer","value":"42"},{"type":"float","value":0.1},{"type":"text","value":"h\u00e9\u0000x"},
    {"type":"blob","base64":"AAH/"},{"type":"blob","base64":"AAE"}],
    "named_args":[]}}]})");
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  const auto& args = req->requests[0].stmt.args;
  ASSERT_EQ(args.size(), 6u);
  EXPECT_TRUE(engine::IsNull(args[0]));
  EXPECT_EQ(std::get<int64_t>(args[1]), 42);
  EXPECT_EQ(std::get<double>(args[2]), 0.1);
  EXPECT_EQ(std::get<std::string>(args[3]), std::string("h\xc3\xa9\0x", 5));
  EXPECT_EQ(std::get<engine::Blob>(args[4]).bytes, std::string("\x00\x01\xff", 3));
  EXPECT_EQ(std::get<engine::Blob>(args[5]).bytes, std::string("\x00\x01", 2)) << "unpadded base64 is accepted";
}

TEST(JsonCodec, RefusesMalformedInputWithAReason) {
  struct Case {
    const char* body;
    const char* says;
  } cases[] = {
      {"{", "Invalid JSON"},
      {"[]", "JSON object"},
      {R"({"requests":5})", "'requests'"},
      {R"({"requests":[{"type":"frobnicate"}]})", "Unknown request type 'frobnicate'"},
      {R"({"requests":[{"type":"execute"}]})", "'stmt'"},
      {R"({"requests":[{"type":"execute","stmt":{"sql":5}}]})", "'sql'"},
      {R"({"requests":[{"type":"execute","stmt":{"sql":"S","args":[{"type":"integer","value":"12x"}]}}]})", "Invalid integer"},
      {R"({"requests":[{"type":"execute","stmt":{"sql":"S","args":[{"type":"integer","value":"99999999999999999999"}]}}]})", "Invalid integer"},
      {R"({"requests":[{"type":"execute","stmt":{"sql":"S","args":[{"type":"blob","base64":"!!"}]}}]})", "base64"},
      {R"({"requests":[{"type":"execute","stmt":{"sql":"S","args":[{"type":"date"}]}}]})", "Unknown value type"},
      {R"({"requests":[{"type":"batch","batch":{"steps":[{"condition":{"type":"maybe"},"stmt":{"sql":"S"}}]}}]})", "condition type"},
      {R"({"baton":7,"requests":[]})", "'baton'"},
  };
  for (const auto& c : cases) {
    auto req = ParsePipelineRequest(c.body);
    ASSERT_FALSE(req.ok()) << c.body;
    EXPECT_TRUE(req.status().IsInvalidArgument());
    EXPECT_NE(req.status().message().find(c.says), std::string::npos) << c.body << " -> " << req.status().message();
  }
}

TEST(JsonCodec, EncodesResultsAsTheSpecSays) {
  StreamResult ok;
  ok.response.type = StreamRequest::Type::kExecute;
  StmtResult& r = ok.response.stmt_result;
  r.cols = {Col{"a", "INTEGER"}, Col{"b", std::nullopt}};
  r.rows = {{int64_t{9007199254740993}, std::string("x")},
            {1.5, engine::Blob{std::string("\x00\xff", 2)}},
            {std::monostate{}, std::numeric_limits<double>::infinity()}};
  r.affected_row_count = 3;
  r.last_insert_rowid = 7;
  r.rows_read = 4;
  r.rows_written = 3;
  r.query_duration_ms = 0.25;
  StreamResult err;
  err.ok = false;
  err.error = Error{"boom", "SQLITE_CONSTRAINT"};
  std::string out = EncodePipelineResponse(std::string("1.b"), std::nullopt, {ok, err});
  // Blobs go out unpadded, as sqld sends them; clients decode both forms.
  EXPECT_EQ(out,
            R"({"baton":"1.b","base_url":null,"results":[{"type":"ok","response":{"type":"execute","result":{"cols":[{"name":"a","decltype":"INTEGER"},{"name":"b","decltype":null}],)"
            R"("rows":[[{"type":"integer","value":"9007199254740993"},{"type":"text","value":"x"}],[{"type":"float","value":1.5},{"type":"blob","base64":"AP8"}],)"
            R"([{"type":"null"},{"type":"float","value":1e999}]],"affected_row_count":3,"last_insert_rowid":"7","replication_index":null,)"
            R"("rows_read":4,"rows_written":3,"query_duration_ms":0.25}}},)"
            R"({"type":"error","error":{"message":"boom","code":"SQLITE_CONSTRAINT"}}]})");
}

TEST(JsonCodec, FloatsRoundTripExactly) {
  for (double d : {0.1, 1e308, -2.5e-308, 123456789.123456789, 5e-324}) {
    StmtResult r;
    r.rows = {{d}};
    StreamResult res;
    res.response.type = StreamRequest::Type::kExecute;
    res.response.stmt_result = r;
    std::string out = EncodePipelineResponse(std::nullopt, std::nullopt, {res});
    size_t at = out.find("\"value\":") + 8;
    double back = std::strtod(out.c_str() + at, nullptr);
    EXPECT_EQ(back, d) << out;
  }
}

TEST(JsonCodec, LegacyStatementsAndParams) {
  auto req = ParseLegacyRequest(R"({"statements":["SELECT 1",{"q":"SELECT ?","params":[1,"a",null,2.5]},{"q":"SELECT :x","params":{":x":true}}]})");
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  ASSERT_EQ(req->size(), 3u);
  EXPECT_EQ((*req)[0].sql, "SELECT 1");
  ASSERT_EQ((*req)[1].args.size(), 4u);
  EXPECT_EQ(std::get<int64_t>((*req)[1].args[0]), 1);
  EXPECT_EQ(std::get<std::string>((*req)[1].args[1]), "a");
  EXPECT_EQ((*req)[2].named_args.at(0).name, ":x");
  EXPECT_FALSE(ParseLegacyRequest(R"({"statements":[5]})").ok());
}

}  // namespace
}  // namespace litehouse::protocol::json

namespace litehouse::protocol::json {
namespace {

// Every JSON a peer sends, and every JSON a server answers the client library with, is parsed with a
// bound on nesting enforced while parsing: deep input is a clear error, never a recursion per level.
TEST(JsonCodec, NestingIsBoundedWhileParsingEveryDecoder) {
  const std::string deep(200000, '[');
  const std::string deep_value = R"({"requests":)" + deep;
  auto expect_too_deep = [](const Status& s, const char* what) {
    EXPECT_TRUE(s.IsInvalidArgument()) << what << ": " << s.ToString();
    EXPECT_NE(s.message().find("nested deeper than 128 levels"), std::string::npos) << what << ": " << s.message();
  };
  expect_too_deep(ParsePipelineRequest(deep).status(), "pipeline");
  expect_too_deep(ParsePipelineRequest(deep_value).status(), "pipeline, nested inside the object");
  expect_too_deep(ParseCursorRequest(deep).status(), "cursor");
  expect_too_deep(ParseLegacyRequest(deep).status(), "legacy");
  expect_too_deep(WsCodecFor(Encoding::kJson).ParseClientMsg(deep).status(), "websocket");
  expect_too_deep(ParsePipelineResponse(deep, PipelineRequest{}).status(), "client: pipeline response");
  expect_too_deep(ParseErrorBody(deep).status(), "client: error body");
  expect_too_deep(ParseWsServerMsg(deep, StreamRequest::Type::kExecute).status(), "client: websocket message");
  EXPECT_FALSE(PeekWsRequestId(deep).has_value());

  // 128 levels parse (the body is level 1); 129 do not.
  auto nested = [](int levels) {
    return R"({"baton":null,"requests":)" + std::string(levels - 1, '[') + std::string(levels - 1, ']') + "}";
  };
  Status at_limit = ParsePipelineRequest(nested(128)).status();
  EXPECT_EQ(at_limit.message().find("nested deeper"), std::string::npos) << at_limit.message();
  expect_too_deep(ParsePipelineRequest(nested(129)).status(), "one level past the limit");
}

}  // namespace
}  // namespace litehouse::protocol::json

namespace litehouse::protocol::json {
namespace {

// Request bodies are parsed in place (RequestDocument::Parse, json::ParseInsitu), which must answer
// exactly as the copying parse does: the same document, or the same error at the same byte.
TEST(JsonCodec, InPlaceParsingAnswersAsTheCopyingParse) {
  const std::string long_sql(3000, 'x');  // past RequestDocument's own buffer
  const std::vector<std::string> bodies = {
      R"({"requests":[{"type":"execute","stmt":{"sql":"SELECT 'a\"b\\c\u00e9\ud83d\ude00\n'","args":[{"type":"float","value":1.5e300}]}}]})",
      R"({"requests":[{"type":"execute","stmt":{"sql":"nul\u0000inside"}}]})",
      R"({"sql":")" + long_sql + R"(","n":-9223372036854775808,"big":18446744073709551615})",
      std::string(R"({"requests":[]})") + '\0' + "trailing",  // a NUL byte of its own
      std::string("{\"a\":\"b") + '\0' + "c\"}",
      R"({"requests":[{"type":"execute")",   // cut short
      R"({"a":"\x"})",                       // bad escape
      "{\"a\":\"\x01\"}",                    // a control character in a string
      R"({"n":1e999999})",                   // too big
      R"({"a":1} {"b":2})",                  // not singular
      std::string(300, '[') + std::string(300, ']'),
      "",
  };
  for (const std::string& body : bodies) {
    rapidjson::Document copied, in_place;
    Status by_copy = litehouse::json::Parse(body, &copied);
    std::string text = body;
    Status by_place = litehouse::json::ParseInsitu(text.data(), text.size(), &in_place);
    EXPECT_EQ(by_copy.ToString(), by_place.ToString()) << body;
    if (by_copy.ok() && by_place.ok()) EXPECT_TRUE(copied == in_place) << body;
  }
  // Through the codec, a long body and escapes come out as written.
  auto req = ParsePipelineRequest(R"({"requests":[{"type":"execute","stmt":{"sql":")" + long_sql + R"(\u00e9\t"}}]})");
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  EXPECT_EQ(req->requests.at(0).stmt.sql.value_or(""), long_sql + "\xc3\xa9\t");
  auto nul = ParsePipelineRequest(R"({"requests":[{"type":"execute","stmt":{"sql":"a\u0000b"}}]})");
  ASSERT_TRUE(nul.ok()) << nul.status().ToString();
  EXPECT_EQ(nul->requests.at(0).stmt.sql.value_or(""), std::string("a\0b", 3));
}

}  // namespace
}  // namespace litehouse::protocol::json
