// One behaviour suite, four backends: the client library's promises hold the same for a database in
// memory, a local file, and a Litehouse server over HTTP and over WebSocket (the real binary,
// started here).
#include "litehouse/client.h"

#include <gtest/gtest.h>

#include <filesystem>

#include <cmath>
#include <cstdlib>
#include <limits>

#include "../support/server_process.h"
#include "test_dir.h"

namespace litehouse {
namespace {

enum class Backend { kMemory, kFile, kHttp, kWs, kHttps, kWss };

std::string Name(const ::testing::TestParamInfo<Backend>& info) {
  switch (info.param) {
    case Backend::kMemory: return "Memory";
    case Backend::kFile: return "File";
    case Backend::kHttp: return "Http";
    case Backend::kWs: return "WebSocket";
    case Backend::kHttps: return "Https";
    case Backend::kWss: return "SecureWebSocket";
  }
  return "Unknown";
}

class ClientTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    switch (GetParam()) {
      case Backend::kMemory: url_ = ":memory:"; break;
      case Backend::kFile: url_ = "file:" + dir_.file("client.db"); break;
      case Backend::kHttp:
      case Backend::kWs:
        server_ = std::make_unique<testing::ServerProcess>(LITEHOUSE_BIN, dir_.file("server"));
        ASSERT_NE(server_->port(), 0) << "the server did not start";
        url_ = (GetParam() == Backend::kWs ? "ws://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(server_->port());
        break;
      case Backend::kHttps:
      case Backend::kWss: {
        // The server behind a TLS terminator with a certificate made here for 127.0.0.1, trusted
        // through SSL_CERT_FILE as a system CA would be.
        server_ = std::make_unique<testing::ServerProcess>(LITEHOUSE_BIN, dir_.file("server"));
        ASSERT_NE(server_->port(), 0) << "the server did not start";
        std::string key = dir_.file("key.pem"), cert = dir_.file("cert.pem");
        std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext "
                          "subjectAltName=IP:127.0.0.1 -keyout " + key + " -out " + cert + " 2>/dev/null";
        ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl could not make a certificate";
        proxy_ = std::make_unique<testing::ChildProcess>(std::vector<std::string>{
            "node", LITEHOUSE_SOURCE_DIR "/tests/support/tls_proxy.mjs", key, cert, std::to_string(server_->port())});
        ASSERT_NE(proxy_->port(), 0) << "the TLS proxy did not start";
        setenv("SSL_CERT_FILE", cert.c_str(), 1);
        url_ = (GetParam() == Backend::kWss ? "wss://127.0.0.1:" : "https://127.0.0.1:") + std::to_string(proxy_->port());
        break;
      }
    }
    client_ = Connect();
    ASSERT_TRUE(client_);
    ASSERT_TRUE(client_->Execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v, name TEXT UNIQUE)").ok());
  }
  std::unique_ptr<Client> Connect() {
    auto c = Client::Open({url_});
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }
  int64_t Count(Client& c) {
    auto rs = c.Execute("SELECT count(*) FROM t");
    EXPECT_TRUE(rs.ok()) << rs.status().ToString();
    return rs.ok() ? std::get<int64_t>(rs->rows.at(0)[0]) : -1;
  }
  bool SharesData() const { return GetParam() != Backend::kMemory; }

  testing::TestDir dir_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<testing::ChildProcess> proxy_;  // TLS in front of server_
  std::string url_;
  std::unique_ptr<Client> client_;
};

TEST_P(ClientTest, ValuesRoundTripAtTheEdges) {
  std::vector<Value> values = {int64_t{std::numeric_limits<int64_t>::min()},
                               int64_t{std::numeric_limits<int64_t>::max()},
                               0.1,
                               -0.0,
                               1e308,
                               std::string("emb\0edded", 9),
                               std::string("héllo 🌍"),
                               Blob{""},
                               Blob{std::string("\x00\x01\xff", 3)},
                               std::monostate{}};
  for (const Value& v : values) {
    ASSERT_TRUE(client_->Execute({"INSERT INTO t(v) VALUES (?)", {v}}).ok());
  }
  auto rs = client_->Execute("SELECT v, typeof(v) FROM t ORDER BY id");
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  ASSERT_EQ(rs->rows.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(rs->rows[i][0], values[i]) << "value " << i;
  }
  EXPECT_EQ(std::get<std::string>(rs->rows[7][1]), "blob") << "an empty blob stays a blob";
  // NaN cannot be stored: SQLite binds it as NULL, and so does every backend.
  ASSERT_TRUE(client_->Execute({"INSERT INTO t(id, v) VALUES (100, ?)", {std::nan("")}}).ok());
  auto nan = client_->Execute("SELECT v IS NULL FROM t WHERE id = 100");
  ASSERT_TRUE(nan.ok());
  EXPECT_EQ(std::get<int64_t>(nan->rows.at(0)[0]), 1);
}

// libSQL's vector functions exist on every backend: the engine registers them on each connection
// it opens, the client library's local files and memory databases included.
TEST_P(ClientTest, LibsqlVectorFunctionsAreThere) {
  auto rs = client_->Execute(
      "SELECT hex(vector32('[1,2]')), vector_extract(vector64('[0.5,-2]')), vector_distance_l2('[0,0]', '[3,4]')");
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  ASSERT_EQ(rs->rows.size(), 1u);
  EXPECT_EQ(rs->rows[0][0], Value(std::string("0000803F00000040")));
  EXPECT_EQ(rs->rows[0][1], Value(std::string("[0.5,-2]")));
  EXPECT_EQ(rs->rows[0][2], Value(5.0));
  auto bad = client_->Execute("SELECT vector32(NULL)");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("vector: unexpected value type: got NULL, expected TEXT or BLOB"), std::string::npos)
      << bad.status().message();
}

// A vector index on every backend: CREATE INDEX ... libsql_vector_idx, vector_top_k joined with the
// table, kept by writes, in a transaction (the local engine's connections and the server's alike).
TEST_P(ClientTest, VectorIndexesWorkOnEveryBackend) {
  auto made = client_->Batch({Statement("CREATE TABLE docs(body TEXT, emb F32_BLOB(2))"),
                              Statement("CREATE INDEX docs_idx ON docs(libsql_vector_idx(emb, 'metric=l2'))"),
                              Statement("INSERT INTO docs VALUES ('a', vector32('[0,0]')), ('b', vector32('[5,5]')), ('c', vector32('[1,1]'))")});
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  const char* top = "SELECT body FROM vector_top_k('docs_idx', vector32(?), 2) AS top JOIN docs ON docs.rowid = top.id";
  auto rs = client_->Execute(Statement(top, {std::string("[0.9,0.9]")}));
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  ASSERT_EQ(rs->rows.size(), 2u);
  EXPECT_EQ(rs->rows[0][0], Value(std::string("c")));
  EXPECT_EQ(rs->rows[1][0], Value(std::string("a")));
  auto tx = client_->Batch({Statement("DELETE FROM docs WHERE body = 'c'"), Statement("UPDATE docs SET emb = vector32('[1,1]') WHERE body = 'b'")});
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  rs = client_->Execute(Statement(top, {std::string("[0.9,0.9]")}));
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  ASSERT_EQ(rs->rows.size(), 2u);
  EXPECT_EQ(rs->rows[0][0], Value(std::string("b")));
  auto bad = client_->Execute("SELECT id FROM vector_top_k('docs_idx', vector32('[1,2,3]'), 2)");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("dimensions are different: 3 != 2"), std::string::npos) << bad.status().message();
}

TEST_P(ClientTest, ResultsCarryColumnsCountsAndRowids) {
  auto ins = client_->Execute(Statement::Named("INSERT INTO t(v, name) VALUES (:v, $n)", {{"v", int64_t{5}}, {"$n", std::string("a")}}));
  ASSERT_TRUE(ins.ok()) << ins.status().ToString();
  EXPECT_EQ(ins->rows_affected, 1u);
  EXPECT_EQ(ins->last_insert_rowid, 1);
  auto rs = client_->Execute("SELECT id, name, v * 2 AS twice FROM t");
  ASSERT_TRUE(rs.ok());
  ASSERT_EQ(rs->columns.size(), 3u);
  EXPECT_EQ(rs->columns[0].decl_type, "INTEGER");
  EXPECT_EQ(rs->columns[2].name, "twice");
  EXPECT_FALSE(rs->columns[2].decl_type.has_value());
  ASSERT_EQ(rs->rows.size(), 1u);
  EXPECT_EQ(*rs->rows[0].Get("name"), Value(std::string("a")));
  EXPECT_EQ(*rs->rows[0].Get("twice"), Value(int64_t{10}));
  EXPECT_EQ(rs->rows[0].Get("missing"), nullptr);
}

TEST_P(ClientTest, ErrorsCarryTheCodeNameAServerReports) {
  auto syntax = client_->Execute("SELEC 1");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.status().code_name(), "SQL_PARSE_ERROR");
  ASSERT_TRUE(client_->Execute("INSERT INTO t(name) VALUES ('x')").ok());
  auto dup = client_->Execute("INSERT INTO t(name) VALUES ('x')");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().code_name(), "SQLITE_CONSTRAINT");
  EXPECT_NE(dup.status().message().find("UNIQUE"), std::string::npos) << dup.status().message();
}

TEST_P(ClientTest, ABatchAppliesEverythingOrNothing) {
  auto ok = client_->Batch({"INSERT INTO t(name) VALUES ('a')", "INSERT INTO t(name) VALUES ('b')", "SELECT count(*) FROM t"},
                           TransactionMode::kWrite);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  ASSERT_EQ(ok->size(), 3u);
  EXPECT_EQ(std::get<int64_t>((*ok)[2].rows.at(0)[0]), 2);
  auto bad = client_->Batch({"INSERT INTO t(name) VALUES ('c')", "INSERT INTO t(name) VALUES ('a')"}, TransactionMode::kWrite);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code_name(), "SQLITE_CONSTRAINT");
  EXPECT_EQ(Count(*client_), 2) << "the failed batch left nothing behind";
}

TEST_P(ClientTest, TransactionsCommitRollBackAndRollBackWhenDropped) {
  {
    auto tx = client_->BeginTransaction(TransactionMode::kWrite);
    ASSERT_TRUE(tx.ok()) << tx.status().ToString();
    ASSERT_TRUE((*tx)->Execute("INSERT INTO t(name) VALUES ('kept')").ok());
    ASSERT_TRUE((*tx)->Commit().ok());
    EXPECT_EQ((*tx)->Execute("SELECT 1").status().code_name(), "TRANSACTION_CLOSED");
  }
  {
    auto tx = client_->BeginTransaction(TransactionMode::kWrite);
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE((*tx)->Execute("INSERT INTO t(name) VALUES ('undone')").ok());
    ASSERT_TRUE((*tx)->Rollback().ok());
  }
  {
    auto tx = client_->BeginTransaction(TransactionMode::kWrite);
    ASSERT_TRUE(tx.ok());
    ASSERT_TRUE((*tx)->Execute("INSERT INTO t(name) VALUES ('dropped')").ok());
  }  // destroyed unfinished: rolled back
  auto rs = client_->Execute("SELECT name FROM t");
  ASSERT_TRUE(rs.ok());
  ASSERT_EQ(rs->rows.size(), 1u);
  EXPECT_EQ(rs->rows[0][0], Value(std::string("kept")));
}

TEST_P(ClientTest, AStatementOfTheClientLeavesItsOpenTransactionAlone) {
  // On a local database the Client's statements share the transaction's connection: closing their
  // own stream must not roll back the Transaction's.
  auto tx = client_->BeginTransaction(TransactionMode::kWrite);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  ASSERT_TRUE((*tx)->Execute("INSERT INTO t(name) VALUES ('in tx')").ok());
  ASSERT_TRUE(client_->Execute("SELECT 1").ok());
  ASSERT_TRUE((*tx)->Commit().ok());
  EXPECT_EQ(Count(*client_), 1);
}

TEST_P(ClientTest, ASessionRunsStatementsInOrderAndReportsTheFirstFailure) {
  auto session = client_->OpenSession();
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  auto in_txn = (*session)->InTransaction();
  ASSERT_TRUE(in_txn.ok()) << in_txn.status().ToString();
  EXPECT_FALSE(*in_txn);
  SequenceResult r = (*session)->ExecuteInOrder({"BEGIN", "INSERT INTO t(name) VALUES ('a')", "SELECT count(*) FROM t",
                                                 "INSERT INTO t(name) VALUES ('a')", "INSERT INTO t(name) VALUES ('never')"});
  EXPECT_EQ(r.status.code_name(), "SQLITE_CONSTRAINT");
  ASSERT_TRUE(r.failed_index.has_value());
  EXPECT_EQ(*r.failed_index, 3u);
  ASSERT_EQ(r.results.size(), 3u);
  EXPECT_EQ(r.results[2].rows.at(0)[0], Value(int64_t{1}));
  in_txn = (*session)->InTransaction();
  ASSERT_TRUE(in_txn.ok());
  EXPECT_TRUE(*in_txn) << "the session's BEGIN holds across requests";
  ASSERT_TRUE((*session)->Execute("COMMIT").ok());
  EXPECT_EQ(Count(*client_), 1);
  // A session dropped inside a transaction rolls it back.
  ASSERT_TRUE((*session)->Execute("BEGIN").ok());
  ASSERT_TRUE((*session)->Execute("INSERT INTO t(name) VALUES ('dropped')").ok());
  session->reset();
  EXPECT_EQ(Count(*client_), 1);
}

TEST_P(ClientTest, DumpGivesTheDatabaseAsSqlText) {
  ASSERT_TRUE(client_->Execute("INSERT INTO t(v, name) VALUES (X'00ff', 'it''s')").ok());
  std::string dump;
  Status s = client_->Dump([&](std::string_view chunk) {
    dump.append(chunk);
    return Status::OK();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(dump,
            "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n"
            "CREATE TABLE t(id INTEGER PRIMARY KEY, v, name TEXT UNIQUE);\n"
            "INSERT INTO t VALUES(1,X'00ff','it''s');\nCOMMIT;\n");
  // A failing sink stops the dump with its own error.
  s = client_->Dump([](std::string_view) { return Status::IoError("disk full"); });
  EXPECT_EQ(s.message(), "disk full");
}

TEST_P(ClientTest, ExecuteMultipleRunsAScriptUntilTheFirstError) {
  ASSERT_TRUE(client_->ExecuteMultiple("INSERT INTO t(name) VALUES ('s1'); INSERT INTO t(name) VALUES ('s;2');").ok());
  Status s = client_->ExecuteMultiple("INSERT INTO t(name) VALUES ('s3'); INSERT INTO t(name) VALUES ('s1'); INSERT INTO t(name) VALUES ('s4')");
  EXPECT_EQ(s.code_name(), "SQLITE_CONSTRAINT");
  EXPECT_EQ(Count(*client_), 3);
}

TEST_P(ClientTest, AnOpenTransactionIsInvisibleToAnotherClient) {
  if (!SharesData()) {
    // Two clients of ":memory:" are two databases: there is nothing to isolate. Asserted, not skipped.
    auto other = Connect();
    EXPECT_FALSE(other->Execute("SELECT count(*) FROM t").ok()) << "a second :memory: client has its own database";
    return;
  }
  auto other = Connect();
  auto tx = client_->BeginTransaction(TransactionMode::kWrite);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  ASSERT_TRUE((*tx)->Execute("INSERT INTO t(name) VALUES ('pending')").ok());
  EXPECT_EQ(Count(*other), 0) << "not visible before commit";
  ASSERT_TRUE((*tx)->Commit().ok());
  EXPECT_EQ(Count(*other), 1);
}

TEST_P(ClientTest, ALostServerIsAnErrorNeverACrash) {
  if (!server_) {
    // A local database has no server to lose: its transaction simply goes on. Asserted, not skipped.
    auto tx = client_->BeginTransaction(TransactionMode::kWrite);
    ASSERT_TRUE(tx.ok());
    EXPECT_TRUE((*tx)->Execute("SELECT 1").ok());
    return;
  }
  auto tx = client_->BeginTransaction(TransactionMode::kWrite);
  ASSERT_TRUE(tx.ok()) << tx.status().ToString();
  ASSERT_TRUE((*tx)->Execute("INSERT INTO t(name) VALUES ('in flight')").ok());
  server_.reset();  // SIGTERM: the server goes away with the transaction open
  auto lost = (*tx)->Execute("SELECT 1");
  EXPECT_FALSE(lost.ok());
  auto again = (*tx)->Execute("SELECT 1");
  EXPECT_FALSE(again.ok()) << "the stream is gone for good";
  EXPECT_FALSE((*tx)->Commit().ok());
  auto fresh = client_->Execute("SELECT 1");
  EXPECT_FALSE(fresh.ok()) << "nobody is listening any more";
}

INSTANTIATE_TEST_SUITE_P(Backends, ClientTest, ::testing::Values(Backend::kMemory, Backend::kFile, Backend::kHttp, Backend::kWs,
                                           Backend::kHttps, Backend::kWss),
                         Name);

// A local file checkpoints as SQLite does by default: loading many transactions (what `litehouse
// shell file.db < dump.sql` does) does not leave a WAL the size of everything loaded.
TEST(ClientLocalFile, TheWalIsCheckpointedAsItGrows) {
  testing::TestDir dir;
  std::string path = dir.file("local.db");
  auto c = Client::Open({"file:" + path});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE((*c)->Execute("CREATE TABLE big(b BLOB)").ok());
  for (int i = 0; i < 3000; ++i) {  // 3000 transactions of one 4 KiB page each: 12 MiB through the WAL
    ASSERT_TRUE((*c)->Execute({"INSERT INTO big VALUES (randomblob(4000))"}).ok());
  }
  std::error_code ec;
  auto wal = std::filesystem::file_size(path + "-wal", ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_LT(wal, 8u << 20) << "the WAL holds " << wal << " bytes: it was never checkpointed";
  auto db = std::filesystem::file_size(path, ec);
  EXPECT_GT(db, 8u << 20) << "the pages reached the database file";
}

TEST(ClientOpen, RefusesWhatItCannotServe) {
  EXPECT_TRUE(Client::Open({"ftp://example.com"}).status().IsInvalidArgument());

  EXPECT_TRUE(Client::Open({""}).status().IsInvalidArgument());
  EXPECT_TRUE(Client::Open({"http://"}).status().IsInvalidArgument());
}

TEST(ClientOpen, ACertificateNotTrustedIsRefused) {
  // A TLS server whose certificate no trusted CA signed: the handshake fails, nothing is sent.
  testing::TestDir dir;
  testing::ServerProcess server(LITEHOUSE_BIN, dir.file("server"));
  ASSERT_NE(server.port(), 0);
  std::string key = dir.file("key.pem"), cert = dir.file("cert.pem"), other = dir.file("other.pem");
  std::string make = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext "
                     "subjectAltName=IP:127.0.0.1 2>/dev/null -keyout ";
  ASSERT_EQ(std::system((make + key + " -out " + cert).c_str()), 0);
  ASSERT_EQ(std::system((make + dir.file("other-key.pem") + " -out " + other).c_str()), 0);
  testing::ChildProcess proxy(std::vector<std::string>{"node", LITEHOUSE_SOURCE_DIR "/tests/support/tls_proxy.mjs", key,
                                                       cert, std::to_string(server.port())});
  ASSERT_NE(proxy.port(), 0);
  setenv("SSL_CERT_FILE", other.c_str(), 1);  // trusts another certificate, not the proxy's
  for (std::string scheme : {"https://", "wss://"}) {
    auto c = Client::Open({scheme + "127.0.0.1:" + std::to_string(proxy.port())});
    ASSERT_TRUE(c.ok());
    auto rs = (*c)->Execute("SELECT 1");
    ASSERT_FALSE(rs.ok()) << scheme;
    EXPECT_NE(rs.status().message().find("TLS handshake"), std::string::npos) << rs.status().message();
  }
}

// The output of a command, or "" if it failed.
std::string Capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  if (pclose(p) != 0) return "";
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

TEST(ClientOpen, TheAuthTokenIsSentAndRequired) {
  testing::TestDir dir;
  std::string bin = LITEHOUSE_BIN;
  ASSERT_FALSE(Capture(bin + " token keygen --dir " + dir.file("keys") + " 2>/dev/null").empty());
  std::string token = Capture(bin + " token create --key " + dir.file("keys") + "/jwt_private.pem");
  ASSERT_FALSE(token.empty());
  testing::ChildProcess server(std::vector<std::string>{bin, "serve", "--db-path", dir.file("server"), "--http-listen-addr",
                                                        "127.0.0.1:0", "--auth-jwt-key-file",
                                                        dir.file("keys") + "/jwt_public.pem"});
  ASSERT_NE(server.port(), 0);
  for (std::string scheme : {"http://", "ws://"}) {
    std::string url = scheme + "127.0.0.1:" + std::to_string(server.port());
    auto anonymous = Client::Open({url});
    ASSERT_TRUE(anonymous.ok());
    auto refused = (*anonymous)->Execute("SELECT 1");
    ASSERT_FALSE(refused.ok()) << scheme;
    EXPECT_EQ(refused.status().code(), StatusCode::kUnauthenticated) << refused.status().ToString();
    EXPECT_EQ(refused.status().code_name(), "UNAUTHORIZED");
    auto authed = Client::Open({url, token});
    ASSERT_TRUE(authed.ok());
    auto rs = (*authed)->Execute("SELECT 6 * 7");
    ASSERT_TRUE(rs.ok()) << scheme << rs.status().ToString();
    EXPECT_EQ(rs->rows.at(0)[0], Value(int64_t{42}));
  }
}

TEST(ClientOpen, AnUnreachableServerIsAnErrorNotAHang) {
  auto c = Client::Open({"http://127.0.0.1:1"});
  ASSERT_TRUE(c.ok()) << "not contacted until the first request";
  auto rs = (*c)->Execute("SELECT 1");
  ASSERT_FALSE(rs.ok());
  EXPECT_EQ(rs.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace litehouse
