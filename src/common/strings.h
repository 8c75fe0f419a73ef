// Small string helpers shared by modules.
#pragma once

#include <cctype>
#include <charconv>
#include <string>
#include <string_view>

namespace litehouse {

// ASCII case-insensitive equality (SQL keywords, pragma names, subprotocol names).
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

// `s` with ASCII letters in lower case (names SQLite compares without case).
inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// `name` as an SQL identifier in double quotes, inner double quotes doubled: always valid.
inline std::string DoubleQuoted(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// Appends `bytes` as an SQL blob literal, X'00ff' (lower-case hex, as sqlite3 writes them).
inline void AppendBlobLiteral(std::string_view bytes, std::string* out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out->append("X'");
  for (unsigned char c : bytes) {
    out->push_back(kDigits[c >> 4]);
    out->push_back(kDigits[c & 15]);
  }
  out->push_back('\'');
}

// Appends finite `d` in the shortest text that reads back as the same double, always with a '.' or an
// exponent so that SQL reads it as a REAL ("2.0", "0.1", "1e+308").
inline void AppendReal(double d, std::string* out) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  std::string_view text(buf, static_cast<size_t>(end - buf));
  out->append(text);
  if (text.find_first_of(".eE") == std::string_view::npos) out->append(".0");
}

}  // namespace litehouse
