#include "vector/index_graph.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>

#include "vector/distance.h"

namespace litehouse::vector {
namespace {

// The ids a walk has seen: open addressing over a power-of-two table (a walk sees L * R ids at
// most, and std::unordered_set's node per id was a tenth of an insert's time).
class SeenSet {
 public:
  explicit SeenSet(size_t expected) {
    size_t capacity = 64;
    while (capacity < 2 * expected) capacity *= 2;
    slots_.assign(capacity, kEmpty);
  }
  // True when `id` was not there (it is now).
  bool Insert(int64_t id) {
    if (id == kEmpty) {  // the one id the table cannot hold in a slot
      if (has_empty_id_) return false;
      return has_empty_id_ = true;
    }
    if (2 * (size_ + 1) > slots_.size()) Grow();
    const size_t mask = slots_.size() - 1;
    for (size_t i = Hash(id) & mask;; i = (i + 1) & mask) {
      if (slots_[i] == id) return false;
      if (slots_[i] == kEmpty) {
        slots_[i] = id;
        ++size_;
        return true;
      }
    }
  }

 private:
  static constexpr int64_t kEmpty = INT64_MIN;
  static size_t Hash(int64_t id) { return static_cast<size_t>(static_cast<uint64_t>(id) * 0x9E3779B97F4A7C15ull >> 17); }
  void Grow() {
    std::vector<int64_t> old = std::move(slots_);
    slots_.assign(old.size() * 2, kEmpty);
    size_ = 0;
    for (int64_t id : old) {
      if (id != kEmpty) Insert(id);
    }
  }
  std::vector<int64_t> slots_;
  size_t size_ = 0;
  bool has_empty_id_ = false;
};

}  // namespace

uint32_t DefaultMaxNeighbors(uint32_t dims) {
  // libSQL's rule (vectordiskann.c): 3 * (floor(sqrt(D)) + 1), which it says gives 90%+ recall.
  return 3 * (static_cast<uint32_t>(std::sqrt(static_cast<double>(dims))) + 1);
}

Graph::Graph(const GraphSettings& settings, NodeStore* store)
    : settings_(settings), store_(store), edge_bytes_(DataSize(settings.edge_type, settings.dims)) {}

float Graph::Exact(const VectorRef& a, const VectorRef& b) const {
  return Ranked(settings_.metric == Metric::kCosine ? DistanceCos(a, b) : DistanceL2(a, b));
}

// A zero vector has no direction: NaN would break every comparison; it ranks last.
float Graph::Ranked(float d) { return std::isnan(d) ? INFINITY : d; }

std::vector<uint8_t> Graph::ToEdgeData(const VectorRef& v) const {
  if (v.type == settings_.edge_type) return std::vector<uint8_t>(v.data, v.data + DataSize(v.type, v.dims));
  Vector converted = Convert(v, settings_.edge_type);
  return std::vector<uint8_t>(converted.data(), converted.data() + edge_bytes_);
}

Result<std::vector<Graph::Expanded>> Graph::Walk(const VectorRef& query, uint32_t l, bool keep_vectors) {
  std::vector<Expanded> expanded;
  auto entry = store_->Entry();
  if (!entry.ok()) return entry.status();
  if (!entry->has_value()) return expanded;
  // The query as the edges store vectors, for approximate distances.
  const std::vector<uint8_t> query_edge = ToEdgeData(query);
  const DistanceFrom from_query = EdgeDistanceFrom(query_edge.data());
  struct Candidate {
    float distance;  // approximate (exact for the entry)
    int64_t id;
    bool expanded;
  };
  std::vector<Candidate> candidates;  // sorted by distance, at most l
  candidates.reserve(l + 1);
  SeenSet seen(2048);  // grows with what the walk meets, never more than the graph's nodes
  candidates.push_back({0.0f, **entry, false});
  seen.Insert(**entry);
  Node node;
  size_t first = 0;  // every candidate before it is expanded
  int64_t last_entry = **entry;
  int restarts = 0;
  while (expanded.size() < kMaxExpansions) {
    while (first < candidates.size() && candidates[first].expanded) ++first;
    if (first == candidates.size()) {
      if (candidates.size() >= l || restarts >= kMaxRestarts) break;
      // The list ran out before it was full: go on from the next node by id not seen yet.
      ++restarts;
      std::optional<int64_t> next;
      for (int probe = 0; probe < kMaxRestartProbes; ++probe) {
        auto after = store_->EntryAfter(last_entry);
        if (!after.ok()) return after.status();
        if (!after->has_value()) break;
        last_entry = **after;
        if (seen.Insert(last_entry)) {
          next = last_entry;
          break;
        }
      }
      if (!next) break;
      candidates.push_back({INFINITY, *next, false});  // ranked last: every other one is expanded
      continue;
    }
    candidates[first].expanded = true;
    const int64_t id = candidates[first].id;
    auto found = store_->Get(id, &node);
    if (!found.ok()) return found.status();
    if (!*found) {  // a dangling edge (its node was deleted)
      candidates.erase(candidates.begin() + static_cast<std::ptrdiff_t>(first));
      continue;
    }
    expanded.push_back({id, Exact(query, NodeRef(node.data)), keep_vectors ? node.data : std::vector<uint8_t>()});
    for (size_t i = 0; i < node.edge_count(); ++i) {
      const int64_t edge_id = node.edge_ids[i];
      if (!seen.Insert(edge_id)) continue;
      const float d = Ranked(from_query.To(node.edge(i, edge_bytes_)));
      if (candidates.size() >= l && !(d < candidates.back().distance)) continue;
      auto at = std::upper_bound(candidates.begin(), candidates.end(), d,
                                 [](float v, const Candidate& c) { return v < c.distance; });
      const size_t pos = static_cast<size_t>(at - candidates.begin());
      candidates.insert(at, {d, edge_id, false});
      if (pos < first) first = pos;
      if (candidates.size() > l) candidates.pop_back();
    }
  }
  return expanded;
}

Result<std::vector<Neighbor>> Graph::Search(const VectorRef& query, uint32_t k,
                                            const std::function<Result<bool>(int64_t)>& keep) {
  auto walk = Walk(query, std::max(settings_.search_l, k), /*keep_vectors=*/false);
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
  if (node->edge_count() <= settings_.max_neighbors) return;
  // The node's own vector in the edges' type: its distances to its edges are approximate alike.
  const std::vector<uint8_t> self = ToEdgeData(NodeRef(node->data));
  const DistanceFrom from_self = EdgeDistanceFrom(self.data());
  std::vector<std::pair<float, size_t>> order;
  order.reserve(node->edge_count());
  for (size_t i = 0; i < node->edge_count(); ++i) order.push_back({Ranked(from_self.To(node->edge(i, edge_bytes_))), i});
  std::sort(order.begin(), order.end());
  std::vector<size_t> kept;
  for (const auto& [d, i] : order) {
    if (kept.size() >= settings_.max_neighbors) break;
    const DistanceFrom from_candidate = EdgeDistanceFrom(node->edge(i, edge_bytes_));
    bool keep = true;
    for (size_t r : kept) {
      if (settings_.alpha * Ranked(from_candidate.To(node->edge(r, edge_bytes_))) <= d) {
        keep = false;
        break;
      }
    }
    if (keep) kept.push_back(i);
  }
  Node pruned;
  pruned.data = std::move(node->data);
  for (size_t i : kept) pruned.AddEdge(node->edge_ids[i], node->edge(i, edge_bytes_), edge_bytes_);
  *node = std::move(pruned);
}

bool Graph::AddEdge(Node* node, int64_t id, const std::vector<uint8_t>& data) const {
  if (std::find(node->edge_ids.begin(), node->edge_ids.end(), id) != node->edge_ids.end()) return false;
  if (node->edge_count() < settings_.max_neighbors) {
    node->AddEdge(id, data.data(), edge_bytes_);
    return true;
  }
  // Full: RobustPrune's rule for the one new candidate, in O(max_neighbors) distances instead of a
  // whole prune's O(max_neighbors^2) (a prune per back edge made inserts several times slower).
  const std::vector<uint8_t> self = ToEdgeData(NodeRef(node->data));
  const DistanceFrom from_self = EdgeDistanceFrom(self.data());
  const DistanceFrom from_added = EdgeDistanceFrom(data.data());
  const float d_new = Ranked(from_self.To(from_added));
  std::vector<float> d_edges(node->edge_count()), d_added(node->edge_count());
  for (size_t i = 0; i < node->edge_count(); ++i) {
    const DistanceFrom from_edge = EdgeDistanceFrom(node->edge(i, edge_bytes_));
    d_edges[i] = Ranked(from_self.To(from_edge));
    d_added[i] = Ranked(from_added.To(from_edge));
    // A nearer edge already leads towards the new node: it is not kept (as a prune would drop it).
    if (d_edges[i] <= d_new && settings_.alpha * d_added[i] <= d_new) return false;
  }
  // The new edge makes the farther edges it covers redundant; failing any, it replaces the farthest
  // edge, if it is nearer.
  size_t removed = 0;
  for (size_t i = node->edge_count(); i-- > 0;) {
    if (d_new <= d_edges[i] && settings_.alpha * d_added[i] <= d_edges[i]) {
      node->RemoveEdge(i, edge_bytes_);
      d_edges.erase(d_edges.begin() + static_cast<std::ptrdiff_t>(i));
      ++removed;
    }
  }
  if (removed == 0) {
    const size_t farthest = static_cast<size_t>(std::max_element(d_edges.begin(), d_edges.end()) - d_edges.begin());
    if (!(d_new < d_edges[farthest])) return false;
    node->RemoveEdge(farthest, edge_bytes_);
  }
  node->AddEdge(id, data.data(), edge_bytes_);
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
  auto walk = Walk(v, settings_.insert_l, /*keep_vectors=*/true);
  if (!walk.ok()) return walk.status();
  std::vector<Expanded>& cands = *walk;
  std::sort(cands.begin(), cands.end(), [](const Expanded& a, const Expanded& b) { return a.distance < b.distance; });
  // RobustPrune over exact vectors: every candidate was read.
  std::vector<size_t> kept;
  std::vector<DistanceFrom> from_kept;  // kept's, in its order (their sums made once)
  from_kept.reserve(settings_.max_neighbors);
  for (size_t i = 0; i < cands.size() && kept.size() < settings_.max_neighbors; ++i) {
    const DistanceFrom from_candidate = NodeDistanceFrom(cands[i].data.data());
    bool keep = true;
    for (const DistanceFrom& r : from_kept) {
      if (settings_.alpha * Ranked(from_candidate.To(r)) <= cands[i].distance) {
        keep = false;
        break;
      }
    }
    if (keep) {
      kept.push_back(i);
      from_kept.push_back(from_candidate);
    }
  }
  Node node;
  node.data.assign(v.data, v.data + DataSize(settings_.type, settings_.dims));
  const std::vector<uint8_t> own_edge = ToEdgeData(v);
  for (size_t i : kept) node.AddEdge(cands[i].id, ToEdgeData(NodeRef(cands[i].data)).data(), edge_bytes_);
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
  for (size_t e = 0; e < node.edge_count(); ++e) {
    const int64_t nid = node.edge_ids[e];
    auto got = store_->Get(nid, &neighbor);
    if (!got.ok()) return got.status();
    if (!*got) continue;
    auto at = std::find(neighbor.edge_ids.begin(), neighbor.edge_ids.end(), id);
    if (at == neighbor.edge_ids.end()) continue;
    neighbor.RemoveEdge(static_cast<size_t>(at - neighbor.edge_ids.begin()), edge_bytes_);
    // Repair (DiskANN's delete consolidation, on what this row holds): the neighbour takes the
    // removed node's other edges, and is pruned back to max_neighbors.
    for (size_t o = 0; o < node.edge_count(); ++o) {
      const int64_t other = node.edge_ids[o];
      if (other == nid) continue;
      if (std::find(neighbor.edge_ids.begin(), neighbor.edge_ids.end(), other) == neighbor.edge_ids.end()) {
        neighbor.AddEdge(other, node.edge(o, edge_bytes_), edge_bytes_);
      }
    }
    PruneEdges(&neighbor);
    if (Status s = store_->Put(nid, neighbor); !s.ok()) return s;
  }
  return Status::OK();
}

}  // namespace litehouse::vector
