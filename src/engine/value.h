// Value: one SQLite value as it crosses the engine boundary (bound as an argument, read from a row).
#pragma once

#include <cstdint>
#include <string>
#include <variant>

namespace litehouse::engine {

// A BLOB; kept apart from text so the two never mix (text is std::string, UTF-8).
struct Blob {
  std::string bytes;
  bool operator==(const Blob&) const = default;
};

// monostate is SQL NULL.
using Value = std::variant<std::monostate, int64_t, double, std::string, Blob>;

inline bool IsNull(const Value& v) { return std::holds_alternative<std::monostate>(v); }

}  // namespace litehouse::engine
