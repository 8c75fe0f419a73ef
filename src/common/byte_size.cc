#include "common/byte_size.h"

#include <cctype>
#include <string>

namespace litehouse {

std::optional<uint64_t> ParseByteSize(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  size_t digits = 0;
  uint64_t value = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) {
    uint64_t next = value * 10 + static_cast<uint64_t>(text[digits] - '0');
    if (next / 10 != value) return std::nullopt;
    value = next;
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  std::string unit;
  for (char c : text.substr(digits)) {
    if (!std::isspace(static_cast<unsigned char>(c))) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  struct Unit {
    const char* name;
    uint64_t factor;
  };
  static constexpr Unit kUnits[] = {{"", 1},          {"b", 1},
                                    {"k", 1000},      {"kb", 1000},      {"kib", 1024},
                                    {"m", 1000000},   {"mb", 1000000},   {"mib", 1024 * 1024},
                                    {"g", 1000000000}, {"gb", 1000000000}, {"gib", 1024ull * 1024 * 1024}};
  for (const Unit& u : kUnits) {
    if (unit == u.name) {
      if (value != 0 && u.factor > UINT64_MAX / value) return std::nullopt;
      return value * u.factor;
    }
  }
  return std::nullopt;
}

}  // namespace litehouse
