// libSQL's vector blob and text formats.
//
// BLOB FORMAT (libSQL's, byte for byte; every number little-endian)
//
// A blob is the vector's data part followed by its type's trailing bytes. The last byte names the
// type, except for f32, whose blobs carry no trailing bytes: a blob of even length is f32, which is
// why every other type's trailing bytes make the blob's length odd.
//
//   type       data part                                   trailing bytes        blob length
//   f32  (1)   dims x binary32                             none (or 01)          4d      (4d+1)
//   f64  (2)   dims x binary64                             02                    8d+1
//   f16  (5)   dims x binary16                             05                    2d+1
//   bf16 (6)   dims x bfloat16                             06                    2d+1
//   1bit (3)   ceil(d/8) bytes, element i is bit i%8 of    [00] tb 03            odd
//              byte i/8, set when the element is > 0
//   f8   (4)   d bytes q[i], 0..3 padding bytes to a       00 pb 04              align4(d)+8+3
//              multiple of 4, alpha (binary32),
//              shift (binary32); element i = alpha*q[i]+shift
//
// - f32 may also end in a type byte 01 (then its length is odd): read, never written.
// - 1bit: the pad byte 00 is present when ceil(d/8) is even, so that the blob's length is odd;
//   tb = 8 * (blob length - 1) - d, the bits of the blob (without its type byte) that are not
//   elements; a reader takes d = 8 * (length - 1) - tb.
// - f8: pb = align4(d) - d, the number of padding bytes; a reader takes d = (length - 3) - 8 - pb.
//   libSQL leaves the padding bytes uninitialized; we write zeros and read anything.
// - The empty vector: f32 is the empty blob; f64 is 02, f16 05, bf16 06, 1bit 00 10 03, f8 eight
//   zero-parameter bytes then 00 00 04.
// - At most kMaxDims (65536) elements.
//
// TEXT FORMAT
//
// '[' elements separated by ',' ']', with white space (SQLite's: space, \t \n \v \f \r) anywhere,
// even inside a number ('[1 2]' is [12]). An element is SQLite's real-number syntax: an optional sign,
// digits with an optional '.', an optional exponent (e, optional sign, digits), at least one digit
// before the exponent; no hex, no inf/nan. '[]' is the empty vector. Printed back as '[' elements
// printed with SQLite's "%g" and joined by ',' ']' (6 significant digits, 'Inf', '-Inf', 'NaN').
#include "vector/vector.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <locale.h>
#include <sqlite3.h>

#include "vector/elements.h"

namespace litehouse::vector {
namespace {

constexpr size_t kMaxElementChars = 1024;  // libSQL's limit on one element's text

size_t AlignTo4(uint32_t dims) { return (static_cast<size_t>(dims) + 3) / 4 * 4; }

// The trailing bytes after the data part (see the table above).
size_t TrailerSize(Type type, uint32_t dims) {
  switch (type) {
    case Type::kFloat32: return 0;
    case Type::kFloat64:
    case Type::kFloat16:
    case Type::kFloatB16: return 1;
    case Type::kFloat1Bit: return (DataSize(type, dims) % 2 == 0 ? 1 : 0) + 2;
    case Type::kFloat8: return 3;
  }
  return 0;
}

bool IsSqliteSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// True when `s` is a whole real number in SQLite's syntax (sqlite3AtoF returning > 0).
bool IsSqliteReal(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t digits = 0;
  while (i < s.size() && IsDigit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && IsDigit(s[i])) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && IsDigit(s[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

// The value of a number IsSqliteReal accepted, correctly rounded, whatever the process's locale.
double ToDouble(const std::string& s) {
  static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(0));
  return strtod_l(s.c_str(), nullptr, c_locale);
}

// Calls fn(i, value) for every element, value as libSQL computes it when converting: a double for
// f64, a float for every other type.
template <typename Fn>
void ForEachElement(const VectorRef& v, Fn&& fn) {
  const uint8_t* p = v.data;
  const uint32_t n = v.dims;
  switch (v.type) {
    case Type::kFloat32:
      for (uint32_t i = 0; i < n; ++i) fn(i, LoadF32(p + 4 * size_t{i}));
      break;
    case Type::kFloat64:
      for (uint32_t i = 0; i < n; ++i) fn(i, LoadF64(p + 8 * size_t{i}));
      break;
    case Type::kFloat16:
      for (uint32_t i = 0; i < n; ++i) fn(i, F16ToFloat(LoadU16(p + 2 * size_t{i})));
      break;
    case Type::kFloatB16:
      for (uint32_t i = 0; i < n; ++i) fn(i, BF16ToFloat(LoadU16(p + 2 * size_t{i})));
      break;
    case Type::kFloat8: {
      const float alpha = v.F8Alpha(), shift = v.F8Shift();
      for (uint32_t i = 0; i < n; ++i) fn(i, alpha * static_cast<float>(p[i]) + shift);
      break;
    }
    case Type::kFloat1Bit:
      for (uint32_t i = 0; i < n; ++i) fn(i, ((p[i / 8] >> (i % 8)) & 1) ? 1.0f : -1.0f);
      break;
  }
}

// f8 quantization: the elements' range, min..max, in 255 steps of alpha; each element to the nearest
// step, clamped to 0..255. Arithmetic in the source's element type, as libSQL's.
void QuantizeF8(const VectorRef& from, Vector& to) {
  float min = 0, max = 0;
  ForEachElement(from, [&](uint32_t i, auto value) {
    if (i == 0) {
      min = max = static_cast<float>(value);
    } else {
      min = static_cast<float>(min < value ? min : value);
      max = static_cast<float>(max > value ? max : value);
    }
  });
  const float shift = min;
  const float alpha = (max - min) / 255;
  uint8_t* out = to.data();
  ForEachElement(from, [&](uint32_t i, auto value) {
    const float q = static_cast<float>((value - shift) / alpha);
    if (q < 0) out[i] = 0;
    else if (q > 255) out[i] = 255;
    else if (q != q) out[i] = 0;  // NaN (all elements equal: 0/0): what libSQL's conversion gives on x86
    else out[i] = static_cast<uint8_t>(static_cast<int>(q + 0.5));
  });
  StoreF32(out + AlignTo4(from.dims), alpha);
  StoreF32(out + AlignTo4(from.dims) + 4, shift);
}

std::string LengthError(const char* what, size_t length) {
  return std::string("vector: ") + what + ": length=" + std::to_string(length);
}

}  // namespace

size_t DataSize(Type type, uint32_t dims) {
  const size_t d = dims;
  switch (type) {
    case Type::kFloat32: return 4 * d;
    case Type::kFloat64: return 8 * d;
    case Type::kFloat1Bit: return (d + 7) / 8;
    case Type::kFloat8: return AlignTo4(dims) + 8;
    case Type::kFloat16:
    case Type::kFloatB16: return 2 * d;
  }
  return 0;
}

float VectorRef::ElementF32(uint32_t i) const {
  float result = 0;
  switch (type) {
    case Type::kFloat32: result = LoadF32(data + 4 * size_t{i}); break;
    case Type::kFloat64: result = static_cast<float>(LoadF64(data + 8 * size_t{i})); break;
    case Type::kFloat16: result = F16ToFloat(LoadU16(data + 2 * size_t{i})); break;
    case Type::kFloatB16: result = BF16ToFloat(LoadU16(data + 2 * size_t{i})); break;
    case Type::kFloat8: result = F8Alpha() * static_cast<float>(data[i]) + F8Shift(); break;
    case Type::kFloat1Bit: result = ((data[i / 8] >> (i % 8)) & 1) ? 1.0f : -1.0f; break;
  }
  return result;
}

double VectorRef::ElementF64(uint32_t i) const {
  return type == Type::kFloat64 ? LoadF64(data + 8 * size_t{i}) : static_cast<double>(ElementF32(i));
}

float VectorRef::F8Alpha() const { return LoadF32(data + AlignTo4(dims)); }
float VectorRef::F8Shift() const { return LoadF32(data + AlignTo4(dims) + 4); }

Result<BlobHeader> ReadBlobHeader(std::span<const uint8_t> blob) {
  size_t n = blob.size();
  if (n % 2 == 0) return BlobHeader{Type::kFloat32, static_cast<int64_t>(n / 4), n};
  const int type_byte = blob[n - 1];
  --n;  // from here on, the length without the type byte
  switch (type_byte) {
    case static_cast<int>(Type::kFloat32):
      if (n % 4 != 0) {
        return Status::InvalidArgument(
            LengthError("float32 vector blob length must be divisible by 4 (excluding optional 'type'-byte)", n));
      }
      return BlobHeader{Type::kFloat32, static_cast<int64_t>(n / 4), n};
    case static_cast<int>(Type::kFloat64):
      if (n % 8 != 0) {
        return Status::InvalidArgument(
            LengthError("float64 vector blob length must be divisible by 8 (excluding 'type'-byte)", n));
      }
      return BlobHeader{Type::kFloat64, static_cast<int64_t>(n / 8), n};
    case static_cast<int>(Type::kFloat1Bit): {
      if (n == 0 || n % 2 != 0) {
        return Status::InvalidArgument(LengthError(
            "float1bit vector blob length must be divisible by 2 and not be empty (excluding 'type'-byte)", n));
      }
      const int64_t dims = static_cast<int64_t>(n) * 8 - blob[n - 1];
      return BlobHeader{Type::kFloat1Bit, dims, static_cast<size_t>(dims < 0 ? 0 : (dims + 7) / 8)};
    }
    case static_cast<int>(Type::kFloat8): {
      if (n < 2 || n % 2 != 0) {
        return Status::InvalidArgument(LengthError(
            "float8 vector blob length must be divisible by 2 and has at least 2 bytes (excluding 'type'-byte)", n));
      }
      const int64_t dims = static_cast<int64_t>(n) - 2 - 8 - blob[n - 1];
      return BlobHeader{Type::kFloat8, dims, n - 2};
    }
    case static_cast<int>(Type::kFloat16):
    case static_cast<int>(Type::kFloatB16):
      if (n % 2 != 0) {
        return Status::InvalidArgument(LengthError(type_byte == static_cast<int>(Type::kFloat16)
                                                     ? "float16 vector blob length must be divisible by 2 (excluding 'type'-byte)"
                                                     : "floatb16 vector blob length must be divisible by 2 (excluding 'type'-byte)",
                                                 n));
      }
      return BlobHeader{static_cast<Type>(type_byte), static_cast<int64_t>(n / 2), n};
    default:
      return Status::InvalidArgument("vector: unexpected binary type: " + std::to_string(type_byte));
  }
}

Result<VectorRef> DecodeBlob(std::span<const uint8_t> blob) {
  auto header = ReadBlobHeader(blob);
  if (!header.ok()) return header.status();
  const BlobHeader& h = *header;
  const std::string type_and_dims = "type=" + std::to_string(static_cast<int>(h.type)) + ", dims=" + std::to_string(h.dims);
  if (h.dims > kMaxDims) {
    return Status::InvalidArgument("vector: max size exceeded: " + std::to_string(h.dims) + " > " +
                                   std::to_string(kMaxDims));
  }
  // libSQL answers "out of memory" here (it allocates for the negative count as an unsigned one).
  if (h.dims < 0) return Status::InvalidArgument("vector: malformed blob: " + type_and_dims);
  const uint32_t dims = static_cast<uint32_t>(h.dims);
  if (h.data_bytes != DataSize(h.type, dims)) {
    return Status::InvalidArgument("vector: unexpected data part size: " + type_and_dims + ", " +
                                   std::to_string(h.data_bytes) + " != " + std::to_string(DataSize(h.type, dims)));
  }
  return VectorRef{h.type, dims, blob.data()};
}

std::vector<uint8_t> EncodeBlob(const VectorRef& v) {
  const size_t data_size = DataSize(v.type, v.dims);
  std::vector<uint8_t> blob(data_size + TrailerSize(v.type, v.dims), 0);
  if (data_size > 0) std::memcpy(blob.data(), v.data, data_size);
  const size_t n = blob.size();
  switch (v.type) {
    case Type::kFloat32: break;
    case Type::kFloat64:
    case Type::kFloat16:
    case Type::kFloatB16: blob[n - 1] = static_cast<uint8_t>(v.type); break;
    case Type::kFloat1Bit:
      // (the pad byte, when there is one, is already 0)
      blob[n - 2] = static_cast<uint8_t>(8 * (n - 1) - v.dims);
      blob[n - 1] = static_cast<uint8_t>(v.type);
      break;
    case Type::kFloat8:
      std::fill(blob.begin() + v.dims, blob.begin() + AlignTo4(v.dims), 0);  // padding: zeros, whatever v held
      blob[n - 3] = 0;
      blob[n - 2] = static_cast<uint8_t>(AlignTo4(v.dims) - v.dims);
      blob[n - 1] = static_cast<uint8_t>(v.type);
      break;
  }
  return blob;
}

Result<Vector> ParseText(std::string_view text, Type type) {
  std::vector<double> values;
  std::string element;
  size_t i = 0;
  auto at_end = [&] { return i >= text.size() || text[i] == '\0'; };
  auto skip_spaces = [&] {
    while (!at_end() && IsSqliteSpace(text[i])) ++i;
  };
  skip_spaces();
  if (at_end() || text[i] != '[') return Status::InvalidArgument("vector: must start with '['");
  ++i;
  for (; !at_end(); ++i) {
    const char c = text[i];
    if (IsSqliteSpace(c)) continue;
    if (c != ',' && c != ']') {
      if (element.size() > kMaxElementChars) {
        return Status::InvalidArgument("vector: float string length exceeded " + std::to_string(kMaxElementChars) +
                                       " characters: '" + element + "'");
      }
      element.push_back(c);
      continue;
    }
    if (c == ']' && values.empty() && element.empty()) break;  // '[]'
    if (!IsSqliteReal(element)) {
      return Status::InvalidArgument("vector: invalid float at position " + std::to_string(values.size()) + ": '" +
                                     element + "'");
    }
    if (values.size() >= kMaxDims) {
      return Status::InvalidArgument("vector: max size exceeded " + std::to_string(kMaxDims));
    }
    values.push_back(ToDouble(element));
    element.clear();
    if (c == ']') break;
  }
  skip_spaces();
  if (at_end() || text[i] != ']') return Status::InvalidArgument("vector: must end with ']'");
  ++i;
  skip_spaces();
  if (!at_end()) return Status::InvalidArgument("vector: non-space symbols after closing ']' are forbidden");

  Vector v(type, static_cast<uint32_t>(values.size()));
  uint8_t* out = v.data();
  for (size_t k = 0; k < values.size(); ++k) {
    if (type == Type::kFloat64) StoreF64(out + 8 * k, values[k]);
    else StoreF32(out + 4 * k, static_cast<float>(values[k]));
  }
  return v;
}

int64_t EstimateTextDims(std::string_view text) {
  int64_t commas = 0;
  bool has_digit = false;
  for (char c : text) {
    if (c == ',') ++commas;
    if (IsDigit(c)) has_digit = true;
  }
  return commas + (has_digit ? 1 : 0);
}

std::string FormatText(const VectorRef& v) {
  if (v.type != Type::kFloat32 && v.type != Type::kFloat64) {
    Vector f32 = Convert(v, Type::kFloat32);
    return FormatText(f32.ref());
  }
  std::string out = "[";
  char buf[32];
  for (uint32_t i = 0; i < v.dims; ++i) {
    const double value = v.type == Type::kFloat64 ? LoadF64(v.data + 8 * size_t{i}) : LoadF32(v.data + 4 * size_t{i});
    sqlite3_snprintf(sizeof buf, buf, "%g", value);
    if (i > 0) out.push_back(',');
    out.append(buf);
  }
  out.push_back(']');
  return out;
}

Vector Convert(const VectorRef& from, Type to) {
  Vector out(to, from.dims);
  uint8_t* p = out.data();
  if (from.type == to) {
    const size_t size = DataSize(to, from.dims);
    if (size > 0) std::memcpy(p, from.data, size);
    return out;
  }
  switch (to) {
    case Type::kFloat32:
      ForEachElement(from, [p](uint32_t i, auto value) { StoreF32(p + 4 * size_t{i}, static_cast<float>(value)); });
      break;
    case Type::kFloat64:
      ForEachElement(from, [p](uint32_t i, auto value) { StoreF64(p + 8 * size_t{i}, static_cast<double>(value)); });
      break;
    case Type::kFloat16:
      ForEachElement(from, [p](uint32_t i, auto value) { StoreU16(p + 2 * size_t{i}, FloatToF16(static_cast<float>(value))); });
      break;
    case Type::kFloatB16:
      ForEachElement(from, [p](uint32_t i, auto value) { StoreU16(p + 2 * size_t{i}, FloatToBF16(static_cast<float>(value))); });
      break;
    case Type::kFloat1Bit:
      ForEachElement(from, [p](uint32_t i, auto value) {
        if (value > 0) p[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
      });
      break;
    case Type::kFloat8: QuantizeF8(from, out); break;
  }
  return out;
}

}  // namespace litehouse::vector
