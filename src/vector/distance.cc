#include "vector/distance.h"

#include <bit>
#include <cassert>
#include <cmath>

#include "vector/elements.h"

namespace litehouse::vector {
namespace {

// 1 - dot / sqrt(norm_a * norm_b): the product of the norms in float, its root and the division in
// double, the result rounded to float, as libSQL's C computes it.
float CosineFromSums(float dot, float norm_a, float norm_b) {
  return static_cast<float>(1.0 - dot / std::sqrt(static_cast<double>(norm_a * norm_b)));
}

// Cosine and L2 over float elements decoded by `load(bytes, i)`, summed in order.
template <typename Load>
float CosFloat(const uint8_t* a, const uint8_t* b, uint32_t dims, Load load) {
  float dot = 0, norm_a = 0, norm_b = 0;
  for (uint32_t i = 0; i < dims; ++i) {
    const float x = load(a, i), y = load(b, i);
    dot += x * y;
    norm_a += x * x;
    norm_b += y * y;
  }
  return CosineFromSums(dot, norm_a, norm_b);
}

template <typename Load>
float L2Float(const uint8_t* a, const uint8_t* b, uint32_t dims, Load load) {
  float sum = 0;
  for (uint32_t i = 0; i < dims; ++i) {
    const float d = load(a, i) - load(b, i);
    sum += d * d;
  }
  return static_cast<float>(std::sqrt(static_cast<double>(sum)));
}

float LoadF32At(const uint8_t* p, uint32_t i) { return LoadF32(p + 4 * size_t{i}); }
float LoadF16At(const uint8_t* p, uint32_t i) { return F16ToFloat(LoadU16(p + 2 * size_t{i})); }
float LoadBF16At(const uint8_t* p, uint32_t i) { return BF16ToFloat(LoadU16(p + 2 * size_t{i})); }

}  // namespace

float CosF32(std::span<const uint8_t> a, std::span<const uint8_t> b, uint32_t dims) {
  return CosFloat(a.data(), b.data(), dims, LoadF32At);
}
float CosF16(std::span<const uint8_t> a, std::span<const uint8_t> b, uint32_t dims) {
  return CosFloat(a.data(), b.data(), dims, LoadF16At);
}
float CosBF16(std::span<const uint8_t> a, std::span<const uint8_t> b, uint32_t dims) {
  return CosFloat(a.data(), b.data(), dims, LoadBF16At);
}
float L2F32(std::span<const uint8_t> a, std::span<const uint8_t> b, uint32_t dims) {
  return L2Float(a.data(), b.data(), dims, LoadF32At);
}
float L2F16(std::span<const uint8_t> a, std::span<const uint8_t> b, uint32_t dims) {
  return L2Float(a.data(), b.data(), dims, LoadF16At);
}
float L2BF16(std::span<const uint8_t> a, std::span<const uint8_t> b, uint32_t dims) {
  return L2Float(a.data(), b.data(), dims, LoadBF16At);
}

float CosF64(std::span<const uint8_t> a, std::span<const uint8_t> b, uint32_t dims) {
  double dot = 0, norm_a = 0, norm_b = 0;
  for (uint32_t i = 0; i < dims; ++i) {
    const double x = LoadF64(a.data() + 8 * size_t{i}), y = LoadF64(b.data() + 8 * size_t{i});
    dot += x * y;
    norm_a += x * x;
    norm_b += y * y;
  }
  return static_cast<float>(1.0 - dot / std::sqrt(norm_a * norm_b));
}

float L2F64(std::span<const uint8_t> a, std::span<const uint8_t> b, uint32_t dims) {
  double sum = 0;
  for (uint32_t i = 0; i < dims; ++i) {
    const double d = LoadF64(a.data() + 8 * size_t{i}) - LoadF64(b.data() + 8 * size_t{i});
    sum += d * d;
  }
  return static_cast<float>(std::sqrt(sum));
}

// With x = alpha_a * qa + shift_a and y = alpha_b * qb + shift_b, the sums over x*y, x*x and y*y
// expand into integer sums of qa, qb, qa*qa, qb*qb and qa*qb (no overflow: 255^2 * 65536 < 2^32).
float CosF8(std::span<const uint8_t> a, std::span<const uint8_t> b, uint32_t dims) {
  const F8Params pa = LoadF8Params(a.data(), dims), pb = LoadF8Params(b.data(), dims);
  uint32_t sum_a = 0, sum_b = 0, sumsq_a = 0, sumsq_b = 0, dot_q = 0;
  for (uint32_t i = 0; i < dims; ++i) {
    const uint32_t qa = a[i], qb = b[i];
    sum_a += qa;
    sum_b += qb;
    sumsq_a += qa * qa;
    sumsq_b += qb * qb;
    dot_q += qa * qb;
  }
  const float n = static_cast<float>(dims);
  const float dot = pa.alpha * pb.alpha * static_cast<float>(dot_q) + pa.alpha * pb.shift * static_cast<float>(sum_a) +
                    pb.alpha * pa.shift * static_cast<float>(sum_b) + pa.shift * pb.shift * n;
  const float norm_a = pa.alpha * pa.alpha * static_cast<float>(sumsq_a) +
                       2 * pa.alpha * pa.shift * static_cast<float>(sum_a) + pa.shift * pa.shift * n;
  const float norm_b = pb.alpha * pb.alpha * static_cast<float>(sumsq_b) +
                       2 * pb.alpha * pb.shift * static_cast<float>(sum_b) + pb.shift * pb.shift * n;
  return CosineFromSums(dot, norm_a, norm_b);
}

float L2F8(std::span<const uint8_t> a, std::span<const uint8_t> b, uint32_t dims) {
  const F8Params pa = LoadF8Params(a.data(), dims), pb = LoadF8Params(b.data(), dims);
  float sum = 0;
  for (uint32_t i = 0; i < dims; ++i) {
    const float d = (pa.alpha * static_cast<float>(a[i]) + pa.shift) - (pb.alpha * static_cast<float>(b[i]) + pb.shift);
    sum += d * d;
  }
  return static_cast<float>(std::sqrt(static_cast<double>(sum)));
}

// Every byte of the data part counts, bits past the last element included (libSQL's too).
float Hamming1Bit(std::span<const uint8_t> a, std::span<const uint8_t> b, uint32_t dims) {
  const size_t bytes = (size_t{dims} + 7) / 8;
  int differing = 0;
  for (size_t i = 0; i < bytes; ++i) differing += std::popcount(static_cast<unsigned>(a[i] ^ b[i]));
  return static_cast<float>(differing);
}

float DistanceCos(const VectorRef& a, const VectorRef& b) {
  assert(a.type == b.type && a.dims == b.dims);
  const std::span<const uint8_t> x(a.data, DataSize(a.type, a.dims)), y(b.data, DataSize(b.type, b.dims));
  switch (a.type) {
    case Type::kFloat32: return CosF32(x, y, a.dims);
    case Type::kFloat64: return CosF64(x, y, a.dims);
    case Type::kFloat16: return CosF16(x, y, a.dims);
    case Type::kFloatB16: return CosBF16(x, y, a.dims);
    case Type::kFloat8: return CosF8(x, y, a.dims);
    case Type::kFloat1Bit: return Hamming1Bit(x, y, a.dims);
  }
  return 0;
}

float DistanceL2(const VectorRef& a, const VectorRef& b) {
  assert(a.type == b.type && a.dims == b.dims && a.type != Type::kFloat1Bit);
  const std::span<const uint8_t> x(a.data, DataSize(a.type, a.dims)), y(b.data, DataSize(b.type, b.dims));
  switch (a.type) {
    case Type::kFloat32: return L2F32(x, y, a.dims);
    case Type::kFloat64: return L2F64(x, y, a.dims);
    case Type::kFloat16: return L2F16(x, y, a.dims);
    case Type::kFloatB16: return L2BF16(x, y, a.dims);
    case Type::kFloat8: return L2F8(x, y, a.dims);
    case Type::kFloat1Bit: break;
  }
  return 0;
}

}  // namespace litehouse::vector
