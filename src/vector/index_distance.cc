#include "vector/index_distance.h"

#include <algorithm>
#include <cmath>
#include <span>

#include "vector/distance.h"
#include "vector/elements.h"

namespace litehouse::vector {
namespace {

constexpr uint32_t kLanes = 16;

// sum over i of a[i] * b[i], in kLanes partial sums added pairwise at the end.
float DotF32(const uint8_t* a, const uint8_t* b, uint32_t dims) {
  float lane[kLanes] = {};
  uint32_t i = 0;
  for (; i + kLanes <= dims; i += kLanes) {
    for (uint32_t j = 0; j < kLanes; ++j) lane[j] += LoadF32(a + 4 * size_t{i + j}) * LoadF32(b + 4 * size_t{i + j});
  }
  for (; i < dims; ++i) lane[i % kLanes] += LoadF32(a + 4 * size_t{i}) * LoadF32(b + 4 * size_t{i});
  for (uint32_t width = kLanes / 2; width > 0; width /= 2) {
    for (uint32_t j = 0; j < width; ++j) lane[j] += lane[j + width];
  }
  return lane[0];
}

float SquaredL2F32(const uint8_t* a, const uint8_t* b, uint32_t dims) {
  float lane[kLanes] = {};
  uint32_t i = 0;
  for (; i + kLanes <= dims; i += kLanes) {
    for (uint32_t j = 0; j < kLanes; ++j) {
      const float d = LoadF32(a + 4 * size_t{i + j}) - LoadF32(b + 4 * size_t{i + j});
      lane[j] += d * d;
    }
  }
  for (; i < dims; ++i) {
    const float d = LoadF32(a + 4 * size_t{i}) - LoadF32(b + 4 * size_t{i});
    lane[i % kLanes] += d * d;
  }
  for (uint32_t width = kLanes / 2; width > 0; width /= 2) {
    for (uint32_t j = 0; j < width; ++j) lane[j] += lane[j + width];
  }
  return lane[0];
}

void F8Sums(const uint8_t* q, uint32_t dims, uint32_t* sum, uint32_t* sumsq) {
  uint32_t s = 0, s2 = 0;
  for (uint32_t i = 0; i < dims; ++i) {
    s += q[i];
    s2 += uint32_t{q[i]} * q[i];
  }
  *sum = s;
  *sumsq = s2;
}

uint32_t F8Dot(const uint8_t* a, const uint8_t* b, uint32_t dims) {
  uint32_t dot = 0;  // no overflow: 255^2 * 65536 < 2^32
  for (uint32_t i = 0; i < dims; ++i) dot += uint32_t{a[i]} * b[i];
  return dot;
}

float Cosine(float dot, float norm_a, float norm_b) { return 1.0f - dot / std::sqrt(norm_a * norm_b); }

float Fallback(Metric metric, Type type, uint32_t dims, const uint8_t* a, const uint8_t* b) {
  const VectorRef x{type, dims, a}, y{type, dims, b};
  return metric == Metric::kCosine ? DistanceCos(x, y) : DistanceL2(x, y);
}

}  // namespace

DistanceFrom::DistanceFrom(Metric metric, Type type, uint32_t dims, const uint8_t* from)
    : metric_(metric), type_(type), dims_(dims), from_(from) {
  if (type == Type::kFloat32 && metric == Metric::kCosine) norm_ = DotF32(from, from, dims);
  if (type == Type::kFloat8) {
    const F8Params params = LoadF8Params(from, dims);
    f8_alpha_ = params.alpha;
    f8_shift_ = params.shift;
    F8Sums(from, dims, &f8_sum_, &f8_sumsq_);
  }
}

float DistanceFrom::To(const uint8_t* to) const {
  switch (type_) {
    case Type::kFloat32:
      if (metric_ == Metric::kCosine) return Cosine(DotF32(from_, to, dims_), norm_, DotF32(to, to, dims_));
      return std::sqrt(SquaredL2F32(from_, to, dims_));
    case Type::kFloat8: {
      const F8Params to_params = LoadF8Params(to, dims_);
      const float alpha = to_params.alpha, shift = to_params.shift;
      const float a = f8_alpha_, sa = f8_shift_;
      if (metric_ == Metric::kL2) {
        float lane[kLanes] = {};
        const auto add = [&](uint32_t i, uint32_t j) {
          const float d = (a * static_cast<float>(from_[i]) + sa) - (alpha * static_cast<float>(to[i]) + shift);
          lane[j] += d * d;
        };
        uint32_t i = 0;
        for (; i + kLanes <= dims_; i += kLanes) {
          for (uint32_t j = 0; j < kLanes; ++j) add(i + j, j);
        }
        for (; i < dims_; ++i) add(i, i % kLanes);
        for (uint32_t width = kLanes / 2; width > 0; width /= 2) {
          for (uint32_t j = 0; j < width; ++j) lane[j] += lane[j + width];
        }
        return std::sqrt(lane[0]);
      }
      uint32_t sum, sumsq;
      F8Sums(to, dims_, &sum, &sumsq);
      const float n = static_cast<float>(dims_);
      const float dot_q = static_cast<float>(F8Dot(from_, to, dims_));
      const float sum_a = static_cast<float>(f8_sum_), sum_b = static_cast<float>(sum);
      const float sumsq_b = static_cast<float>(sumsq);
      const float dot = a * alpha * dot_q + a * shift * sum_a + alpha * sa * sum_b + sa * shift * n;
      const float norm_b = alpha * alpha * sumsq_b + 2 * alpha * shift * sum_b + shift * shift * n;
      return Cosine(dot, F8Norm(), norm_b);
    }
    default: return Fallback(metric_, type_, dims_, from_, to);
  }
}

float DistanceFrom::To(const DistanceFrom& other) const {
  if (type_ == Type::kFloat32 && metric_ == Metric::kCosine) return Cosine(DotF32(from_, other.from_, dims_), norm_, other.norm_);
  if (type_ == Type::kFloat8 && metric_ == Metric::kCosine) {
    const float n = static_cast<float>(dims_);
    const float a = f8_alpha_, sa = f8_shift_, b = other.f8_alpha_, sb = other.f8_shift_;
    const float dot_q = static_cast<float>(F8Dot(from_, other.from_, dims_));
    const float sum_a = static_cast<float>(f8_sum_), sum_b = static_cast<float>(other.f8_sum_);
    const float dot = a * b * dot_q + a * sb * sum_a + b * sa * sum_b + sa * sb * n;
    return Cosine(dot, F8Norm(), other.F8Norm());
  }
  return To(other.from_);
}

float DistanceFrom::F8Norm() const {
  const float n = static_cast<float>(dims_), a = f8_alpha_, sa = f8_shift_;
  const float sum = static_cast<float>(f8_sum_), sumsq = static_cast<float>(f8_sumsq_);
  return a * a * sumsq + 2 * a * sa * sum + sa * sa * n;
}

float PairDistance(Metric metric, Type type, uint32_t dims, const uint8_t* a, const uint8_t* b) {
  return DistanceFrom(metric, type, dims, a).To(b);
}

}  // namespace litehouse::vector
