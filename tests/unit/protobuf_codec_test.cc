// The Protobuf codec against messages built with the generated classes: what a client encodes we
// decode, and what we encode a client decodes, including the cursor's length-delimited framing.
#include <google/protobuf/io/coded_stream.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "protocol/codec.h"
#include "protocol/proto/hrana.pb.h"
#include "protocol/protobuf_detail.h"
#include "protocol/ws_codec.h"

namespace litehouse::protocol {
namespace {

namespace pb = litehouse::hrana::pb;

TEST(ProtobufCodec, DecodesRequests) {
  pb::PipelineReqBody body;
  body.set_baton("1.abc");
  auto* exec = body.add_requests()->mutable_execute()->mutable_stmt();
  exec->set_sql("SELECT ?, ?, ?, ?, ?");
  exec->add_args()->mutable_null();
  exec->add_args()->set_integer(INT64_MIN);
  exec->add_args()->set_float_(0.5);
  exec->add_args()->set_text("héllo");
  exec->add_args()->set_blob(std::string("\0\1", 2));
  exec->set_want_rows(false);
  auto* batch = body.add_requests()->mutable_batch()->mutable_batch();
  batch->add_steps()->mutable_stmt()->set_sql_id(3);
  auto* step = batch->add_steps();
  step->mutable_stmt()->set_sql("COMMIT");
  auto* conds = step->mutable_condition()->mutable_and_();
  conds->add_conds()->set_step_ok(0);
  conds->add_conds()->mutable_not_()->mutable_is_autocommit();
  body.add_requests()->mutable_get_autocommit();
  body.add_requests()->mutable_close();

  auto req = CodecFor(Encoding::kProtobuf).ParsePipelineRequest(body.SerializeAsString());
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  EXPECT_EQ(req->baton, "1.abc");
  ASSERT_EQ(req->requests.size(), 4u);
  const Stmt& s = req->requests[0].stmt;
  EXPECT_EQ(s.sql, "SELECT ?, ?, ?, ?, ?");
  ASSERT_EQ(s.args.size(), 5u);
  EXPECT_TRUE(engine::IsNull(s.args[0]));
  EXPECT_EQ(std::get<int64_t>(s.args[1]), INT64_MIN);
  EXPECT_EQ(std::get<double>(s.args[2]), 0.5);
  EXPECT_EQ(std::get<std::string>(s.args[3]), "héllo");
  EXPECT_EQ(std::get<engine::Blob>(s.args[4]).bytes, std::string("\0\1", 2));
  EXPECT_FALSE(s.want_rows);
  const Batch& b = req->requests[1].batch;
  ASSERT_EQ(b.steps.size(), 2u);
  EXPECT_EQ(b.steps[0].stmt.sql_id, 3);
  ASSERT_TRUE(b.steps[1].condition);
  EXPECT_EQ(b.steps[1].condition->kind, BatchCond::Kind::kAnd);
  EXPECT_EQ(b.steps[1].condition->conds[1].kind, BatchCond::Kind::kNot);
  EXPECT_EQ(b.steps[1].condition->conds[1].conds[0].kind, BatchCond::Kind::kIsAutocommit);
  EXPECT_EQ(req->requests[2].type, StreamRequest::Type::kGetAutocommit);
  EXPECT_EQ(req->requests[3].type, StreamRequest::Type::kClose);
}

TEST(ProtobufCodec, RefusesGarbageAndEmptyMessages) {
  const Codec& codec = CodecFor(Encoding::kProtobuf);
  EXPECT_FALSE(codec.ParsePipelineRequest("\xff\xff\xff\xff").ok());
  pb::PipelineReqBody body;
  body.add_requests();  // a request with no type
  auto req = codec.ParsePipelineRequest(body.SerializeAsString());
  ASSERT_FALSE(req.ok());
  EXPECT_TRUE(req.status().IsInvalidArgument());
  pb::PipelineReqBody untyped_value;
  untyped_value.add_requests()->mutable_execute()->mutable_stmt()->add_args();
  EXPECT_FALSE(codec.ParsePipelineRequest(untyped_value.SerializeAsString()).ok());
}

TEST(ProtobufCodec, EncodesResultsAClientDecodes) {
  StreamResult exec;
  exec.response.type = StreamRequest::Type::kExecute;
  exec.response.stmt_result.cols = {Col{"a", "INTEGER"}};
  exec.response.stmt_result.rows = {{int64_t{42}}, {std::monostate{}}};
  exec.response.stmt_result.affected_row_count = 2;
  exec.response.stmt_result.last_insert_rowid = 9;
  StreamResult batch;
  batch.response.type = StreamRequest::Type::kBatch;
  batch.response.batch_result.step_results = {StmtResult{}, std::nullopt, std::nullopt};
  batch.response.batch_result.step_errors = {std::nullopt, Error{"boom", "SQLITE_CONSTRAINT"}, std::nullopt};
  StreamResult err;
  err.ok = false;
  err.error = Error{"nope", "SQL_PARSE_ERROR"};
  std::string bytes = CodecFor(Encoding::kProtobuf).EncodePipelineResponse("2.x", std::nullopt, {exec, batch, err});

  pb::PipelineRespBody resp;
  ASSERT_TRUE(resp.ParseFromString(bytes));
  EXPECT_EQ(resp.baton(), "2.x");
  EXPECT_FALSE(resp.has_base_url());
  ASSERT_EQ(resp.results_size(), 3);
  const auto& r0 = resp.results(0).ok().execute().result();
  EXPECT_EQ(r0.cols(0).decltype_(), "INTEGER");
  EXPECT_EQ(r0.rows(0).values(0).integer(), 42);
  EXPECT_TRUE(r0.rows(1).values(0).has_null());
  EXPECT_EQ(r0.affected_row_count(), 2u);
  EXPECT_EQ(r0.last_insert_rowid(), 9);
  const auto& b = resp.results(1).ok().batch().result();
  EXPECT_EQ(b.step_results().count(0), 1u);
  EXPECT_EQ(b.step_results().count(1), 0u) << "a failed step has no result";
  EXPECT_EQ(b.step_errors().at(1).code(), "SQLITE_CONSTRAINT");
  EXPECT_EQ(b.step_errors().count(2), 0u) << "a skipped step has neither";
  EXPECT_EQ(resp.results(2).error().code(), "SQL_PARSE_ERROR");
}

// The WebSocket execute response is written to the wire directly (pb_wire.h), not through the
// generated classes: its bytes must be exactly theirs, for every kind of value, every optional field
// set or not, and lengths past one varint byte.
TEST(ProtobufCodec, WsExecuteResponseIsTheGeneratedClassesBytes) {
  auto reference = [](int32_t request_id, const StmtResult& r) {
    pb::ServerMsg m;
    m.mutable_response_ok()->set_request_id(request_id);
    pbconv::ToPb(r, m.mutable_response_ok()->mutable_execute()->mutable_result());
    return m.SerializeAsString();
  };
  auto direct = [](int32_t request_id, const StmtResult& r) {
    ServerMsg msg;
    msg.type = ServerMsg::Type::kResponseOk;
    msg.request_id = request_id;
    msg.response.type = WsRequest::Type::kExecute;
    msg.response.stream_response.type = StreamRequest::Type::kExecute;
    msg.response.stream_response.stmt_result = r;
    return WsCodecFor(Encoding::kProtobuf).EncodeServerMsg(msg);
  };
  std::vector<StmtResult> results;
  results.emplace_back();  // every field at its default
  StmtResult values;
  values.cols = {Col{"a", "INTEGER"}, Col{"b", std::nullopt}, Col{std::nullopt, "TEXT"}, Col{}, Col{"", ""}};
  values.rows = {
      {std::monostate{}, int64_t{0}, int64_t{-1}, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()},
      {0.0, -0.0, 1.5, std::numeric_limits<double>::quiet_NaN(), -std::numeric_limits<double>::infinity()},
      {std::string(), std::string("h\xc3\xa9llo"), std::string("a\0b", 3), Blob{}, Blob{std::string(300, '\x7f')}},
      {std::string(20000, 'x'), Blob{std::string(1, '\0')}},
      {},
  };
  values.affected_row_count = 3;
  values.last_insert_rowid = 0;  // set, though 0: written
  values.replication_index = 0;
  values.rows_read = 1ull << 40;
  values.rows_written = 7;
  values.query_duration_ms = 0.25;
  results.push_back(values);
  StmtResult optionals;
  optionals.last_insert_rowid = -5;
  optionals.replication_index = std::numeric_limits<uint64_t>::max();
  optionals.query_duration_ms = -0.0;  // not the default's bits: written
  results.push_back(optionals);
  StmtResult many;
  many.cols = {Col{"id", "INTEGER"}, Col{"name", "TEXT"}};
  for (int64_t i = 0; i < 1000; ++i) many.rows.push_back({i * 1000003, "name-" + std::to_string(i)});
  results.push_back(many);
  for (int32_t request_id : {0, 1, 127, 128, std::numeric_limits<int32_t>::max(), -1, std::numeric_limits<int32_t>::min()}) {
    for (size_t i = 0; i < results.size(); ++i) {
      std::string want = reference(request_id, results[i]);
      std::string got = direct(request_id, results[i]);
      EXPECT_EQ(got, want) << "result " << i << ", request id " << request_id;
      pb::ServerMsg back;
      ASSERT_TRUE(back.ParseFromString(got));
      EXPECT_EQ(back.response_ok().request_id(), request_id);
      EXPECT_EQ(back.response_ok().execute().result().rows_size(), static_cast<int>(results[i].rows.size()));
    }
  }
}

TEST(ProtobufCodec, CursorEntriesAreLengthDelimited) {
  const Codec& codec = CodecFor(Encoding::kProtobuf);
  std::string out;
  codec.AppendCursorHead(std::string("3.y"), std::nullopt, &out);
  codec.AppendStepBegin(0, {Col{"x", std::nullopt}}, &out);
  codec.AppendRow({std::string("row")}, &out);
  codec.AppendStepEnd(0, std::nullopt, &out);
  codec.AppendStepError(1, Error{"bad", "SQLITE_ERROR"}, &out);

  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(out.data()), static_cast<int>(out.size()));
  auto next = [&](google::protobuf::MessageLite* msg) {
    uint32_t len = 0;
    if (!in.ReadVarint32(&len)) return false;
    auto limit = in.PushLimit(static_cast<int>(len));
    bool ok = msg->ParseFromCodedStream(&in) && in.ConsumedEntireMessage();
    in.PopLimit(limit);
    return ok;
  };
  pb::CursorRespBody head;
  ASSERT_TRUE(next(&head));
  EXPECT_EQ(head.baton(), "3.y");
  pb::CursorEntry e;
  ASSERT_TRUE(next(&e));
  EXPECT_EQ(e.step_begin().cols(0).name(), "x");
  ASSERT_TRUE(next(&e));
  EXPECT_EQ(e.row().values(0).text(), "row");
  ASSERT_TRUE(next(&e));
  EXPECT_TRUE(e.has_step_end());
  ASSERT_TRUE(next(&e));
  EXPECT_EQ(e.step_error().step(), 1u);
  EXPECT_EQ(in.CurrentPosition(), static_cast<int>(out.size()));
}

// Many entries of sizes whose length prefixes take one, two and three bytes: every one decodes back,
// in order, and nothing is left over (the encoder appends in place, one entry after another).
TEST(ProtobufCodec, ManyCursorEntriesDecodeInOrder) {
  const Codec& codec = CodecFor(Encoding::kProtobuf);
  constexpr int kRows = 20'000;
  auto text_of = [](int i) {
    size_t size = i % 100 == 0 ? 20'000 : i % 2 == 0 ? 200 : 1;
    return std::string(size, static_cast<char>('a' + i % 26));
  };
  std::string out;
  codec.AppendCursorHead(std::string("7.z"), std::nullopt, &out);
  codec.AppendStepBegin(0, {Col{"n", std::nullopt}, Col{"t", std::nullopt}}, &out);
  for (int i = 0; i < kRows; ++i) codec.AppendRow({int64_t{i}, text_of(i)}, &out);
  codec.AppendStepEnd(0, std::nullopt, &out);

  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(out.data()), static_cast<int>(out.size()));
  in.SetTotalBytesLimit(INT32_MAX);
  auto next = [&](google::protobuf::MessageLite* msg) {
    uint32_t len = 0;
    if (!in.ReadVarint32(&len)) return false;
    auto limit = in.PushLimit(static_cast<int>(len));
    bool ok = msg->ParseFromCodedStream(&in) && in.ConsumedEntireMessage();
    in.PopLimit(limit);
    return ok;
  };
  pb::CursorRespBody head;
  ASSERT_TRUE(next(&head));
  EXPECT_EQ(head.baton(), "7.z");
  pb::CursorEntry e;
  ASSERT_TRUE(next(&e));
  ASSERT_EQ(e.step_begin().cols_size(), 2);
  for (int i = 0; i < kRows; ++i) {
    ASSERT_TRUE(next(&e)) << "row " << i;
    ASSERT_EQ(e.row().values_size(), 2) << "row " << i;
    ASSERT_EQ(e.row().values(0).integer(), i);
    ASSERT_EQ(e.row().values(1).text(), text_of(i)) << "row " << i;
  }
  ASSERT_TRUE(next(&e));
  EXPECT_TRUE(e.has_step_end());
  EXPECT_EQ(in.CurrentPosition(), static_cast<int>(out.size()));
}

}  // namespace
}  // namespace litehouse::protocol
