#include "vector/sql_functions.h"

#include <optional>
#include <string>

#include "vector/distance.h"
#include "vector/index_sql.h"
#include "vector/vector.h"

namespace litehouse::vector {
namespace {

const char* SqliteTypeName(int type) {
  switch (type) {
    case SQLITE_NULL: return "NULL";
    case SQLITE_INTEGER: return "INTEGER";
    case SQLITE_FLOAT: return "FLOAT";
    case SQLITE_BLOB: return "BLOB";
    case SQLITE_TEXT: return "TEXT";
    default: return "UNKNOWN";
  }
}

Status CheckValueType(sqlite3_value* value) {
  const int type = sqlite3_value_type(value);
  if (type == SQLITE_BLOB || type == SQLITE_TEXT) return Status::OK();
  return Status::InvalidArgument(std::string("vector: unexpected value type: got ") + SqliteTypeName(type) +
                                 ", expected TEXT or BLOB");
}

std::span<const uint8_t> BlobOf(sqlite3_value* value) {
  const auto* p = static_cast<const uint8_t*>(sqlite3_value_blob(value));
  const int n = sqlite3_value_bytes(value);
  return p ? std::span<const uint8_t>(p, static_cast<size_t>(n)) : std::span<const uint8_t>();
}

std::string_view TextOf(sqlite3_value* value) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_value_text(value));
  const int n = sqlite3_value_bytes(value);
  return p ? std::string_view(p, static_cast<size_t>(n)) : std::string_view();
}

// A function argument read as a vector: borrowed from its blob, or parsed from its text (as
// `text_type`) into `parsed`. The sqlite3_value must outlive it.
class VectorArg {
 public:
  VectorArg() = default;
  VectorArg(const VectorArg&) = delete;
  VectorArg& operator=(const VectorArg&) = delete;

  Status Read(sqlite3_value* value, Type text_type) {
    Status s = CheckValueType(value);
    if (!s.ok()) return s;
    if (sqlite3_value_type(value) == SQLITE_TEXT) {
      auto parsed = ParseText(TextOf(value), text_type);
      if (!parsed.ok()) return parsed.status();
      parsed_.emplace(std::move(*parsed));
      ref_ = parsed_->ref();
      return Status::OK();
    }
    auto decoded = DecodeBlob(BlobOf(value));
    if (!decoded.ok()) return decoded.status();
    ref_ = *decoded;
    return Status::OK();
  }
  const VectorRef& ref() const { return ref_; }

 private:
  std::optional<Vector> parsed_;
  VectorRef ref_;
};

void ResultError(sqlite3_context* ctx, const Status& s) {
  sqlite3_result_error(ctx, s.message().c_str(), static_cast<int>(s.message().size()));
}

void ResultBlob(sqlite3_context* ctx, const VectorRef& v) {
  std::vector<uint8_t> blob = EncodeBlob(v);
  if (blob.empty()) sqlite3_result_zeroblob(ctx, 0);
  else sqlite3_result_blob64(ctx, blob.data(), blob.size(), SQLITE_TRANSIENT);
}

// vector32(X) and its siblings; the target type is the function's user data.
void VectorFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
  const auto target = static_cast<Type>(reinterpret_cast<uintptr_t>(sqlite3_user_data(ctx)));
  VectorArg arg;
  Status s = arg.Read(argv[0], target == Type::kFloat64 ? Type::kFloat64 : Type::kFloat32);
  if (!s.ok()) return ResultError(ctx, s);
  if (arg.ref().type == target) return ResultBlob(ctx, arg.ref());
  Vector converted = Convert(arg.ref(), target);
  ResultBlob(ctx, converted.ref());
}

void VectorExtractFunc(sqlite3_context* ctx, int, sqlite3_value** argv) {
  VectorArg arg;
  Status s = arg.Read(argv[0], Type::kFloat32);
  if (!s.ok()) return ResultError(ctx, s);
  const std::string text = FormatText(arg.ref());
  sqlite3_result_text64(ctx, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

// The type and dimensions libSQL sees in an argument before it parses it: a blob's header, or f32
// and the text's estimated count. The distance functions check these first, in libSQL's order.
Result<std::pair<Type, int64_t>> PeekVector(sqlite3_value* value) {
  Status s = CheckValueType(value);
  if (!s.ok()) return s;
  if (sqlite3_value_type(value) == SQLITE_TEXT) return std::pair{Type::kFloat32, EstimateTextDims(TextOf(value))};
  auto header = ReadBlobHeader(BlobOf(value));
  if (!header.ok()) return header.status();
  if (header->dims > kMaxDims) {
    return Status::InvalidArgument("vector: max size exceeded: " + std::to_string(header->dims) + " > " +
                                   std::to_string(kMaxDims));
  }
  return std::pair{header->type, header->dims};
}

enum class Metric { kCosine, kL2 };

void DistanceFunc(sqlite3_context* ctx, sqlite3_value** argv, Metric metric) {
  auto a = PeekVector(argv[0]);
  if (!a.ok()) return ResultError(ctx, a.status());
  auto b = PeekVector(argv[1]);
  if (!b.ok()) return ResultError(ctx, b.status());
  auto mismatch = [&](const char* what, int64_t x, int64_t y) {
    ResultError(ctx, Status::InvalidArgument(std::string("vector_distance: vectors must have the same ") + what + ": " +
                                             std::to_string(x) + " != " + std::to_string(y)));
  };
  if (a->first != b->first) return mismatch("type", static_cast<int>(a->first), static_cast<int>(b->first));
  if (a->second != b->second) return mismatch("length", a->second, b->second);
  if (metric == Metric::kL2 && a->first == Type::kFloat1Bit) {
    return ResultError(ctx, Status::InvalidArgument("vector_distance: l2 distance is not supported for float1bit vectors"));
  }
  VectorArg x, y;
  Status s = x.Read(argv[0], Type::kFloat32);
  if (s.ok()) s = y.Read(argv[1], Type::kFloat32);
  if (!s.ok()) return ResultError(ctx, s);
  if (x.ref().dims != y.ref().dims) return mismatch("length", x.ref().dims, y.ref().dims);
  const float d = metric == Metric::kCosine ? DistanceCos(x.ref(), y.ref()) : DistanceL2(x.ref(), y.ref());
  sqlite3_result_double(ctx, d);  // NaN becomes NULL
}

void DistanceCosFunc(sqlite3_context* ctx, int, sqlite3_value** argv) { DistanceFunc(ctx, argv, Metric::kCosine); }
void DistanceL2Func(sqlite3_context* ctx, int, sqlite3_value** argv) { DistanceFunc(ctx, argv, Metric::kL2); }

}  // namespace

Status RegisterSqlFunctions(sqlite3* db) {
  constexpr int kFlags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
  struct Function {
    const char* name;
    int args;
    void (*fn)(sqlite3_context*, int, sqlite3_value**);
    Type target;
  };
  const Function functions[] = {
      {"vector", 1, VectorFunc, Type::kFloat32},
      {"vector32", 1, VectorFunc, Type::kFloat32},
      {"vector64", 1, VectorFunc, Type::kFloat64},
      {"vector16", 1, VectorFunc, Type::kFloat16},
      {"vectorb16", 1, VectorFunc, Type::kFloatB16},
      {"vector8", 1, VectorFunc, Type::kFloat8},
      {"vector1bit", 1, VectorFunc, Type::kFloat1Bit},
      {"vector_extract", 1, VectorExtractFunc, Type::kFloat32},
      {"vector_distance_cos", 2, DistanceCosFunc, Type::kFloat32},
      {"vector_distance_l2", 2, DistanceL2Func, Type::kFloat32},
  };
  for (const Function& f : functions) {
    void* target = reinterpret_cast<void*>(static_cast<uintptr_t>(f.target));
    int rc = sqlite3_create_function_v2(db, f.name, f.args, kFlags, target, f.fn, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      return Status::Sqlite(rc, std::string("registering ") + f.name + ": " + sqlite3_errmsg(db));
    }
  }
  // The vector index's functions and vector_top_k (index_sql.h).
  return RegisterIndexFunctions(db);
}

}  // namespace litehouse::vector
