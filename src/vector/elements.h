// The element encodings of libSQL's vectors, as bit-exact conversions: little-endian loads and stores
// of binary32/binary64, binary16 (f16) and bfloat16 (bf16) to and from float.
//
// The f16 conversion is libSQL's, not the hardware's: a float rounds to the nearest f16 with ties to
// even on the 13 bits dropped from its mantissa (a subnormal result drops the bits shifted out below
// them first), too large a float becomes infinity, and every NaN becomes the quiet NaN 0x7e00 with its
// sign. bf16 keeps the top 16 bits of the float (truncation, no rounding). The SQL functions and a
// future index must agree with libSQL's bytes, so both directions live here, once.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace litehouse::vector {

static_assert(std::endian::native == std::endian::little, "vector blobs are read in place as little-endian");

inline float LoadF32(const uint8_t* p) {
  float f;
  std::memcpy(&f, p, sizeof f);
  return f;
}
inline double LoadF64(const uint8_t* p) {
  double d;
  std::memcpy(&d, p, sizeof d);
  return d;
}
inline uint16_t LoadU16(const uint8_t* p) {
  uint16_t u;
  std::memcpy(&u, p, sizeof u);
  return u;
}
inline void StoreF32(uint8_t* p, float f) { std::memcpy(p, &f, sizeof f); }
inline void StoreF64(uint8_t* p, double d) { std::memcpy(p, &d, sizeof d); }
inline void StoreU16(uint8_t* p, uint16_t u) { std::memcpy(p, &u, sizeof u); }

inline float BF16ToFloat(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }
inline uint16_t FloatToBF16(float f) { return static_cast<uint16_t>(std::bit_cast<uint32_t>(f) >> 16); }

inline float F16ToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const int exp_bits = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  int exp;  // unbiased binary32 exponent
  if (exp_bits == 0x1f) {  // infinity, or NaN (made quiet)
    exp = 128;
    mantissa = mantissa != 0 ? (1u << 22) : 0;
  } else if (exp_bits == 0 && mantissa == 0) {  // signed zero
    exp = -127;
  } else if (exp_bits == 0) {  // subnormal: normalize, the leading 1 becomes implicit
    exp = -14;
    while ((mantissa & 0x400) == 0) {
      mantissa <<= 1;
      --exp;
    }
    mantissa = (mantissa & 0x3ff) << 13;
  } else {
    exp = exp_bits - 15;
    mantissa <<= 13;
  }
  return std::bit_cast<float>(sign | (static_cast<uint32_t>(exp + 127) << 23) | mantissa);
}

inline uint16_t FloatToF16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (bits >> 16) & 0x8000;
  int exp = static_cast<int>((bits >> 23) & 0xff) - 127;  // unbiased; f16's range is -14..15
  uint32_t mantissa = bits & 0x7fffff;                   // 23 bits; the f16 keeps the top 10
  if (exp == 128) {  // infinity stays infinity; NaN becomes the quiet NaN
    exp = 16;
    mantissa = mantissa != 0 ? (1u << 22) : 0;
  } else if (exp > 15) {  // too large: infinity
    exp = 16;
    mantissa = 0;
  } else if (exp < -25) {  // too small even for a subnormal: zero
    exp = -15;
    mantissa = 0;
  } else if (exp < -14) {  // a subnormal f16: the implicit 1 becomes explicit, shifted into place
    mantissa = (mantissa | 0x800000) >> (-exp - 14);
    exp = -15;
  }
  // Round the 13 dropped bits to nearest, ties to even (a carry may raise the exponent by one).
  const uint32_t dropped = mantissa & 0x1fff;
  const uint32_t kept_lsb = (mantissa >> 13) & 1;
  if (dropped > 0x1000 - kept_lsb) mantissa += 0x2000;
  const uint32_t kept = mantissa >> 13;
  return static_cast<uint16_t>(sign | (static_cast<uint32_t>(exp + 15 + static_cast<int>(kept >> 10)) << 10) |
                               (kept & 0x3ff));
}

// An f8 data part (vector.h): `dims` bytes, padded to a multiple of 4, then alpha and shift as
// binary32; element i is alpha * byte[i] + shift.
struct F8Params {
  float alpha, shift;
};
inline F8Params LoadF8Params(const uint8_t* data, uint32_t dims) {
  const size_t at = (size_t{dims} + 3) / 4 * 4;
  return {LoadF32(data + at), LoadF32(data + at + 4)};
}

}  // namespace litehouse::vector
