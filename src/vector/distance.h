// Distances between two vectors of the same type and dimensions, with libSQL's arithmetic, so that
// a distance computed here equals the one libSQL computes, bit for bit.
//
// libSQL accumulates f32, f16, bf16 and f8 (L2) in float, one element after the other, and f64 in
// double; f8's cosine sums its bytes in integers first; every result is returned as a float (f64's
// too). The float sums are kept in that order, so the compiler vectorizes only what does not change
// a result: the integer sums of f8, the 1-bit XOR and population count, the element decoding
// (distance.cc is built with -O3; see DESIGN.md).
//
// Cosine distance is 1 - a.b / sqrt(|a|^2 |b|^2): 0 for the same direction, 2 for opposite ones,
// NaN when a vector is all zeros (SQLite makes NaN a NULL). For 1-bit vectors the "cosine" distance
// is libSQL's: the Hamming distance, the number of differing bits. L2 is the Euclidean distance;
// libSQL has none for 1-bit vectors.
#pragma once

#include <cstdint>
#include <span>

#include "vector/vector.h"

namespace litehouse::vector {

// Requires a.type == b.type and a.dims == b.dims.
float DistanceCos(const VectorRef& a, const VectorRef& b);
// Requires a.type == b.type != kFloat1Bit and a.dims == b.dims.
float DistanceL2(const VectorRef& a, const VectorRef& b);

// The kernels, over the data parts of two vectors of `dims` elements (VectorRef::data's layout:
// little-endian, any alignment). An index can call them on its own buffers.
float CosF32(std::span<const uint8_t> a, std::span<const uint8_t> b, uint32_t dims);
float CosF64(std::span<const uint8_t> a, std::span<const uint8_t> b, uint32_t dims);
float CosF16(std::span<const uint8_t> a, std::span<const uint8_t> b, uint32_t dims);
float CosBF16(std::span<const uint8_t> a, std::span<const uint8_t> b, uint32_t dims);
float CosF8(std::span<const uint8_t> a, std::span<const uint8_t> b, uint32_t dims);
float Hamming1Bit(std::span<const uint8_t> a, std::span<const uint8_t> b, uint32_t dims);
float L2F32(std::span<const uint8_t> a, std::span<const uint8_t> b, uint32_t dims);
float L2F64(std::span<const uint8_t> a, std::span<const uint8_t> b, uint32_t dims);
float L2F16(std::span<const uint8_t> a, std::span<const uint8_t> b, uint32_t dims);
float L2BF16(std::span<const uint8_t> a, std::span<const uint8_t> b, uint32_t dims);
float L2F8(std::span<const uint8_t> a, std::span<const uint8_t> b, uint32_t dims);

}  // namespace litehouse::vector
