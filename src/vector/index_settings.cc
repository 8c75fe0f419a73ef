#include "vector/index_settings.h"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "common/strings.h"

namespace litehouse::vector {
namespace {

Status Error(std::string message) { return Status::Sqlite(SQLITE_ERROR, std::move(message)); }

struct ColumnTypeName {
  const char* name;
  Type type;
};
// In libSQL's order (vectorIndex.c's VECTOR_COLUMN_TYPES): a prefix match, so FLOAT32 before FLOAT3.
constexpr ColumnTypeName kColumnTypes[] = {
    {"FLOAT32", Type::kFloat32},   {"F32_BLOB", Type::kFloat32},  {"FLOAT64", Type::kFloat64},
    {"F64_BLOB", Type::kFloat64},  {"FLOAT1BIT", Type::kFloat1Bit}, {"F1BIT_BLOB", Type::kFloat1Bit},
    {"FLOAT8", Type::kFloat8},     {"F8_BLOB", Type::kFloat8},    {"FLOAT16", Type::kFloat16},
    {"F16_BLOB", Type::kFloat16},  {"FLOATB16", Type::kFloatB16}, {"FB16_BLOB", Type::kFloatB16},
};

void SkipSpaces(std::string_view s, size_t* i) {
  while (*i < s.size() && std::isspace(static_cast<unsigned char>(s[*i]))) ++*i;
}

struct EnumValue {
  const char* key;
  const char* value;
  int code;
};
constexpr EnumValue kEnumValues[] = {
    {"type", "diskann", 1},
    {"metric", "cosine", static_cast<int>(Metric::kCosine)},
    {"metric", "l2", static_cast<int>(Metric::kL2)},
    {"compress_neighbors", "float1bit", static_cast<int>(Type::kFloat1Bit)},
    {"compress_neighbors", "float8", static_cast<int>(Type::kFloat8)},
    {"compress_neighbors", "float16", static_cast<int>(Type::kFloat16)},
    {"compress_neighbors", "floatb16", static_cast<int>(Type::kFloatB16)},
    {"compress_neighbors", "float32", static_cast<int>(Type::kFloat32)},
};
enum class ParamKind { kEnum, kInt, kReal };
struct Param {
  const char* key;
  ParamKind kind;
};
constexpr Param kParams[] = {{"type", ParamKind::kEnum},          {"metric", ParamKind::kEnum},
                             {"compress_neighbors", ParamKind::kEnum}, {"alpha", ParamKind::kReal},
                             {"search_l", ParamKind::kInt},       {"insert_l", ParamKind::kInt},
                             {"max_neighbors", ParamKind::kInt}};

// sqlite3Atoi's reading: optional sign, digits, stops at the first other byte; 0 when none.
int64_t AtoiLikeSqlite(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  bool neg = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
  int64_t v = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && v < (int64_t{1} << 40)) v = v * 10 + (s[i++] - '0');
  return neg ? -v : v;
}

}  // namespace

Result<std::pair<Type, uint32_t>> ParseColumnType(std::string_view declared) {
  size_t i = 0;
  SkipSpaces(declared, &i);
  for (const ColumnTypeName& t : kColumnTypes) {
    const size_t n = std::strlen(t.name);
    if (declared.size() - i < n || !EqualsIgnoreCase(declared.substr(i, n), t.name)) continue;
    size_t j = i + n;
    SkipSpaces(declared, &j);
    if (j >= declared.size() || declared[j] != '(') break;
    ++j;
    SkipSpaces(declared, &j);
    int64_t dims = 0;
    while (j < declared.size() && declared[j] != ')' && !std::isspace(static_cast<unsigned char>(declared[j]))) {
      if (!std::isdigit(static_cast<unsigned char>(declared[j]))) return Error("non digit symbol in vector column parameter");
      dims = dims * 10 + (declared[j] - '0');
      if (dims > kMaxDims) return Error("max vector dimension exceeded");
      ++j;
    }
    SkipSpaces(declared, &j);
    if (j >= declared.size() || declared[j] != ')') return Error("missed closing brace for vector column type");
    ++j;
    SkipSpaces(declared, &j);
    if (j != declared.size()) return Error("extra data after dimension parameter for vector column type");
    if (dims <= 0) return Error("vector column must have non-zero dimension for index");
    return std::make_pair(t.type, static_cast<uint32_t>(dims));
  }
  return Error("unexpected vector column type");
}

Result<GraphSettings> ParseIndexOptions(std::string_view column_type, const std::vector<std::string>& options) {
  auto column = ParseColumnType(column_type);
  if (!column.ok()) return Error("vector index: " + column.status().message() + ": " + std::string(column_type));
  GraphSettings s;
  s.type = column->first;
  s.dims = column->second;
  bool edge_type_set = false;
  std::vector<std::string> given;
  for (const std::string& option : options) {
    auto fail = [&](const char* why) { return Error("vector index: invalid vector index parameter '" + option + "': " + why); };
    const size_t eq = option.find('=');
    if (eq == std::string::npos) return fail("unexpected parameter format");
    const std::string_view key = std::string_view(option).substr(0, eq);
    const std::string_view value = std::string_view(option).substr(eq + 1);
    const Param* param = nullptr;
    for (const Param& p : kParams) {
      if (EqualsIgnoreCase(key, p.key)) param = &p;
    }
    if (!param) return fail("invalid parameter");
    // libSQL keeps parameters in a fixed-size list and refuses a repeated one when it is full; a
    // parameter given twice is refused here at once (the same message).
    for (const std::string& g : given) {
      if (g == param->key) return fail("unable to serialize vector index parameter");
    }
    given.push_back(param->key);
    if (param->kind == ParamKind::kInt) {
      const int64_t v = AtoiLikeSqlite(value);
      if (v == 0) return fail("invalid representation of integer vector index parameter");
      if (v < 0) return fail("integer vector index parameter must be positive");
      // Bounded, as the work and memory of one walk are (index_settings.h): larger values are
      // taken as the bound.
      if (EqualsIgnoreCase(key, "search_l")) s.search_l = static_cast<uint32_t>(std::min<int64_t>(v, kMaxListLength));
      else if (EqualsIgnoreCase(key, "insert_l")) s.insert_l = static_cast<uint32_t>(std::min<int64_t>(v, kMaxListLength));
      else s.max_neighbors = static_cast<uint32_t>(std::min<int64_t>(v, kMaxNeighborsLimit));
      continue;
    }
    if (param->kind == ParamKind::kReal) {
      const std::string text(value);
      char* end = nullptr;
      const double v = std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v)) {
        return fail("invalid representation of floating point vector index parameter");
      }
      s.alpha = v;
      continue;
    }
    // libSQL compares the value's length of bytes only (sqlite3_strnicmp(name, value, len(value))):
    // a prefix names the first value it begins ('metric=cos' is cosine, 'compress_neighbors=float'
    // float1bit), as in its own tests.
    const EnumValue* found = nullptr;
    for (const EnumValue& e : kEnumValues) {
      const std::string_view name = e.value;
      if (found || !EqualsIgnoreCase(key, e.key) || value.size() > name.size()) continue;
      if (EqualsIgnoreCase(name.substr(0, value.size()), value)) found = &e;
    }
    if (!found) return fail("invalid parameter");
    if (EqualsIgnoreCase(key, "metric")) s.metric = static_cast<Metric>(found->code);
    if (EqualsIgnoreCase(key, "compress_neighbors")) {
      s.edge_type = static_cast<Type>(found->code);
      edge_type_set = true;
    }
  }
  if (!edge_type_set) s.edge_type = s.type;
  if (s.edge_type == Type::kFloat1Bit && s.metric != Metric::kCosine) {
    return Error("vector index: unable to initialize diskann: 1-bit compression available only for cosine metric");
  }
  if (s.type == Type::kFloat1Bit && s.metric != Metric::kCosine) {
    return Error("vector index: unable to initialize diskann: 1-bit vectors have only the cosine (Hamming) metric");
  }
  if (s.max_neighbors == 0) s.max_neighbors = DefaultMaxNeighbors(s.dims);
  return s;
}

std::string FormatSettings(const GraphSettings& s) {
  char alpha[32];
  sqlite3_snprintf(sizeof alpha, alpha, "%!.17g", s.alpha);
  return "type=" + std::to_string(static_cast<int>(s.type)) + " dims=" + std::to_string(s.dims) +
         " metric=" + (s.metric == Metric::kCosine ? "cosine" : "l2") +
         " edge_type=" + std::to_string(static_cast<int>(s.edge_type)) + " alpha=" + alpha +
         " search_l=" + std::to_string(s.search_l) + " insert_l=" + std::to_string(s.insert_l) +
         " max_neighbors=" + std::to_string(s.max_neighbors);
}

Result<GraphSettings> ParseSettings(std::string_view text) {
  GraphSettings s;
  int seen = 0;
  std::istringstream in{std::string(text)};
  std::string item;
  auto bad = [&] { return Status::Corruption("vector index settings: " + std::string(text)); };
  auto type_of = [](int64_t v, Type* t) {
    if (v < 1 || v > 6) return false;
    *t = static_cast<Type>(v);
    return true;
  };
  while (in >> item) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos) return bad();
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    char* end = nullptr;
    if (key == "metric") {
      if (value == "cosine") s.metric = Metric::kCosine;
      else if (value == "l2") s.metric = Metric::kL2;
      else return bad();
    } else if (key == "alpha") {
      s.alpha = std::strtod(value.c_str(), &end);
      if (end == value.c_str()) return bad();
    } else {
      const long long v = std::strtoll(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0' || v <= 0 || v > (1 << 20)) return bad();
      if (key == "type") { if (!type_of(v, &s.type)) return bad(); }
      else if (key == "edge_type") { if (!type_of(v, &s.edge_type)) return bad(); }
      else if (key == "dims") { if (v > kMaxDims) return bad(); s.dims = static_cast<uint32_t>(v); }
      else if (key == "search_l") { if (v > kMaxListLength) return bad(); s.search_l = static_cast<uint32_t>(v); }
      else if (key == "insert_l") { if (v > kMaxListLength) return bad(); s.insert_l = static_cast<uint32_t>(v); }
      else if (key == "max_neighbors") { if (v > kMaxNeighborsLimit) return bad(); s.max_neighbors = static_cast<uint32_t>(v); }
      else return bad();
    }
    ++seen;
  }
  if (seen != 8) return bad();
  return s;
}

}  // namespace litehouse::vector
