// The vector index benchmark (bench/vector_index.sh, `make bench`): N random vectors of D
// dimensions, uniform in [-1, 1], inserted into a table with and without a vector index, then Q
// random queries answered by exact search (ORDER BY vector_distance_cos(...) LIMIT 10, a full scan)
// and by vector_top_k on the index; recall@10 is the share of the exact top 10 that the index
// returns. Runs in process on an engine connection (the server's statement path: the same
// recogniser, triggers and virtual table), on a file in DIR.
//
//   vector_index DIR N D Q 'index options'      e.g. vector_index /tmp/x 100000 128 100 "'compress_neighbors=float8'"
// prints one `RESULT key=value ...` line.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/connection.h"

namespace {

using litehouse::engine::Connection;
using litehouse::engine::Role;
using Clock = std::chrono::steady_clock;

void Check(const litehouse::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

std::string RandomBlob(std::mt19937* rng, int dims) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::string blob(static_cast<size_t>(dims) * 4, '\0');
  for (int i = 0; i < dims; ++i) {
    float f = u(*rng);
    std::memcpy(blob.data() + 4 * i, &f, 4);
  }
  return blob;
}

// Runs `sql` with `blob` bound to ?1 and returns the first column of every row.
std::vector<int64_t> Ids(Connection* conn, const std::string& sql, const std::string& blob) {
  size_t tail = 0;
  auto st = conn->PrepareCached(sql, &tail);
  Check(st.status(), "prepare");
  Check(st->Bind(1, litehouse::engine::Blob{blob}), "bind");
  std::vector<int64_t> out;
  for (int i = 0; i < 1000; ++i) {
    auto row = st->Step();
    Check(row.status(), sql.c_str());
    if (!*row) break;
    out.push_back(std::get<int64_t>(st->column(0)));
  }
  return out;
}

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

// Inserts n vectors (seeded) into t, committing every 1000; returns the seconds taken.
double Fill(Connection* conn, int n, int dims) {
  std::mt19937 rng(1);
  const auto start = Clock::now();
  size_t tail = 0;
  for (int i = 0; i < n; ++i) {
    if (i % 1000 == 0) Check(conn->Exec(i ? "COMMIT; BEGIN" : "BEGIN"), "begin");
    auto st = conn->PrepareCached("INSERT INTO t(emb) VALUES (?1)", &tail);
    Check(st.status(), "prepare insert");
    Check(st->Bind(1, litehouse::engine::Blob{RandomBlob(&rng, dims)}), "bind");
    Check(st->Step().status(), "insert");
  }
  Check(conn->Exec("COMMIT"), "commit");
  return Seconds(start);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: vector_index DIR N D Q 'index options'\n");
    return 2;
  }
  const std::string dir = argv[1];
  const int n = std::atoi(argv[2]), dims = std::atoi(argv[3]), queries = std::atoi(argv[4]);
  const std::string options = argv[5];
  const std::string type = "F32_BLOB(" + std::to_string(dims) + ")";

  auto plain = Connection::Open(dir + "/plain.db", Role::kStandalone);
  Check(plain.status(), "open");
  Check((*plain)->Exec(("CREATE TABLE t(emb " + type + ")").c_str()), "create");
  const double plain_insert = Fill(plain->get(), n, dims);

  auto indexed = Connection::Open(dir + "/indexed.db", Role::kStandalone);
  Check(indexed.status(), "open");
  Check((*indexed)->Exec(("CREATE TABLE t(emb " + type + ")").c_str()), "create");
  size_t tail = 0;
  const std::string create = "CREATE INDEX t_idx ON t(libsql_vector_idx(emb" + (options.empty() ? "" : ", " + options) + "))";
  {
    auto st = (*indexed)->Prepare(create, &tail);
    Check(st.status(), "create index");
    Check(st->Step().status(), "create index");
  }
  const double indexed_insert = Fill(indexed->get(), n, dims);

  std::mt19937 rng(2);
  std::vector<std::string> qs;
  for (int i = 0; i < queries; ++i) qs.push_back(RandomBlob(&rng, dims));
  std::vector<std::vector<int64_t>> truth;
  auto start = Clock::now();
  for (const std::string& q : qs) {
    truth.push_back(Ids(plain->get(), "SELECT rowid FROM t ORDER BY vector_distance_cos(emb, ?1) LIMIT 10", q));
  }
  const double exact_query = Seconds(start) / queries;
  size_t hits = 0;
  start = Clock::now();
  std::vector<std::vector<int64_t>> found;
  for (const std::string& q : qs) found.push_back(Ids(indexed->get(), "SELECT id FROM vector_top_k('t_idx', ?1, 10)", q));
  const double index_query = Seconds(start) / queries;
  for (int i = 0; i < queries; ++i) {
    std::set<int64_t> t(truth[i].begin(), truth[i].end());
    for (int64_t id : found[i]) hits += t.count(id);
  }
  std::printf("RESULT n=%d dims=%d queries=%d recall_at_10=%.4f exact_query_ms=%.3f index_query_ms=%.3f "
              "plain_insert_us=%.1f indexed_insert_us=%.1f\n",
              n, dims, queries, static_cast<double>(hits) / (10.0 * queries), exact_query * 1e3, index_query * 1e3,
              plain_insert / n * 1e6, indexed_insert / n * 1e6);
  return 0;
}
