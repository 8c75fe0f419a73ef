#include "common/virtual_table.h"

#include <cctype>

#include "common/strings.h"

namespace litehouse {
namespace {

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
// Characters of an unquoted identifier (SQLite also allows any byte of a UTF-8 sequence).
bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || (static_cast<unsigned char>(c) & 0x80);
}

void SkipSpace(std::string_view s, size_t* i) {
  while (*i < s.size() && IsSpace(s[*i])) ++*i;
}

char CloseOf(char open) { return open == '[' ? ']' : open; }
bool IsQuote(char c) { return c == '\'' || c == '"' || c == '`' || c == '['; }

// The end of the token starting at s[i]: past its closing quote, or past its word characters.
size_t TokenEnd(std::string_view s, size_t i) {
  if (i >= s.size()) return i;
  if (IsQuote(s[i])) {
    char close = CloseOf(s[i]);
    for (size_t j = i + 1; j < s.size(); ++j) {
      if (s[j] != close) continue;
      if (close != ']' && j + 1 < s.size() && s[j + 1] == close) {
        ++j;  // a doubled quote
        continue;
      }
      return j + 1;
    }
    return s.size();
  }
  size_t j = i;
  while (j < s.size() && IsWordChar(s[j])) ++j;
  return j;
}

// Consumes keyword `word` (any case) at s[*i], after optional space.
bool Keyword(std::string_view s, size_t* i, std::string_view word) {
  size_t j = *i;
  SkipSpace(s, &j);
  size_t end = TokenEnd(s, j);
  if (end - j != word.size() || !EqualsIgnoreCase(s.substr(j, end - j), word)) return false;
  *i = end;
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string Dequote(std::string_view token) {
  if (token.size() < 2 || !IsQuote(token[0]) || token.back() != CloseOf(token[0])) return std::string(token);
  char close = CloseOf(token[0]);
  std::string out;
  for (size_t i = 1; i + 1 < token.size(); ++i) {
    out.push_back(token[i]);
    if (close != ']' && token[i] == close && i + 2 < token.size() && token[i + 1] == close) ++i;
  }
  return out;
}

std::optional<VirtualTableSql> ParseCreateVirtualTable(std::string_view sql) {
  size_t i = 0;
  if (!Keyword(sql, &i, "create") || !Keyword(sql, &i, "virtual") || !Keyword(sql, &i, "table")) return std::nullopt;
  size_t mark = i;
  if (!(Keyword(sql, &i, "if") && Keyword(sql, &i, "not") && Keyword(sql, &i, "exists"))) i = mark;
  VirtualTableSql out;
  SkipSpace(sql, &i);
  size_t end = TokenEnd(sql, i);
  if (end == i) return std::nullopt;
  out.name = Dequote(sql.substr(i, end - i));
  i = end;
  SkipSpace(sql, &i);
  if (i < sql.size() && sql[i] == '.') {  // schema.name
    ++i;
    SkipSpace(sql, &i);
    end = TokenEnd(sql, i);
    if (end == i) return std::nullopt;
    out.name = Dequote(sql.substr(i, end - i));
    i = end;
  }
  if (!Keyword(sql, &i, "using")) return std::nullopt;
  SkipSpace(sql, &i);
  end = TokenEnd(sql, i);
  if (end == i) return std::nullopt;
  out.module = AsciiLower(Dequote(sql.substr(i, end - i)));
  i = end;
  SkipSpace(sql, &i);
  if (i >= sql.size() || sql[i] != '(') return out;
  // The arguments: split at commas outside quotes and nested parentheses, up to the closing ')'.
  int depth = 0;
  size_t start = ++i;
  while (i < sql.size()) {
    char c = sql[i];
    if (IsQuote(c)) {
      i = TokenEnd(sql, i);
      continue;
    }
    if (c == '(') {
      ++depth;
    } else if (c == ')' && depth > 0) {
      --depth;
    } else if ((c == ')' || c == ',') && depth == 0) {
      std::string_view arg = Trim(sql.substr(start, i - start));
      if (!arg.empty() || c == ',') out.args.emplace_back(arg);
      if (c == ')') return out;
      start = i + 1;
    }
    ++i;
  }
  return std::nullopt;  // no closing ')'
}

Fts5Table ParseFts5Args(const std::vector<std::string>& args) {
  Fts5Table out;
  for (const auto& arg : args) {
    size_t end = TokenEnd(arg, 0);
    size_t i = end;
    SkipSpace(arg, &i);
    if (i < arg.size() && arg[i] == '=') {
      std::string key = AsciiLower(Dequote(std::string_view(arg).substr(0, end)));
      std::string value = Dequote(Trim(std::string_view(arg).substr(i + 1)));
      if (key == "content") out.content = value.empty() ? Fts5Content::kNone : Fts5Content::kExternal;
    } else if (end > 0) {
      out.columns.push_back(Dequote(std::string_view(arg).substr(0, end)));
    }
  }
  return out;
}

std::vector<std::string_view> ShadowSuffixes(std::string_view module) {
  std::string lower = AsciiLower(module);
  if (lower == "fts5") return {"data", "idx", "content", "docsize", "config"};
  if (lower == "rtree" || lower == "rtree_i32") return {"node", "parent", "rowid"};
  return {};
}

}  // namespace litehouse
