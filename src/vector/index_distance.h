// The distances a vector index ranks candidates by (index_graph.h): the metric of the index over
// the data parts of two vectors of one type, summed in 16 independent lanes so that the compiler
// vectorizes them (index_distance.cc is built with -O3).
//
// They are not libSQL's arithmetic, bit for bit (distance.h is: it sums in element order, which no
// compiler may vectorize): an index uses them only to choose which nodes to visit and which edges to
// keep, never as a distance a user sees. The answer of a search is ranked by distance.h's exact
// kernels, so `vector_top_k` and `ORDER BY vector_distance_cos(...)` agree. The lanes are fixed and
// no floating-point contraction is allowed, so a result is the same on every build and machine.
//
// f32 and f8 (the index types and the usual neighbour types) have their own kernels; the other
// types use distance.h's.
#pragma once

#include <cstdint>
#include <vector>

#include "vector/vector.h"

namespace litehouse::vector {

enum class Metric { kCosine, kL2 };

// One side fixed: the distances from `from` (of `type` and `dims`) to many others of that type. The
// per-vector sums of `from` are made once, in the constructor.
class DistanceFrom {
 public:
  DistanceFrom(Metric metric, Type type, uint32_t dims, const uint8_t* from);
  // The distance to the data part `to`. A zero vector under cosine gives NaN, as distance.h does.
  float To(const uint8_t* to) const;
  // The distance to another's vector (of the same metric, type and dims), with both saved sums.
  float To(const DistanceFrom& other) const;

 private:
  float F8Norm() const;  // |from|^2 from its f8 sums
  Metric metric_;
  Type type_;
  uint32_t dims_;
  const uint8_t* from_;
  float norm_ = 0;          // f32 cosine: |from|^2
  float f8_alpha_ = 0, f8_shift_ = 0;
  uint32_t f8_sum_ = 0, f8_sumsq_ = 0;  // f8: the sums of `from`'s bytes and their squares
};

// The distance between two data parts of one type (DistanceFrom without the saved sums).
float PairDistance(Metric metric, Type type, uint32_t dims, const uint8_t* a, const uint8_t* b);

}  // namespace litehouse::vector
