// libSQL's vectors: the six element types, their blob and text forms, and conversion between types.
//
// A vector is a SQLite value: a BLOB in libSQL's layout (vector.cc describes it byte by byte) or a
// TEXT such as '[1,2,3]'. This header is the C++ API under the SQL functions (sql_functions.h) and
// under a future vector index: it decodes a blob without copying (VectorRef), builds new vectors
// (Vector), converts between types and formats text, with libSQL's arithmetic and its error messages,
// so that bytes and results agree with libSQL's own engine.
//
// Thread safety: plain values; distinct objects are independent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace litehouse::vector {

// The element types, numbered as libSQL numbers them: the number is the blob's trailing type byte.
enum class Type : uint8_t {
  kFloat32 = 1,    // IEEE binary32 (vector, vector32, F32_BLOB)
  kFloat64 = 2,    // IEEE binary64 (vector64, F64_BLOB)
  kFloat1Bit = 3,  // one bit per element, set when the element is > 0 (vector1bit, F1BIT_BLOB)
  kFloat8 = 4,     // one byte per element, value = alpha * byte + shift (vector8, F8_BLOB)
  kFloat16 = 5,    // IEEE binary16 (vector16, F16_BLOB)
  kFloatB16 = 6,   // bfloat16: the top half of a binary32 (vectorb16, FB16_BLOB)
};

// The most elements a vector may have, in libSQL as here.
inline constexpr uint32_t kMaxDims = 65536;

// How many bytes the data part of a vector of `dims` elements of `type` takes (vector.cc: for f8 it
// includes the alignment padding and the two parameters).
size_t DataSize(Type type, uint32_t dims);

// A vector borrowed from a blob (or from a Vector): `data` is the data part in the blob's layout,
// DataSize(type, dims) bytes, read with unaligned little-endian loads. Valid while the bytes are.
struct VectorRef {
  Type type = Type::kFloat32;
  uint32_t dims = 0;
  const uint8_t* data = nullptr;

  // Element i as libSQL reads it for conversion: f32, f16, bf16, f8 (alpha * byte + shift) and 1-bit
  // (+1 or -1) as float; f64 through ElementF64.
  float ElementF32(uint32_t i) const;
  double ElementF64(uint32_t i) const;
  // The two parameters of an f8 vector (alpha, shift), kept after its padded data.
  float F8Alpha() const;
  float F8Shift() const;
};

// A vector that owns its data part (the layout of VectorRef::data).
class Vector {
 public:
  Vector(Type type, uint32_t dims) : type_(type), dims_(dims), data_(DataSize(type, dims), 0) {}

  Type type() const { return type_; }
  uint32_t dims() const { return dims_; }
  uint8_t* data() { return data_.data(); }
  VectorRef ref() const { return VectorRef{type_, dims_, data_.data()}; }

 private:
  Type type_;
  uint32_t dims_;
  std::vector<uint8_t> data_;
};

// --- Blobs ---------------------------------------------------------------------------------------

// The type and dimensions a blob declares, from its length and trailing bytes, as libSQL reads them
// (before the data part's size is checked). Errors carry libSQL's messages.
struct BlobHeader {
  Type type;
  int64_t dims;       // may be out of range for a malformed blob; DecodeBlob rejects it
  size_t data_bytes;  // the length of the data part the blob holds
};
Result<BlobHeader> ReadBlobHeader(std::span<const uint8_t> blob);

// The vector a blob holds, borrowed from it; every malformed blob is an error.
Result<VectorRef> DecodeBlob(std::span<const uint8_t> blob);

// The blob libSQL writes for `v`: the data part and, except for f32, the type's trailing bytes.
std::vector<uint8_t> EncodeBlob(const VectorRef& v);

// --- Text ----------------------------------------------------------------------------------------

// Parses libSQL's text form ('[1, 2.5, -3e2]') into a vector of `type` (kFloat32 or kFloat64).
Result<Vector> ParseText(std::string_view text, Type type);

// How many elements libSQL assumes a text holds before parsing it: its commas, plus one if it has a
// digit. The distance functions compare these counts before parsing, and report a mismatch first.
int64_t EstimateTextDims(std::string_view text);

// libSQL's text form of `v` ('[1,2.5,-300]', each element printed with SQLite's "%g"). f32 and f64
// print their own values; the other types print their conversion to f32.
std::string FormatText(const VectorRef& v);

// --- Conversion ----------------------------------------------------------------------------------

// `from` converted to `to`, as libSQL converts (f8 quantizes to min..max in 256 steps; 1-bit keeps
// the sign; f16 rounds to nearest even; bf16 truncates). The same type is copied.
Vector Convert(const VectorRef& from, Type to);

}  // namespace litehouse::vector
