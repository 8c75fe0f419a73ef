// protocol/proxy_codec.h: sqld's bincode values, byte for byte as the libsql client sends them, and a
// Program decoded into a Hrana batch.
#include "protocol/proxy_codec.h"

#include <gtest/gtest.h>

#include "protocol/proto/proxy.pb.h"

namespace litehouse::protocol::proxy {
namespace {

std::string Hex(const std::string& s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

TEST(ProxyCodec, BincodeValuesAsTheClientWritesThem) {
  // Observed from libsql@0.5.29: run(4, 'd') sends Real(4.0) and Text("d").
  EXPECT_EQ(Hex(EncodeValue(Value(4.0))), "020000000000000000001040");
  EXPECT_EQ(Hex(EncodeValue(Value(std::string("d")))), "03000000010000000000000064");
  EXPECT_EQ(Hex(EncodeValue(Value(std::monostate{}))), "00000000");
  EXPECT_EQ(Hex(EncodeValue(Value(int64_t{-2}))), "01000000feffffffffffffff");
  for (const Value& v : {Value(std::monostate{}), Value(int64_t{1} << 62), Value(-0.5), Value(std::string("héllo")),
                         Value(engine::Blob{std::string("\0\1\2", 3)})}) {
    auto back = DecodeValue(EncodeValue(v));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, v);
  }
  EXPECT_FALSE(DecodeValue("").ok());
  EXPECT_FALSE(DecodeValue(std::string("\x09\0\0\0", 4)).ok()) << "an unknown tag";
  EXPECT_FALSE(DecodeValue(std::string("\x03\0\0\0\x05\0\0\0\0\0\0\0ab", 14)).ok()) << "a length past the data";
}

TEST(ProxyCodec, AProgramBecomesABatch) {
  ::proxy::ProgramReq req;
  req.set_client_id("c1");
  auto* s0 = req.mutable_pgm()->add_steps();
  s0->mutable_query()->set_stmt("INSERT INTO t VALUES (?)");
  s0->mutable_query()->mutable_positional()->add_values()->set_data(EncodeValue(Value(int64_t{7})));
  auto* s1 = req.mutable_pgm()->add_steps();
  s1->mutable_cond()->mutable_not_()->mutable_cond()->mutable_ok()->set_step(0);
  s1->mutable_query()->set_stmt("SELECT :a");
  s1->mutable_query()->set_skip_rows(true);
  s1->mutable_query()->mutable_named()->add_names(":a");
  s1->mutable_query()->mutable_named()->add_values()->set_data(EncodeValue(Value(std::string("x"))));
  auto parsed = ParseProgramReq(req.SerializeAsString());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->client_id, "c1");
  ASSERT_EQ(parsed->batch.steps.size(), 2u);
  EXPECT_EQ(*parsed->batch.steps[0].stmt.sql, "INSERT INTO t VALUES (?)");
  EXPECT_EQ(std::get<int64_t>(parsed->batch.steps[0].stmt.args.at(0)), 7);
  EXPECT_TRUE(parsed->batch.steps[0].stmt.want_rows);
  const auto& cond = *parsed->batch.steps[1].condition;
  EXPECT_EQ(cond.kind, BatchCond::Kind::kNot);
  EXPECT_EQ(cond.conds.at(0).kind, BatchCond::Kind::kOk);
  EXPECT_FALSE(parsed->batch.steps[1].stmt.want_rows);
  EXPECT_EQ(parsed->batch.steps[1].stmt.named_args.at(0).name, ":a");

  req.mutable_pgm()->mutable_steps(1)->mutable_query()->mutable_named()->add_names(":b");  // a name without a value
  EXPECT_FALSE(ParseProgramReq(req.SerializeAsString()).ok());
  EXPECT_FALSE(ParseProgramReq("\xff\xff\xff").ok());
}

TEST(ProxyCodec, ResultsSayWhetherATransactionIsOpen) {
  BatchResult r;
  StmtResult ok;
  ok.cols = {Col{std::string("n"), std::nullopt}};
  ok.rows = {{Value(int64_t{3})}};
  ok.affected_row_count = 1;
  ok.last_insert_rowid = 9;
  r.step_results = {ok, std::nullopt, std::nullopt};
  r.step_errors = {std::nullopt, Error{"SQLite error: UNIQUE constraint failed: t.x", "SQLITE_CONSTRAINT"}, std::nullopt};
  ::proxy::ExecuteResults out;
  ASSERT_TRUE(out.ParseFromString(EncodeExecuteResults(r, false, 41)));
  EXPECT_EQ(out.state(), ::proxy::TXN);
  EXPECT_EQ(out.current_frame_no(), 41u);
  ASSERT_EQ(out.results_size(), 3);
  EXPECT_EQ(out.results(0).row().rows(0).values(0).data(), EncodeValue(Value(int64_t{3})));
  EXPECT_EQ(out.results(0).row().last_insert_rowid(), 9);
  EXPECT_EQ(out.results(1).error().code(), ::proxy::Error::INTERNAL);
  EXPECT_EQ(out.results(1).error().extended_code(), 19);
  EXPECT_TRUE(out.results(2).has_row()) << "a step not run has an empty result, as sqld's";
  EXPECT_EQ(out.results(2).row().column_descriptions_size(), 0);
  ASSERT_TRUE(out.ParseFromString(EncodeExecuteResults(r, true, std::nullopt)));
  EXPECT_EQ(out.state(), ::proxy::INIT);
  EXPECT_FALSE(out.has_current_frame_no());
}

TEST(ProxyCodec, NamedParametersAreListedFromIndexOne) {
  DescribeResult d;
  d.params = {DescribeParam{std::string(":a")}, DescribeParam{std::string(":b")}};
  ::proxy::DescribeResult out;
  ASSERT_TRUE(out.ParseFromString(EncodeDescribeResult(d)));
  EXPECT_EQ(out.description().param_count(), 2u);
  ASSERT_EQ(out.description().param_names_size(), 3);
  EXPECT_EQ(out.description().param_names(1), ":a");
  EXPECT_EQ(out.description().param_names(2), ":b");
  d.params = {DescribeParam{std::nullopt}, DescribeParam{std::string(":b")}};  // mixed: sqld's list
  ASSERT_TRUE(out.ParseFromString(EncodeDescribeResult(d)));
  ASSERT_EQ(out.description().param_names_size(), 1);
  EXPECT_EQ(out.description().param_names(0), ":b");
}

}  // namespace
}  // namespace litehouse::protocol::proxy
