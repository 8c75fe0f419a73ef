// Stream semantics on a real database: statements, arguments, batches and their conditions,
// sequences, describe, stored SQL, and classification of requests into reads and writes.
#include "protocol/stream.h"

#include <gtest/gtest.h>

#include "engine/database.h"
#include "test_dir.h"

namespace litehouse::protocol {
namespace {

using engine::Lease;

class StreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine::DatabaseOptions opts;
    opts.path = dir_.file("db");
    auto db = engine::Database::Open(opts);
    ASSERT_TRUE(db.ok());
    db_ = std::move(db).value();
    db_->AcquireWriter([&](Lease l) { writer_ = std::move(l); });
    ASSERT_TRUE(writer_->Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, v REAL)").ok());
  }
  void TearDown() override { writer_.Release(); }

  static StreamRequest Execute(std::string sql, std::vector<Value> args = {}) {
    StreamRequest r;
    r.type = StreamRequest::Type::kExecute;
    r.stmt.sql = std::move(sql);
    r.stmt.args = std::move(args);
    return r;
  }
  StreamResult Run(const StreamRequest& r) { return stream_.Handle(r, writer_.get()); }

  testing::TestDir dir_;
  std::unique_ptr<engine::Database> db_;
  Lease writer_;
  SqlStore sqls_;
  Stream stream_{&sqls_};
};

TEST_F(StreamTest, ExecuteReportsRowsColumnsAndCounts) {
  auto ins = Run(Execute("INSERT INTO t(name, v) VALUES (?, ?), (?, ?)", {std::string("a"), 1.5, std::string("b"), std::monostate{}}));
  ASSERT_TRUE(ins.ok) << ins.error.message;
  EXPECT_EQ(ins.response.stmt_result.affected_row_count, 2u);
  EXPECT_EQ(ins.response.stmt_result.last_insert_rowid, 2);
  EXPECT_EQ(ins.response.stmt_result.rows_written, 2u);
  EXPECT_GE(ins.response.stmt_result.query_duration_ms, 0.0);

  auto sel = Run(Execute("SELECT id, name, v, 1+1 AS two FROM t ORDER BY id"));
  ASSERT_TRUE(sel.ok);
  const StmtResult& r = sel.response.stmt_result;
  ASSERT_EQ(r.cols.size(), 4u);
  EXPECT_EQ(r.cols[1].name, "name");
  EXPECT_EQ(r.cols[1].decltype_, "TEXT");
  EXPECT_FALSE(r.cols[3].decltype_.has_value());
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(std::get<std::string>(r.rows[0][1]), "a");
  EXPECT_TRUE(engine::IsNull(r.rows[1][2]));
  EXPECT_EQ(r.affected_row_count, 0u) << "a SELECT changes nothing, whatever ran before it";
  EXPECT_EQ(r.rows_read, 2u) << "a full scan of two rows";
  EXPECT_EQ(r.rows_written, 0u);
  EXPECT_FALSE(r.last_insert_rowid.has_value());
}

TEST_F(StreamTest, WantRowsFalseStillExecutes) {
  auto r = Execute("INSERT INTO t(name) VALUES ('x') RETURNING id");
  r.stmt.want_rows = false;
  auto res = Run(r);
  ASSERT_TRUE(res.ok);
  EXPECT_TRUE(res.response.stmt_result.rows.empty());
  EXPECT_EQ(res.response.stmt_result.affected_row_count, 1u);
}

TEST_F(StreamTest, NamedArgumentsMatchWithOrWithoutPrefix) {
  StreamRequest r = Execute("SELECT :a, @b, $c");
  r.stmt.named_args = {{"a", int64_t{1}}, {"@b", std::string("two")}, {"$c", 3.0}};
  auto res = Run(r);
  ASSERT_TRUE(res.ok) << res.error.message;
  const auto& row = res.response.stmt_result.rows.at(0);
  EXPECT_EQ(std::get<int64_t>(row[0]), 1);
  EXPECT_EQ(std::get<std::string>(row[1]), "two");
  EXPECT_EQ(std::get<double>(row[2]), 3.0);
  // As sqld: more named values than parameters is too many, even if the extra one matches nothing.
  r.stmt.named_args.push_back({"unused", int64_t{9}});
  res = Run(r);
  ASSERT_FALSE(res.ok);
  EXPECT_EQ(res.error.code, "ARGS_INVALID");
  EXPECT_NE(res.error.message.find("too many parameters, expected 3 found 4"), std::string::npos) << res.error.message;
}

// As sqld: a parameter left without a value is ARGS_INVALID, not NULL, except under EXPLAIN.
TEST_F(StreamTest, AParameterWithoutAValueIsAnError) {
  StreamRequest positional = Execute("SELECT ?, ?");
  positional.stmt.args = {int64_t{1}};
  auto res = Run(positional);
  ASSERT_FALSE(res.ok);
  EXPECT_EQ(res.error.code, "ARGS_INVALID");
  EXPECT_NE(res.error.message.find("value for parameter 2 not found"), std::string::npos) << res.error.message;

  res = Run(Execute("SELECT :a"));
  ASSERT_FALSE(res.ok);
  EXPECT_EQ(res.error.code, "ARGS_INVALID");
  EXPECT_NE(res.error.message.find("value for parameter :a not found"), std::string::npos) << res.error.message;

  StreamRequest named = Execute("SELECT :a, :b");
  named.stmt.named_args = {{"a", int64_t{1}}};
  res = Run(named);
  ASSERT_FALSE(res.ok);
  EXPECT_NE(res.error.message.find(":b"), std::string::npos) << res.error.message;

  EXPECT_TRUE(Run(Execute("EXPLAIN SELECT :a")).ok) << "EXPLAIN runs nothing: no values needed";
  StreamRequest numbered = Execute("SELECT ?2, ?1");
  numbered.stmt.args = {int64_t{1}, int64_t{2}};
  res = Run(numbered);
  ASSERT_TRUE(res.ok) << res.error.message;
  EXPECT_EQ(std::get<int64_t>(res.response.stmt_result.rows.at(0)[0]), 2);
  // As sqld: a positional value never fills a named parameter.
  StreamRequest mixed = Execute("SELECT ?1, :x");
  mixed.stmt.args = {int64_t{1}, int64_t{2}};
  res = Run(mixed);
  ASSERT_FALSE(res.ok);
  EXPECT_NE(res.error.message.find("value for parameter :x not found"), std::string::npos) << res.error.message;
}

TEST_F(StreamTest, RefusalsCarryTheProtocolCodes) {
  struct Case {
    StreamRequest request;
    const char* code;
  };
  StreamRequest both = Execute("SELECT ?, :a", {int64_t{1}});
  both.stmt.named_args = {{"a", int64_t{2}}};
  StreamRequest no_sql;
  no_sql.type = StreamRequest::Type::kExecute;
  Case cases[] = {
      {Execute("   -- nothing\n"), "SQL_NO_STATEMENT"},
      {Execute("SELECT 1; SELECT 2"), "SQL_MANY_STATEMENTS"},
      {Execute("SELECT ?", {int64_t{1}, int64_t{2}}), "ARGS_INVALID"},
      {both, "ARGS_BOTH_POSITIONAL_AND_NAMED"},
      {Execute("SELEC 1"), "SQL_PARSE_ERROR"},
      {Execute("SELECT nosuchcolumn FROM t"), "SQL_INPUT_ERROR"},
      {Execute("SELECT * FROM nowhere"), "SQLITE_UNKNOWN"},  // sqld's name for a plain SQLITE_ERROR
      {Execute("INSERT INTO t(name) VALUES (NULL)"), "SQLITE_CONSTRAINT"},
      {no_sql, "INVALID_REQUEST"},
  };
  for (const auto& c : cases) {
    auto res = Run(c.request);
    EXPECT_FALSE(res.ok) << c.code;
    EXPECT_EQ(res.error.code, c.code) << res.error.message;
    EXPECT_FALSE(res.error.message.empty());
  }
  // A trailing semicolon and comments are one statement, not many.
  EXPECT_TRUE(Run(Execute("SELECT 1; -- done\n ;")).ok);
}

TEST_F(StreamTest, ConstraintErrorsUseThePrimaryCodeName) {
  ASSERT_TRUE(Run(Execute("INSERT INTO t(id, name) VALUES (1, 'a')")).ok);
  auto dup = Run(Execute("INSERT INTO t(id, name) VALUES (1, 'b')"));
  ASSERT_FALSE(dup.ok);
  EXPECT_EQ(dup.error.code, "SQLITE_CONSTRAINT");
  EXPECT_NE(dup.error.message.find("UNIQUE constraint failed"), std::string::npos) << dup.error.message;
}

TEST_F(StreamTest, BatchConditionsDecideWhichStepsRun) {
  StreamRequest r;
  r.type = StreamRequest::Type::kBatch;
  auto step = [](std::string sql, std::optional<BatchCond> cond = std::nullopt) {
    BatchStep s;
    s.stmt.sql = std::move(sql);
    s.condition = std::move(cond);
    return s;
  };
  auto ok = [](uint32_t i) { return BatchCond{BatchCond::Kind::kOk, i, {}}; };
  auto error = [](uint32_t i) { return BatchCond{BatchCond::Kind::kError, i, {}}; };
  BatchCond not_ok1{BatchCond::Kind::kNot, 0, {ok(1)}};
  BatchCond autocommit{BatchCond::Kind::kIsAutocommit, 0, {}};
  r.batch.steps = {
      step("BEGIN"),                                                               // 0 ok
      step("INSERT INTO t(name) VALUES (NULL)", ok(0)),                            // 1 error
      step("SELECT 'after error'", error(1)),                                      // 2 ok
      step("SELECT 'skipped'", ok(1)),                                             // 3 not run
      step("ROLLBACK", not_ok1),                                                   // 4 ok
      step("SELECT 'and'", BatchCond{BatchCond::Kind::kAnd, 0, {ok(0), ok(4)}}),   // 5 ok
      step("SELECT 'or'", BatchCond{BatchCond::Kind::kOr, 0, {ok(3), error(3)}}),  // 6 not run
      step("SELECT 'autocommit'", autocommit),                                     // 7 ok: rolled back
  };
  auto res = Run(r);
  ASSERT_TRUE(res.ok);
  const BatchResult& b = res.response.batch_result;
  ASSERT_EQ(b.step_results.size(), 8u);
  std::vector<bool> ran_ok = {true, false, true, false, true, true, false, true};
  std::vector<bool> failed = {false, true, false, false, false, false, false, false};
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(b.step_results[i].has_value(), ran_ok[i]) << "step " << i;
    EXPECT_EQ(b.step_errors[i].has_value(), failed[i]) << "step " << i;
  }
  EXPECT_EQ(b.step_errors[1]->code, "SQLITE_CONSTRAINT");
  EXPECT_TRUE(writer_->autocommit());
}

TEST_F(StreamTest, SequenceRunsAScriptAndStopsAtTheFirstError) {
  StreamRequest seq;
  seq.type = StreamRequest::Type::kSequence;
  seq.sql = "INSERT INTO t(name) VALUES ('s1'); INSERT INTO t(name) VALUES ('s;2'); INSERT INTO t(name) VALUES (NULL); "
            "INSERT INTO t(name) VALUES ('never')";
  auto res = Run(seq);
  ASSERT_FALSE(res.ok);
  EXPECT_EQ(res.error.code, "SQLITE_CONSTRAINT");
  auto count = Run(Execute("SELECT count(*) FROM t"));
  EXPECT_EQ(std::get<int64_t>(count.response.stmt_result.rows.at(0).at(0)), 2);
}

TEST_F(StreamTest, DescribeReportsParamsColumnsAndFlags) {
  StreamRequest d;
  d.type = StreamRequest::Type::kDescribe;
  d.sql = "SELECT id, name FROM t WHERE id = :id AND name = ?2";
  auto res = Run(d);
  ASSERT_TRUE(res.ok) << res.error.message;
  const DescribeResult& r = res.response.describe_result;
  ASSERT_EQ(r.params.size(), 2u);
  EXPECT_EQ(r.params[0].name, ":id");
  EXPECT_EQ(r.params[1].name, "?2");
  ASSERT_EQ(r.cols.size(), 2u);
  EXPECT_EQ(r.cols[0].decltype_, "INTEGER");
  EXPECT_TRUE(r.is_readonly);
  EXPECT_FALSE(r.is_explain);
  d.sql = "EXPLAIN DELETE FROM t";
  res = Run(d);
  EXPECT_TRUE(res.response.describe_result.is_explain);
  d.sql = "DELETE FROM t";
  res = Run(d);
  EXPECT_FALSE(res.response.describe_result.is_readonly);
}

TEST_F(StreamTest, StoredSqlIsUsedByIdUntilClosed) {
  StreamRequest store;
  store.type = StreamRequest::Type::kStoreSql;
  store.sql_id = 5;
  store.sql = "SELECT 41 + 1";
  ASSERT_TRUE(Run(store).ok);
  EXPECT_EQ(Run(store).error.code, "SQL_ID_EXISTS");
  StreamRequest exec;
  exec.type = StreamRequest::Type::kExecute;
  exec.stmt.sql_id = 5;
  auto res = Run(exec);
  ASSERT_TRUE(res.ok);
  EXPECT_EQ(std::get<int64_t>(res.response.stmt_result.rows.at(0).at(0)), 42);
  StreamRequest close;
  close.type = StreamRequest::Type::kCloseSql;
  close.sql_id = 5;
  ASSERT_TRUE(Run(close).ok);
  EXPECT_EQ(Run(exec).error.code, "SQL_NOT_FOUND");
}

TEST_F(StreamTest, GetAutocommitFollowsTheTransaction) {
  StreamRequest get;
  get.type = StreamRequest::Type::kGetAutocommit;
  EXPECT_TRUE(Run(get).response.is_autocommit);
  ASSERT_TRUE(Run(Execute("BEGIN")).ok);
  EXPECT_FALSE(Run(get).response.is_autocommit);
  ASSERT_TRUE(Run(Execute("COMMIT")).ok);
  EXPECT_TRUE(Run(get).response.is_autocommit);
}

TEST_F(StreamTest, ClassifiesReadsAndWrites) {
  auto reader = db_->AcquireReader();
  ASSERT_TRUE(reader.ok());
  auto classify = [&](std::string sql) { return stream_.Classify(Execute(std::move(sql)), **reader); };
  EXPECT_EQ(classify("SELECT * FROM t"), Access::kRead);
  EXPECT_EQ(classify("WITH x AS (SELECT 1) SELECT * FROM x"), Access::kRead);
  EXPECT_EQ(classify("INSERT INTO t(name) VALUES ('a')"), Access::kWrite);
  EXPECT_EQ(classify("CREATE TABLE u(x)"), Access::kWrite);
  EXPECT_EQ(classify("BEGIN"), Access::kRead) << "a deferred transaction takes no lock; its first write will";
  EXPECT_EQ(classify("SAVEPOINT a"), Access::kRead);
  EXPECT_EQ(classify("BEGIN IMMEDIATE"), Access::kWrite);
  EXPECT_EQ(classify("BEGIN TRANSACTION READONLY"), Access::kRead);
  EXPECT_EQ(classify("SELECT * FROM not_yet_created"), Access::kWrite) << "unpreparable: let the writer decide";
  StreamRequest store;
  store.type = StreamRequest::Type::kStoreSql;
  EXPECT_EQ(stream_.Classify(store, **reader), Access::kNone);
}

TEST_F(StreamTest, AReadOnlyTransactionOnAReaderRefusesWrites) {
  auto reader = db_->AcquireReader();
  ASSERT_TRUE(reader.ok());
  SqlStore sqls;
  Stream s(&sqls);
  ASSERT_TRUE(s.Handle(Execute("BEGIN TRANSACTION READONLY"), reader->get()).ok);
  EXPECT_EQ(s.Classify(Execute("INSERT INTO t(name) VALUES ('no')"), **reader), Access::kRead)
      << "a write inside a READONLY transaction must not ask for the write lock";
  auto w = s.Handle(Execute("INSERT INTO t(name) VALUES ('no')"), reader->get());
  ASSERT_FALSE(w.ok);
  EXPECT_EQ(w.error.code, "SQLITE_READONLY");
  ASSERT_TRUE(s.Handle(Execute("COMMIT"), reader->get()).ok);
  EXPECT_EQ(s.Classify(Execute("INSERT INTO t(name) VALUES ('yes')"), **reader), Access::kWrite)
      << "the READONLY transaction is over";
}

// Stored SQL is bounded per text (--max-sql-length, as SQLITE_TOOBIG like an execute of it) and in
// total (--max-stored-sql-size); closing a text gives its bytes back.
TEST(SqlStoreTest, BoundsEachTextAndTheTotal) {
  SqlStore sqls;
  sqls.set_limits(/*max_text_bytes=*/100, /*max_total_bytes=*/250);
  auto too_long = sqls.Store(1, std::string(101, 'x'));
  ASSERT_TRUE(too_long);
  EXPECT_EQ(too_long->code, "SQLITE_TOOBIG");
  EXPECT_FALSE(sqls.Store(1, std::string(100, 'x'))) << "exactly the limit is allowed";
  EXPECT_FALSE(sqls.Store(2, std::string(100, 'x')));
  auto full = sqls.Store(3, std::string(51, 'x'));
  ASSERT_TRUE(full);
  EXPECT_EQ(full->code, "SQL_STORE_TOO_LARGE");
  EXPECT_FALSE(sqls.Store(3, std::string(50, 'x'))) << "up to the total exactly";
  EXPECT_EQ(sqls.total_bytes(), 250u);
  EXPECT_EQ(sqls.Find(4), nullptr);
  sqls.Close(2);
  sqls.Close(2);  // closing twice gives back once
  EXPECT_EQ(sqls.total_bytes(), 150u);
  EXPECT_FALSE(sqls.Store(4, std::string(100, 'x'))) << "closed bytes can be stored again";
  EXPECT_EQ(sqls.size(), 3u);
}

// Counts a batch's output as a cursor sees it, entry by entry.
class EntryCounter : public BatchSink {
 public:
  void StepBegin(uint32_t) override {}
  void Begin(std::vector<Col>) override { log.push_back("begin"); }
  void Row(std::vector<Value> row) override {
    log.push_back("row");
    last = std::get<int64_t>(row[0]);
  }
  void End(const StmtEnd&) override { log.push_back("end"); }
  void StepError(uint32_t step, Error error) override { log.push_back("error " + std::to_string(step) + " " + error.code); }
  std::vector<std::string> log;
  int64_t last = 0;
};

// A cursor's batch runs a few entries at a time, the statement paused between runs, and its output
// is RunBatch's: conditions, errors and all.
TEST_F(StreamTest, ABatchCursorRunsInSlicesWithTheSameOutput) {
  Batch batch;
  auto step = [](std::string sql, std::optional<BatchCond> cond = std::nullopt) {
    BatchStep s;
    s.stmt.sql = std::move(sql);
    s.condition = std::move(cond);
    return s;
  };
  batch.steps = {
      step("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 1000) SELECT n FROM c"),
      step("SELECT * FROM no_such_table"),
      step("SELECT 1", BatchCond{BatchCond::Kind::kOk, 1, {}}),
      step("SELECT 2", BatchCond{BatchCond::Kind::kError, 1, {}}),
  };
  BatchCursor cursor(stream_, batch);
  EntryCounter sink;
  int runs = 0;
  size_t before = 0;
  while (!cursor.Run(*writer_, sink, [&] { return sink.log.size() >= before + 10; })) {
    before = sink.log.size();
    ASSERT_LT(++runs, 1000);
  }
  EXPECT_GE(runs, 100) << "ten entries a run";
  ASSERT_EQ(sink.log.size(), 1u + 1000u + 1u + 1u + 3u);
  EXPECT_EQ(sink.log.front(), "begin");
  EXPECT_EQ(sink.log[1001], "end");
  EXPECT_EQ(sink.log[1002].rfind("error 1 ", 0), 0u) << sink.log[1002];
  EXPECT_EQ(sink.last, 2) << "step 2 skipped, step 3 ran";
  EXPECT_TRUE(cursor.done());
}

// Abandoning a cursor mid-statement lets the statement go: the connection is free for others.
TEST_F(StreamTest, AnAbandonedBatchCursorLetsItsStatementGo) {
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Run(Execute("INSERT INTO t(name) VALUES ('r" + std::to_string(i) + "')")).ok);
  Batch batch;
  BatchStep s;
  s.stmt.sql = "SELECT id FROM t";
  batch.steps.push_back(s);
  BatchCursor cursor(stream_, batch);
  EntryCounter sink;
  EXPECT_FALSE(cursor.Run(*writer_, sink, [&] { return sink.log.size() >= 5; }));
  EXPECT_NE(writer_->txn_state(), SQLITE_TXN_NONE) << "the paused statement holds its read";
  cursor.Abandon();
  EXPECT_TRUE(cursor.done());
  EXPECT_EQ(writer_->txn_state(), SQLITE_TXN_NONE);
  EXPECT_TRUE(Run(Execute("INSERT INTO t(name) VALUES ('after')")).ok);
}

}  // namespace
}  // namespace litehouse::protocol
