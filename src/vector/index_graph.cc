#include "vector/index_graph.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <unordered_set>

#include "vector/distance.h"

namespace litehouse::vector {

uint32_t DefaultMaxNeighbors(uint32_t dims) {
  // libSQL's rule (vectordiskann.c): 3 * (floor(sqrt(D)) + 1), which it says gives 90%+ recall.
  return 3 * (static_cast<uint32_t>(std::sqrt(static_cast<double>(dims))) + 1);
}

Graph::Graph(const GraphSettings& settings, NodeStore* store) : settings_(settings), store_(store) {}

float Graph::Exact(const VectorRef& a, const VectorRef& b) const {
  float d = settings_.metric == Metric::kCosine ? DistanceCos(a, b) : DistanceL2(a, b);
  // A zero vector has no direction: NaN would break every comparison; it ranks last.
  return std::isnan(d) ? INFINITY : d;
}

float Graph::EdgeDistance(const VectorRef& a, const VectorRef& b) const { return Exact(a, b); }

std::vector<uint8_t> Graph::ToEdgeData(const VectorRef& v) const {
  if (v.type == settings_.edge_type) return std::vector<uint8_t>(v.data, v.data + DataSize(v.type, v.dims));
  Vector converted = Convert(v, settings_.edge_type);
  return std::vector<uint8_t>(converted.data(), converted.data() + DataSize(settings_.edge_type, settings_.dims));
}

Result<std::vector<Graph::Expanded>> Graph::Walk(const VectorRef& query, uint32_t l) {
  std::vector<Expanded> expanded;
  auto entry = store_->Entry();
  if (!entry.ok()) return entry.status();
  if (!entry->has_value()) return expanded;
  // The query as the edges store vectors, for approximate distances.
  std::optional<Vector> query_edge;
  VectorRef q_edge = query;
  if (settings_.edge_type != settings_.type) {
    query_edge.emplace(Convert(query, settings_.edge_type));
    q_edge = query_edge->ref();
  }
  struct Candidate {
    float distance;  // approximate (exact for the entry)
    int64_t id;
    bool expanded;
  };
  std::vector<Candidate> candidates;  // sorted by distance, at most l
  std::unordered_set<int64_t> seen;
  candidates.push_back({0.0f, **entry, false});
  seen.insert(**entry);
  Node node;
  size_t first = 0;  // every candidate before it is expanded
  while (expanded.size() < kMaxExpansions) {
    while (first < candidates.size() && candidates[first].expanded) ++first;
    if (first == candidates.size()) break;
    candidates[first].expanded = true;
    const int64_t id = candidates[first].id;
    auto found = store_->Get(id, &node);
    if (!found.ok()) return found.status();
    if (!*found) {  // a dangling edge (its node was deleted)
      candidates.erase(candidates.begin() + static_cast<std::ptrdiff_t>(first));
      continue;
    }
    expanded.push_back({id, Exact(query, NodeRef(node.data)), node.data});
    for (const Edge& e : node.edges) {
      if (!seen.insert(e.id).second) continue;
      const float d = EdgeDistance(q_edge, EdgeRef(e.data));
      if (candidates.size() >= l && !(d < candidates.back().distance)) continue;
      auto at = std::upper_bound(candidates.begin(), candidates.end(), d,
                                 [](float v, const Candidate& c) { return v < c.distance; });
      const size_t pos = static_cast<size_t>(at - candidates.begin());
      candidates.insert(at, {d, e.id, false});
      if (pos < first) first = pos;
      if (candidates.size() > l) candidates.pop_back();
    }
  }
  return expanded;
}

Result<std::vector<Neighbor>> Graph::Search(const VectorRef& query, uint32_t k,
                                            const std::function<Result<bool>(int64_t)>& keep) {
  auto walk = Walk(query, std::max(settings_.search_l, k));
  if (!walk.ok()) return walk.status();
  std::vector<Neighbor> all;
  all.reserve(walk->size());
  for (const Expanded& e : *walk) all.push_back({e.distance, e.id});
  std::sort(all.begin(), all.end(), [](const Neighbor& a, const Neighbor& b) {
    return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
  });
  std::vector<Neighbor> out;
  for (const Neighbor& n : all) {
    if (out.size() >= k) break;
    if (keep) {
      auto kept = keep(n.id);
      if (!kept.ok()) return kept.status();
      if (!*kept) continue;
    }
    out.push_back(n);
  }
  return out;
}

void Graph::PruneEdges(Node* node) const {
  if (node->edges.size() <= settings_.max_neighbors) return;
  // The node's own vector in the edges' type: its distances to its edges are approximate alike.
  const std::vector<uint8_t> self = ToEdgeData(NodeRef(node->data));
  std::vector<std::pair<float, size_t>> order;
  order.reserve(node->edges.size());
  for (size_t i = 0; i < node->edges.size(); ++i) order.push_back({EdgeDistance(EdgeRef(self), EdgeRef(node->edges[i].data)), i});
  std::sort(order.begin(), order.end());
  std::vector<size_t> kept;
  for (const auto& [d, i] : order) {
    if (kept.size() >= settings_.max_neighbors) break;
    bool keep = true;
    for (size_t r : kept) {
      if (settings_.alpha * EdgeDistance(EdgeRef(node->edges[r].data), EdgeRef(node->edges[i].data)) <= d) {
        keep = false;
        break;
      }
    }
    if (keep) kept.push_back(i);
  }
  std::vector<Edge> edges;
  edges.reserve(kept.size());
  for (size_t i : kept) edges.push_back(std::move(node->edges[i]));
  node->edges = std::move(edges);
}

bool Graph::AddEdge(Node* node, int64_t id, const std::vector<uint8_t>& data) const {
  for (const Edge& e : node->edges) {
    if (e.id == id) return false;
  }
  if (node->edges.size() < settings_.max_neighbors) {
    node->edges.push_back({id, data});
    return true;
  }
  // Full: RobustPrune's rule for the one new candidate, in O(max_neighbors) distances instead of a
  // whole prune's O(max_neighbors^2) (a prune per back edge made inserts several times slower).
  const std::vector<uint8_t> self = ToEdgeData(NodeRef(node->data));
  const VectorRef added = EdgeRef(data);
  const float d_new = EdgeDistance(EdgeRef(self), added);
  std::vector<float> d_edges(node->edges.size());
  for (size_t i = 0; i < node->edges.size(); ++i) {
    const VectorRef e = EdgeRef(node->edges[i].data);
    d_edges[i] = EdgeDistance(EdgeRef(self), e);
    // A nearer edge already leads towards the new node: it is not kept (as a prune would drop it).
    if (d_edges[i] <= d_new && settings_.alpha * EdgeDistance(e, added) <= d_new) return false;
  }
  // The new edge makes the farther edges it covers redundant; failing any, it replaces the farthest
  // edge, if it is nearer.
  size_t removed = 0;
  for (size_t i = 0; i < node->edges.size();) {
    if (d_new <= d_edges[i] && settings_.alpha * EdgeDistance(added, EdgeRef(node->edges[i].data)) <= d_edges[i]) {
      node->edges.erase(node->edges.begin() + static_cast<std::ptrdiff_t>(i));
      d_edges.erase(d_edges.begin() + static_cast<std::ptrdiff_t>(i));
      ++removed;
    } else {
      ++i;
    }
  }
  if (removed == 0) {
    const size_t farthest = static_cast<size_t>(std::max_element(d_edges.begin(), d_edges.end()) - d_edges.begin());
    if (!(d_new < d_edges[farthest])) return false;
    node->edges.erase(node->edges.begin() + static_cast<std::ptrdiff_t>(farthest));
  }
  node->edges.push_back({id, data});
  return true;
}

Status Graph::Insert(int64_t id, const VectorRef& v) {
  {
    Node old;
    auto found = store_->Get(id, &old);
    if (!found.ok()) return found.status();
    if (*found) {
      if (Status s = Remove(id); !s.ok()) return s;
    }
  }
  auto walk = Walk(v, settings_.insert_l);
  if (!walk.ok()) return walk.status();
  std::vector<Expanded>& cands = *walk;
  std::sort(cands.begin(), cands.end(), [](const Expanded& a, const Expanded& b) { return a.distance < b.distance; });
  // RobustPrune over exact vectors: every candidate was read.
  std::vector<size_t> kept;
  for (size_t i = 0; i < cands.size() && kept.size() < settings_.max_neighbors; ++i) {
    bool keep = true;
    for (size_t r : kept) {
      if (settings_.alpha * Exact(NodeRef(cands[r].data), NodeRef(cands[i].data)) <= cands[i].distance) {
        keep = false;
        break;
      }
    }
    if (keep) kept.push_back(i);
  }
  Node node;
  node.data.assign(v.data, v.data + DataSize(settings_.type, settings_.dims));
  const std::vector<uint8_t> own_edge = ToEdgeData(v);
  for (size_t i : kept) node.edges.push_back({cands[i].id, ToEdgeData(NodeRef(cands[i].data))});
  if (Status s = store_->Put(id, node); !s.ok()) return s;
  // The edges back.
  Node neighbor;
  for (size_t i : kept) {
    const int64_t nid = cands[i].id;
    auto found = store_->Get(nid, &neighbor);
    if (!found.ok()) return found.status();
    if (!*found) continue;
    if (!AddEdge(&neighbor, id, own_edge)) continue;
    if (Status s = store_->Put(nid, neighbor); !s.ok()) return s;
  }
  return Status::OK();
}

Status Graph::Remove(int64_t id) {
  Node node;
  auto found = store_->Get(id, &node);
  if (!found.ok()) return found.status();
  if (!*found) return Status::OK();
  if (Status s = store_->Remove(id); !s.ok()) return s;
  Node neighbor;
  for (const Edge& e : node.edges) {
    auto got = store_->Get(e.id, &neighbor);
    if (!got.ok()) return got.status();
    if (!*got) continue;
    const size_t before = neighbor.edges.size();
    std::erase_if(neighbor.edges, [&](const Edge& x) { return x.id == id; });
    if (neighbor.edges.size() == before) continue;
    // Repair (DiskANN's delete consolidation, on what this row holds): the neighbour takes the
    // removed node's other edges, and is pruned back to max_neighbors.
    for (const Edge& other : node.edges) {
      if (other.id == e.id) continue;
      bool present = false;
      for (const Edge& x : neighbor.edges) present = present || x.id == other.id;
      if (!present) neighbor.edges.push_back(other);
    }
    PruneEdges(&neighbor);
    if (Status s = store_->Put(e.id, neighbor); !s.ok()) return s;
  }
  return Status::OK();
}

}  // namespace litehouse::vector
