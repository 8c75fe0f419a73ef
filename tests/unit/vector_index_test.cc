// The vector index's graph (vector/index_graph.h) over an in-memory store, and libSQL's options
// (vector/index_settings.h): recall against exact search, deletes, and the option errors of libSQL's
// test/libsql_vector_index.test.
#include "vector/index_graph.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <cstring>
#include <set>

#include "vector/distance.h"
#include "vector/index_distance.h"
#include "vector/index_settings.h"

namespace litehouse::vector {
namespace {

class MemoryStore : public NodeStore {
 public:
  Result<bool> Get(int64_t id, Node* node) override {
    auto it = nodes_.find(id);
    if (it == nodes_.end()) return false;
    *node = it->second;
    return true;
  }
  Status Put(int64_t id, const Node& node) override {
    nodes_[id] = node;
    return Status::OK();
  }
  Status Remove(int64_t id) override {
    nodes_.erase(id);
    return Status::OK();
  }
  Result<std::optional<int64_t>> Entry() override {
    if (nodes_.empty()) return std::optional<int64_t>();
    return std::optional<int64_t>(nodes_.begin()->first);
  }
  Result<std::optional<int64_t>> EntryAfter(int64_t id) override {
    auto it = nodes_.upper_bound(id);
    if (it == nodes_.end()) return std::optional<int64_t>();
    return std::optional<int64_t>(it->first);
  }
  const std::map<int64_t, Node>& nodes() const { return nodes_; }
  std::map<int64_t, Node>& mutable_nodes() { return nodes_; }

 private:
  std::map<int64_t, Node> nodes_;
};

Vector RandomVector(std::mt19937* rng, uint32_t dims) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Vector v(Type::kFloat32, dims);
  for (uint32_t i = 0; i < dims; ++i) {
    float f = u(*rng);
    std::memcpy(v.data() + 4 * i, &f, 4);
  }
  return v;
}

// Recall@k of the graph against exact search over `vectors` (id = index + 1), for `queries`.
double Recall(Graph* graph, const std::vector<Vector>& vectors, const std::vector<Vector>& queries, Metric metric, uint32_t k) {
  size_t hits = 0;
  for (const Vector& q : queries) {
    std::vector<std::pair<float, int64_t>> exact;
    for (size_t i = 0; i < vectors.size(); ++i) {
      const float d = metric == Metric::kCosine ? DistanceCos(q.ref(), vectors[i].ref()) : DistanceL2(q.ref(), vectors[i].ref());
      exact.push_back({d, static_cast<int64_t>(i + 1)});
    }
    std::partial_sort(exact.begin(), exact.begin() + k, exact.end());
    std::set<int64_t> truth;
    for (uint32_t i = 0; i < k; ++i) truth.insert(exact[i].second);
    auto found = graph->Search(q.ref(), k);
    EXPECT_TRUE(found.ok());
    for (const Neighbor& n : *found) hits += truth.count(n.id);
  }
  return static_cast<double>(hits) / static_cast<double>(queries.size() * k);
}

struct RecallCase {
  Metric metric;
  Type edge_type;
};

class GraphRecall : public ::testing::TestWithParam<RecallCase> {};

TEST_P(GraphRecall, FindsTheNearestAsExactSearchDoes) {
  std::mt19937 rng(42);
  GraphSettings s;
  s.dims = 32;
  s.metric = GetParam().metric;
  s.edge_type = GetParam().edge_type;
  s.max_neighbors = DefaultMaxNeighbors(s.dims);
  s.search_l = 100;
  MemoryStore store;
  Graph graph(s, &store);
  std::vector<Vector> vectors;
  for (int i = 0; i < 2000; ++i) {
    vectors.push_back(RandomVector(&rng, s.dims));
    ASSERT_TRUE(graph.Insert(i + 1, vectors.back().ref()).ok());
  }
  for (const auto& [id, node] : store.nodes()) ASSERT_LE(node.edge_count(), s.max_neighbors) << id;
  std::vector<Vector> queries;
  for (int i = 0; i < 50; ++i) queries.push_back(RandomVector(&rng, s.dims));
  EXPECT_GE(Recall(&graph, vectors, queries, s.metric, 10), 0.9);
}

INSTANTIATE_TEST_SUITE_P(Metrics, GraphRecall,
                         ::testing::Values(RecallCase{Metric::kCosine, Type::kFloat32}, RecallCase{Metric::kL2, Type::kFloat32},
                                           RecallCase{Metric::kCosine, Type::kFloat8}, RecallCase{Metric::kL2, Type::kFloat16}));

TEST(Graph, EmptyFindsNothingAndOneFindsItself) {
  GraphSettings s;
  s.dims = 3;
  s.max_neighbors = DefaultMaxNeighbors(3);
  MemoryStore store;
  Graph graph(s, &store);
  std::mt19937 rng(1);
  Vector v = RandomVector(&rng, 3);
  auto none = graph.Search(v.ref(), 5);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  ASSERT_TRUE(graph.Insert(7, v.ref()).ok());
  auto one = graph.Search(v.ref(), 5);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].id, 7);
  auto zero = graph.Search(v.ref(), 0);
  ASSERT_TRUE(zero.ok());
  EXPECT_TRUE(zero->empty());
}

TEST(Graph, RemovedNodesAreNeverFoundAndTheOthersStillAre) {
  std::mt19937 rng(7);
  GraphSettings s;
  s.dims = 16;
  s.max_neighbors = DefaultMaxNeighbors(s.dims);
  MemoryStore store;
  Graph graph(s, &store);
  std::vector<Vector> vectors;
  for (int i = 0; i < 500; ++i) {
    vectors.push_back(RandomVector(&rng, s.dims));
    ASSERT_TRUE(graph.Insert(i + 1, vectors.back().ref()).ok());
  }
  for (int id = 1; id <= 500; id += 2) ASSERT_TRUE(graph.Remove(id).ok());
  EXPECT_EQ(store.nodes().size(), 250u);
  for (int i = 0; i < 500; i += 7) {
    auto found = graph.Search(vectors[i].ref(), 10);
    ASSERT_TRUE(found.ok());
    ASSERT_FALSE(found->empty());
    for (const Neighbor& n : *found) EXPECT_EQ(n.id % 2, 0) << "node " << n.id << " was removed";
    if ((i + 1) % 2 == 0) {
      EXPECT_EQ((*found)[0].id, i + 1) << "a node still there finds itself first";
    }
  }
  // Inserting an id again replaces its vector.
  ASSERT_TRUE(graph.Insert(2, vectors[10].ref()).ok());
  auto found = graph.Search(vectors[10].ref(), 2);
  ASSERT_TRUE(found.ok());
  ASSERT_FALSE(found->empty());
  EXPECT_EQ((*found)[0].id, 2);
  EXPECT_NEAR((*found)[0].distance, 0.0f, 1e-6f);
}

// A graph cut by deletes (the entry node's edges all lead to removed nodes) is still searched
// whole: a walk that runs out before its list is full goes on from the next node by id.
TEST(Graph, AWalkThatRunsOutGoesOnFromTheNextNode) {
  std::mt19937 rng(3);
  GraphSettings s;
  s.dims = 8;
  s.metric = Metric::kL2;
  s.max_neighbors = 8;
  s.search_l = 50;
  MemoryStore store;
  Graph graph(s, &store);
  std::vector<Vector> vectors;
  for (int i = 0; i < 40; ++i) {
    vectors.push_back(RandomVector(&rng, s.dims));
    ASSERT_TRUE(graph.Insert(i + 1, vectors.back().ref()).ok());
  }
  // The entry (id 1) keeps edges to ids that are gone only; nothing else leads to it or from it.
  Node& entry = store.mutable_nodes()[1];
  const size_t bytes = DataSize(s.edge_type, s.dims);
  const std::vector<uint8_t> any(entry.edge_data.begin(), entry.edge_data.begin() + static_cast<std::ptrdiff_t>(bytes));
  entry.edge_ids.clear();
  entry.edge_data.clear();
  for (int64_t gone = 1000; gone < 1004; ++gone) entry.AddEdge(gone, any.data(), bytes);
  for (auto& [id, node] : store.mutable_nodes()) {
    for (size_t e = node.edge_count(); e-- > 0;) {
      if (id != 1 && node.edge_ids[e] == 1) node.RemoveEdge(e, bytes);
    }
  }
  auto found = graph.Search(vectors[29].ref(), 5);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 5u);
  EXPECT_EQ((*found)[0].id, 30) << "found past the cut";
}

TEST(IndexSettings, ColumnTypesAsLibsqlReadsThem) {
  auto t = ParseColumnType("F32_BLOB(128)");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->first, Type::kFloat32);
  EXPECT_EQ(t->second, 128u);
  t = ParseColumnType(" float64 ( 3 ) ");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->first, Type::kFloat64);
  EXPECT_EQ(ParseColumnType("FLOAT1BIT(8)")->first, Type::kFloat1Bit);
  EXPECT_EQ(ParseColumnType("FB16_BLOB(8)")->first, Type::kFloatB16);
  EXPECT_EQ(ParseColumnType("INTEGER").status().message(), "unexpected vector column type");
  EXPECT_EQ(ParseColumnType("FLOAT32(-1)").status().message(), "non digit symbol in vector column parameter");
  EXPECT_EQ(ParseColumnType("FLOAT32(0)").status().message(), "vector column must have non-zero dimension for index");
  EXPECT_EQ(ParseColumnType("FLOAT32(3").status().message(), "missed closing brace for vector column type");
  EXPECT_EQ(ParseColumnType("FLOAT32(3) x").status().message(), "extra data after dimension parameter for vector column type");
  EXPECT_EQ(ParseColumnType("FLOAT32(65537)").status().message(), "max vector dimension exceeded");
}

TEST(IndexSettings, OptionsWithLibsqlsDefaultsAndMessages) {
  auto s = ParseIndexOptions("FLOAT32(128)", {});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->metric, Metric::kCosine);
  EXPECT_EQ(s->edge_type, Type::kFloat32);
  EXPECT_EQ(s->max_neighbors, 36u);
  EXPECT_EQ(s->search_l, 200u);
  EXPECT_EQ(s->insert_l, 70u);
  EXPECT_DOUBLE_EQ(s->alpha, 1.2);
  s = ParseIndexOptions("F32_BLOB(4)", {"metric=L2", "compress_neighbors=float8", "alpha=1.4", "search_l=50", "insert_l=20",
                                        "max_neighbors=8", "type=diskann"});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->metric, Metric::kL2);
  EXPECT_EQ(s->edge_type, Type::kFloat8);
  EXPECT_DOUBLE_EQ(s->alpha, 1.4);
  EXPECT_EQ(s->search_l, 50u);
  EXPECT_EQ(s->insert_l, 20u);
  EXPECT_EQ(s->max_neighbors, 8u);
  auto round = ParseSettings(FormatSettings(*s));
  ASSERT_TRUE(round.ok()) << round.status().ToString();
  EXPECT_EQ(FormatSettings(*round), FormatSettings(*s));

  EXPECT_EQ(ParseIndexOptions("INTEGER", {}).status().message(), "vector index: unexpected vector column type: INTEGER");
  EXPECT_EQ(ParseIndexOptions("FLOAT32(1)", {"a=1"}).status().message(), "vector index: invalid vector index parameter 'a=1': invalid parameter");
  EXPECT_EQ(ParseIndexOptions("FLOAT32(1)", {"metric=unknown"}).status().message(),
            "vector index: invalid vector index parameter 'metric=unknown': invalid parameter");
  EXPECT_EQ(ParseIndexOptions("FLOAT32(1)", {"metric=cosine", "metric=cosine"}).status().message(),
            "vector index: invalid vector index parameter 'metric=cosine': unable to serialize vector index parameter");
  EXPECT_EQ(ParseIndexOptions("FLOAT32(1)", {"metric"}).status().message(),
            "vector index: invalid vector index parameter 'metric': unexpected parameter format");
  EXPECT_EQ(ParseIndexOptions("FLOAT32(1)", {"search_l=x"}).status().message(),
            "vector index: invalid vector index parameter 'search_l=x': invalid representation of integer vector index parameter");
  EXPECT_EQ(ParseIndexOptions("FLOAT32(1)", {"insert_l=-3"}).status().message(),
            "vector index: invalid vector index parameter 'insert_l=-3': integer vector index parameter must be positive");
  EXPECT_EQ(ParseIndexOptions("FLOAT32(1)", {"alpha=abc"}).status().message(),
            "vector index: invalid vector index parameter 'alpha=abc': invalid representation of floating point vector index parameter");
  EXPECT_FALSE(ParseIndexOptions("FLOAT32(1)", {"metric=l2", "compress_neighbors=float1bit"}).ok());
  EXPECT_FALSE(ParseSettings("type=1 dims=3").ok());
}

// The index's ranking distances (index_distance.h) agree with the exact kernels (distance.h) to
// float rounding, for every metric and the f32/f8 kernels of their own (odd dims: the lanes' tail),
// and the two forms of DistanceFrom::To agree exactly.
TEST(IndexDistance, AgreesWithTheExactKernels) {
  std::mt19937 rng(7);
  for (uint32_t dims : {1u, 5u, 16u, 37u, 128u}) {
    for (Type type : {Type::kFloat32, Type::kFloat8, Type::kFloat16, Type::kFloat64}) {
      for (Metric metric : {Metric::kCosine, Metric::kL2}) {
        for (int round = 0; round < 20; ++round) {
          Vector a = Convert(RandomVector(&rng, dims).ref(), type), b = Convert(RandomVector(&rng, dims).ref(), type);
          const float exact = metric == Metric::kCosine ? DistanceCos(a.ref(), b.ref()) : DistanceL2(a.ref(), b.ref());
          const DistanceFrom from_a(metric, type, dims, a.data()), from_b(metric, type, dims, b.data());
          const float ranked = from_a.To(b.data());
          EXPECT_NEAR(ranked, exact, 1e-4 * std::max(1.0f, std::fabs(exact))) << "dims " << dims << " type " << static_cast<int>(type);
          EXPECT_EQ(from_a.To(from_b), ranked) << "dims " << dims << " type " << static_cast<int>(type);
          EXPECT_EQ(PairDistance(metric, type, dims, a.data(), b.data()), ranked);
        }
      }
    }
  }
  // A zero vector under cosine has no direction: NaN, as vector_distance_cos (the graph ranks it last).
  Vector zero = Convert(Vector(Type::kFloat32, 4).ref(), Type::kFloat32);
  Vector one = Convert(RandomVector(&rng, 4).ref(), Type::kFloat32);
  EXPECT_TRUE(std::isnan(DistanceFrom(Metric::kCosine, Type::kFloat32, 4, zero.data()).To(one.data())));
}

}  // namespace
}  // namespace litehouse::vector
