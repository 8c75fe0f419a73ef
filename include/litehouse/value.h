// Value: one SQL value, as the client library and the server's engine hand them around.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

namespace litehouse {

// A BLOB; kept apart from text so the two never mix (text is std::string, UTF-8).
struct Blob {
  std::string bytes;
  bool operator==(const Blob&) const = default;
};

// std::monostate is SQL NULL; then INTEGER, REAL, TEXT, BLOB.
using Value = std::variant<std::monostate, int64_t, double, std::string, Blob>;

inline bool IsNull(const Value& v) { return std::holds_alternative<std::monostate>(v); }

}  // namespace litehouse
