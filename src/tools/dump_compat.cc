#include "tools/dump_compat.h"

#include <cctype>
#include <initializer_list>
#include <optional>

#include "common/strings.h"

namespace litehouse::tools {
namespace {

// The statement in lower case without whitespace: enough to recognise the fixed shapes dumps write.
std::string Compact(std::string_view sql, size_t limit) {
  std::string out;
  for (char c : sql) {
    if (out.size() >= limit) break;
    if (!std::isspace(static_cast<unsigned char>(c))) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

void SkipSpace(std::string_view s, size_t* i) {
  while (*i < s.size() && std::isspace(static_cast<unsigned char>(s[*i]))) ++*i;
}

// A literal at s[*i]: a quoted string (unquoted) or a bare token (a number, NULL).
std::optional<std::string> ParseLiteral(std::string_view s, size_t* i) {
  SkipSpace(s, i);
  if (*i >= s.size()) return std::nullopt;
  if (s[*i] == '\'') {
    std::string out;
    for (size_t j = *i + 1; j < s.size(); ++j) {
      if (s[j] != '\'') {
        out.push_back(s[j]);
      } else if (j + 1 < s.size() && s[j + 1] == '\'') {
        out.push_back('\'');
        ++j;
      } else {
        *i = j + 1;
        return out;
      }
    }
    return std::nullopt;
  }
  size_t start = *i;
  while (*i < s.size() && (std::isalnum(static_cast<unsigned char>(s[*i])) || s[*i] == '-' || s[*i] == '.')) ++*i;
  if (*i == start) return std::nullopt;
  return std::string(s.substr(start, *i - start));
}

// The table name after the keywords `words`, unquoted.
std::optional<std::string> NameAfter(std::string_view sql, std::initializer_list<std::string_view> words) {
  size_t i = 0;
  for (std::string_view word : words) {
    SkipSpace(sql, &i);
    if (AsciiLower(sql.substr(i, word.size())) != word) return std::nullopt;
    i += word.size();
  }
  SkipSpace(sql, &i);
  if (i >= sql.size()) return std::nullopt;
  char open = sql[i];
  char close = open == '[' ? ']' : open;
  if (open == '\'' || open == '"' || open == '`' || open == '[') {
    size_t end = sql.find(close, i + 1);
    if (end == std::string_view::npos) return std::nullopt;
    return std::string(sql.substr(i + 1, end - i - 1));
  }
  size_t start = i;
  while (i < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_')) ++i;
  return std::string(sql.substr(start, i - start));
}

}  // namespace

DumpCompat::Action DumpCompat::Rewrite(std::string* sql) {
  std::string head = Compact(*sql, 40);
  if (head.rfind("pragmawritable_schema=", 0) == 0) return Action::kSkip;
  if (head.rfind("insertintosqlite_schema(", 0) == 0 || head.rfind("insertintosqlite_master(", 0) == 0) {
    size_t values = AsciiLower(*sql).find("values");
    if (values == std::string::npos) return Action::kRun;
    size_t i = sql->find('(', values);
    if (i == std::string::npos) return Action::kRun;
    ++i;
    std::vector<std::string> fields;
    while (fields.size() < 5) {
      auto field = ParseLiteral(*sql, &i);
      if (!field) return Action::kRun;
      fields.push_back(std::move(*field));
      SkipSpace(*sql, &i);
      if (i < sql->size() && (*sql)[i] == ',') ++i;
    }
    if (AsciiLower(fields[0]) != "table" || Compact(fields[4], 18) != "createvirtualtable") return Action::kRun;
    virtual_tables_.push_back(AsciiLower(fields[1]) + "_");
    *sql = fields[4] + ";";
    return Action::kRun;
  }
  if (virtual_tables_.empty()) return Action::kRun;
  if (head.rfind("createtableifnotexists", 0) == 0) {
    // How a dump announces a shadow table (engine/dump.h): it exists already if the virtual table
    // made it.
    auto name = NameAfter(*sql, {"create", "table", "if", "not", "exists"});
    if (!name) return Action::kRun;
    std::string lower = AsciiLower(*name);
    for (const auto& prefix : virtual_tables_) {
      if (lower.rfind(prefix, 0) == 0) shadow_tables_.insert(lower);
    }
    return Action::kRun;
  }
  if (head.rfind("insertinto", 0) == 0) {
    auto target = NameAfter(*sql, {"insert", "into"});
    if (target && shadow_tables_.count(AsciiLower(*target))) {
      size_t insert = AsciiLower(*sql).find("insert");
      sql->replace(insert, 6, "INSERT OR REPLACE");
    }
  }
  return Action::kRun;
}

}  // namespace litehouse::tools
