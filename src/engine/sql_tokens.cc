#include "engine/sql_tokens.h"

#include <cctype>

namespace litehouse::engine::sql {

namespace {

bool IsIdStart(unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; }
bool IsIdChar(unsigned char c) { return std::isalnum(c) || c == '_' || c == '$' || c >= 0x80; }

}  // namespace

Token Next(std::string_view s, size_t pos) {
  const size_t n = s.size();
  const unsigned char c = static_cast<unsigned char>(s[pos]);
  size_t i = pos + 1;
  if (std::isspace(c)) {
    while (i < n && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    return {Kind::kSpace, pos, i};
  }
  if (c == '-' && i < n && s[i] == '-') {
    while (i < n && s[i] != '\n') ++i;
    return {Kind::kComment, pos, i};
  }
  if (c == '/' && i < n && s[i] == '*') {
    size_t close = s.find("*/", i + 1);
    return {Kind::kComment, pos, close == std::string_view::npos ? n : close + 2};
  }
  if (c == '"' || c == '`' || c == '\'') {
    while (i < n) {
      if (s[i] == static_cast<char>(c)) {
        if (i + 1 < n && s[i + 1] == static_cast<char>(c)) {
          i += 2;
          continue;
        }
        ++i;
        break;
      }
      ++i;
    }
    return {c == '\'' ? Kind::kString : Kind::kQuoted, pos, i};
  }
  if (c == '[') {
    size_t close = s.find(']', i);
    return {Kind::kQuoted, pos, close == std::string_view::npos ? n : close + 1};
  }
  if (IsIdStart(c)) {
    while (i < n && IsIdChar(static_cast<unsigned char>(s[i]))) ++i;
    return {Kind::kIdent, pos, i};
  }
  if (std::isdigit(c) || (c == '.' && i < n && std::isdigit(static_cast<unsigned char>(s[i])))) {
    while (i < n && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    return {Kind::kNumber, pos, i};
  }
  return {Kind::kPunct, pos, i};
}

std::vector<Token> Tokens(std::string_view s) {
  std::vector<Token> out;
  for (size_t pos = 0; pos < s.size();) {
    Token t = Next(s, pos);
    if (t.kind != Kind::kSpace && t.kind != Kind::kComment) out.push_back(t);
    pos = t.end;
  }
  return out;
}

std::string Dequote(std::string_view text) {
  if (text.empty()) return {};
  char q = text.front();
  if (q == '[') return std::string(text.substr(1, text.size() >= 2 ? text.size() - 2 : 0));
  if (q != '"' && q != '`' && q != '\'') return std::string(text);
  std::string out;
  for (size_t i = 1; i < text.size(); ++i) {
    if (text[i] == q) {
      if (i + 1 < text.size() && text[i + 1] == q) {
        out.push_back(q);
        ++i;
        continue;
      }
      break;
    }
    out.push_back(text[i]);
  }
  return out;
}

std::string_view FirstWord(std::string_view s) {
  for (size_t pos = 0; pos < s.size();) {
    const Token t = Next(s, pos);
    if (t.kind == Kind::kIdent) return Text(s, t);
    if (t.kind != Kind::kSpace && t.kind != Kind::kComment) return {};
    pos = t.end;
  }
  return {};
}

}  // namespace litehouse::engine::sql
