// The graph of a vector index: DiskANN's Vamana graph (Subramanya et al., NeurIPS 2019), as libSQL
// builds it, over an abstract node store, so that the algorithm is tested without SQLite
// (index_sql.h keeps nodes in a table of the database file).
//
// Each node is a row of the indexed table: its vector, exact, and up to `max_neighbors` edges, each
// an other node's id and that node's vector, stored in the neighbours' type (`compress_neighbors`:
// the index's type by default, or a smaller one). Reading one node therefore gives the approximate
// distance from a query to each of its neighbours without reading them:
//
//   Search: greedy best-first walk from the entry node (the smallest id) keeping the `search_l`
//     best candidates by approximate distance (index_distance.h); each candidate expanded is read
//     once, which gives its exact distance (distance.h); the answer is the k best expanded nodes by
//     exact distance. A walk whose list runs out before it is full goes on from the next unseen id.
//   Insert: the same walk with `insert_l` for the new vector; the expanded nodes, pruned with
//     RobustPrune (a candidate c is dropped when a kept r has alpha * d(r, c) <= d(new, c)), become
//     its edges; each of those gets an edge back: a full neighbour takes it by RobustPrune's rule
//     applied to the one new edge (it is dropped if a nearer edge covers it; it drops the edges it
//     covers, or else the farthest one if it is nearer), with the distances its own row allows.
//   Delete: the node is removed and the edges its neighbours keep to it, each of those taking the
//     removed node's other edges (pruned); an edge from elsewhere may dangle, and a walk skips a
//     node it cannot read.
// Every loop is bounded: a walk expands each node at most once, and stops after `kMaxExpansions`.
//
// Thread safety: a Graph is used by one thread at a time, as its store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "common/status.h"
#include "vector/index_distance.h"
#include "vector/vector.h"

namespace litehouse::vector {

// The settings of one index (index_settings.h parses them from libSQL's options).
struct GraphSettings {
  Type type = Type::kFloat32;       // the indexed column's element type
  uint32_t dims = 0;
  Metric metric = Metric::kCosine;
  Type edge_type = Type::kFloat32;  // compress_neighbors (type when not given)
  double alpha = 1.2;
  uint32_t search_l = 200;
  uint32_t insert_l = 70;
  uint32_t max_neighbors = 0;       // 0 in options: libSQL's default, 3 * (floor(sqrt(dims)) + 1)
};

// A node: its vector and its edges, each an other node's id and that node's vector in the edge type
// (edge_data holds them one after the other, DataSize(edge_type, dims) bytes each).
struct Node {
  std::vector<uint8_t> data;       // DataSize(type, dims) bytes
  std::vector<int64_t> edge_ids;
  std::vector<uint8_t> edge_data;  // edge_ids.size() vectors

  size_t edge_count() const { return edge_ids.size(); }
  const uint8_t* edge(size_t i, size_t edge_bytes) const { return edge_data.data() + i * edge_bytes; }
  void AddEdge(int64_t id, const uint8_t* vector, size_t edge_bytes) {
    edge_ids.push_back(id);
    edge_data.insert(edge_data.end(), vector, vector + edge_bytes);
  }
  void RemoveEdge(size_t i, size_t edge_bytes) {
    edge_ids.erase(edge_ids.begin() + static_cast<std::ptrdiff_t>(i));
    edge_data.erase(edge_data.begin() + static_cast<std::ptrdiff_t>(i * edge_bytes),
                    edge_data.begin() + static_cast<std::ptrdiff_t>((i + 1) * edge_bytes));
  }
};

// Where nodes live. Get answers false for a node that is not there.
class NodeStore {
 public:
  virtual ~NodeStore() = default;
  virtual Result<bool> Get(int64_t id, Node* node) = 0;
  virtual Status Put(int64_t id, const Node& node) = 0;
  virtual Status Remove(int64_t id) = 0;
  // The node every walk starts from: the smallest id, or nullopt when the graph is empty.
  virtual Result<std::optional<int64_t>> Entry() = 0;
  // The smallest id past `id`, or nullopt: where a walk that ran out goes on (Graph::Walk).
  virtual Result<std::optional<int64_t>> EntryAfter(int64_t id) = 0;
};

struct Neighbor {
  float distance;
  int64_t id;
};

class Graph {
 public:
  // `settings` must be valid (type and edge_type agree with metric, dims > 0).
  Graph(const GraphSettings& settings, NodeStore* store);
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // Adds (or replaces) node `id` with vector `v` (of the settings' type and dims).
  Status Insert(int64_t id, const VectorRef& v);
  // Removes node `id`; nothing when it is absent.
  Status Remove(int64_t id);
  // The (up to) k nearest nodes to `query` (of the settings' type and dims), nearest first. With
  // `keep`, only nodes it answers true for count (the walk is the same; it skips the others).
  Result<std::vector<Neighbor>> Search(const VectorRef& query, uint32_t k,
                                       const std::function<Result<bool>(int64_t)>& keep = nullptr);

  // The most nodes one walk expands, whatever L: a bound on the work of one statement.
  static constexpr size_t kMaxExpansions = 100000;
  // A walk whose list ran out before it was full (the nodes it reached are all it could: deletes
  // may cut a graph, a node's edges all dangling) goes on from the next unseen node by id, this many
  // times at most, looking at this many ids for one each time.
  static constexpr int kMaxRestarts = 8;
  static constexpr int kMaxRestartProbes = 64;

 private:
  struct Expanded {
    int64_t id;
    float distance;              // exact (distance.h)
    std::vector<uint8_t> data;   // the node's exact vector, when the walk keeps them
  };
  // The walk of Search and Insert: every node expanded, in the order expanded (with its vector when
  // `keep_vectors`).
  Result<std::vector<Expanded>> Walk(const VectorRef& query, uint32_t l, bool keep_vectors);
  // The exact distance (distance.h, as vector_distance_cos/_l2 answer), NaN ranked last.
  float Exact(const VectorRef& a, const VectorRef& b) const;
  // The index's ranking distances (index_distance.h), NaN ranked last.
  static float Ranked(float d);
  DistanceFrom NodeDistanceFrom(const uint8_t* data) const { return DistanceFrom(settings_.metric, settings_.type, settings_.dims, data); }
  DistanceFrom EdgeDistanceFrom(const uint8_t* data) const { return DistanceFrom(settings_.metric, settings_.edge_type, settings_.dims, data); }
  VectorRef NodeRef(const std::vector<uint8_t>& data) const { return VectorRef{settings_.type, settings_.dims, data.data()}; }
  std::vector<uint8_t> ToEdgeData(const VectorRef& v) const;
  // Prunes `node`'s edges to max_neighbors with RobustPrune over edge-type distances.
  void PruneEdges(Node* node) const;
  // Adds the edge back to `id` (its vector `data` in the edge type) to a neighbour, by RobustPrune's
  // rule when the neighbour is full; false when nothing changed.
  bool AddEdge(Node* node, int64_t id, const std::vector<uint8_t>& data) const;

  const GraphSettings settings_;
  NodeStore* const store_;
  const size_t edge_bytes_;
};

// libSQL's default max_neighbors for `dims`.
uint32_t DefaultMaxNeighbors(uint32_t dims);

}  // namespace litehouse::vector
