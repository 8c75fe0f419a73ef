#include "tools/dump_compat.h"

#include <algorithm>
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

// The table name after the keywords `words`, unquoted; `*end` receives the offset just past it.
std::optional<std::string> NameAfter(std::string_view sql, std::initializer_list<std::string_view> words,
                                     size_t* end = nullptr) {
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
    size_t last = sql.find(close, i + 1);
    if (last == std::string_view::npos) return std::nullopt;
    if (end) *end = last + 1;
    return std::string(sql.substr(i + 1, last - i - 1));
  }
  size_t start = i;
  while (i < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_')) ++i;
  if (end) *end = i;
  return std::string(sql.substr(start, i - start));
}


// The offset of the '(' opening the values of `INSERT INTO name VALUES(...)`, `i` being just past the
// name; npos for any other shape.
size_t ValuesAt(std::string_view sql, size_t i) {
  SkipSpace(sql, &i);
  if (AsciiLower(sql.substr(i, 6)) != "values") return std::string_view::npos;
  i += 6;
  SkipSpace(sql, &i);
  return i < sql.size() && sql[i] == '(' ? i : std::string_view::npos;
}

// The number of cells in an R*Tree node given as the blob literal at sql[*i] (X'...'): the big-endian
// 16-bit count after the 16-bit depth. nullopt when it is not such a literal.
std::optional<int> NodeCellCount(std::string_view sql, size_t* i) {
  SkipSpace(sql, i);
  if (sql.size() < *i + 10 || (sql[*i] != 'X' && sql[*i] != 'x') || sql[*i + 1] != '\'') return std::nullopt;
  int count = 0;
  for (size_t j = *i + 6; j < *i + 10; ++j) {
    if (!std::isxdigit(static_cast<unsigned char>(sql[j]))) return std::nullopt;
    count = count * 16 + (std::isdigit(static_cast<unsigned char>(sql[j])) ? sql[j] - '0' : std::tolower(sql[j]) - 'a' + 10);
  }
  return count;
}

}  // namespace

const DumpCompat::VirtualTable* DumpCompat::ShadowOwner(std::string_view table, std::string* suffix) const {
  std::string lower = AsciiLower(table);
  for (const auto& vt : virtual_tables_) {
    std::string prefix = AsciiLower(vt.name) + "_";
    if (lower.size() <= prefix.size() || lower.compare(0, prefix.size(), prefix) != 0) continue;
    for (std::string_view s : ShadowSuffixes(vt.module)) {
      if (lower.compare(prefix.size(), std::string::npos, s) == 0) {
        *suffix = std::string(s);
        return &vt;
      }
    }
  }
  return nullptr;
}

Status DumpCompat::RewriteShadowInsert(const VirtualTable& vt, const std::string& suffix, const std::string& sql,
                                       size_t after_name, std::vector<std::string>* out) const {
  const std::string shadow = vt.name + "_" + suffix;
  size_t values = ValuesAt(sql, after_name);
  if (values == std::string::npos) {
    out->push_back(sql);  // not a dump's shape: the server refuses it, naming the table
    return Status::OK();
  }
  size_t i = values + 1;
  auto first = ParseLiteral(sql, &i);
  const std::string why = " Litehouse lets no client write the shadow table " + shadow +
                          " (SQLITE_DBCONFIG_DEFENSIVE: a crafted row would corrupt the index).";
  if (vt.module == "fts5") {
    if (suffix == "config") {
      if (first && *first == "version") return Status::OK();  // the module's own
      out->push_back("INSERT INTO " + DoubleQuoted(vt.name) + "(" + DoubleQuoted(vt.name) + ",rank) VALUES" + sql.substr(values));
      return Status::OK();
    }
    if (suffix == "content" && vt.fts5.content == Fts5Content::kStored) {
      std::string columns = "rowid";
      for (const auto& c : vt.fts5.columns) columns.append(",").append(DoubleQuoted(c));
      out->push_back("INSERT INTO " + DoubleQuoted(vt.name) + "(" + columns + ") VALUES" + sql.substr(values));
      return Status::OK();
    }
    if (vt.fts5.content != Fts5Content::kNone) return Status::OK();  // the index, rebuilt by the rows
    // Contentless: the index is all there is. An empty one holds only its averages (id 1) and
    // structure (id 10) records, which CREATE VIRTUAL TABLE makes anew.
    if (suffix == "data" && first && (*first == "1" || *first == "10")) return Status::OK();
    return Status::InvalidArgument("the FTS5 table " + vt.name +
                                   " keeps no copy of its text (content=''), so its rows exist only in its index, "
                                   "and cannot be loaded from this dump:" + why +
                                   " Recreate " + vt.name + " and insert its documents again.");
  }
  // R*Tree: its rows are cells of the node blobs. An empty tree is one root node (1) without cells.
  if (suffix == "node" && first && *first == "1") {
    SkipSpace(sql, &i);
    if (i < sql.size() && sql[i] == ',') ++i;
    auto cells = NodeCellCount(sql, &i);
    if (cells && *cells == 0) return Status::OK();
  }
  return Status::InvalidArgument("the R*Tree table " + vt.name + " has its rows in this dump only inside " + shadow +
                                 ", and cannot be loaded from it:" + why + " Load the dump into a file with sqlite3, "
                                 "then import `litehouse dump FILE`, which writes " + vt.name + "'s rows through " +
                                 vt.name + ".");
}

Status DumpCompat::Rewrite(std::string sql, std::vector<std::string>* out) {
  std::string head = Compact(sql, 40);
  if (head.rfind("pragmawritable_schema=", 0) == 0) {
    // sqlite3 turns it off once, after every table and index: the content tables are loaded.
    if (head.rfind("pragmawritable_schema=on", 0) != 0) {
      for (const auto& name : rebuilds_) out->push_back("INSERT INTO " + DoubleQuoted(name) + "(" + DoubleQuoted(name) + ") VALUES('rebuild');");
      rebuilds_.clear();
    }
    return Status::OK();
  }
  if (head.rfind("insertintosqlite_schema(", 0) == 0 || head.rfind("insertintosqlite_master(", 0) == 0) {
    out->push_back(sql);
    size_t values = AsciiLower(sql).find("values");
    if (values == std::string::npos) return Status::OK();
    size_t i = sql.find('(', values);
    if (i == std::string::npos) return Status::OK();
    ++i;
    std::vector<std::string> fields;
    while (fields.size() < 5) {
      auto field = ParseLiteral(sql, &i);
      if (!field) return Status::OK();
      fields.push_back(std::move(*field));
      SkipSpace(sql, &i);
      if (i < sql.size() && sql[i] == ',') ++i;
    }
    if (AsciiLower(fields[0]) != "table" || Compact(fields[4], 18) != "createvirtualtable") return Status::OK();
    out->back() = fields[4] + ";";
    VirtualTable vt{fields[1], "", {}};
    if (auto parsed = ParseCreateVirtualTable(fields[4])) {
      vt.module = parsed->module;
      if (vt.module == "fts5") vt.fts5 = ParseFts5Args(parsed->args);
    }
    if (vt.module == "fts5" && vt.fts5.content == Fts5Content::kExternal) rebuilds_.push_back(vt.name);
    virtual_tables_.push_back(std::move(vt));
    return Status::OK();
  }
  std::string suffix;
  if (!virtual_tables_.empty() && head.rfind("createtableifnotexists", 0) == 0) {
    // How a dump announces a shadow table: the virtual table made it already (and DEFENSIVE refuses
    // even a CREATE TABLE IF NOT EXISTS that names one).
    auto name = NameAfter(sql, {"create", "table", "if", "not", "exists"});
    if (name && ShadowOwner(*name, &suffix)) return Status::OK();
  } else if (!virtual_tables_.empty() && head.rfind("insertinto", 0) == 0) {
    size_t end = 0;
    auto name = NameAfter(sql, {"insert", "into"}, &end);
    if (name) {
      if (const VirtualTable* vt = ShadowOwner(*name, &suffix)) return RewriteShadowInsert(*vt, suffix, sql, end, out);
    }
  }
  out->push_back(std::move(sql));
  return Status::OK();
}

void DumpWarnings::Feed(std::string_view chunk) {
  constexpr std::string_view kPrefix = "-- warning: ";
  constexpr size_t kMaxLineBytes = 4096;  // a longer warning is cut
  while (!done_ && !chunk.empty()) {
    size_t end = std::min(chunk.find('\n'), chunk.size());
    size_t room = kMaxLineBytes - std::min(line_.size(), kMaxLineBytes);
    line_.append(chunk.substr(0, std::min(end, room)));
    // A line that is no comment ends the header at once, however long it is.
    if (line_.size() >= 2 && line_.compare(0, 2, "--") != 0) done_ = true;
    if (done_ || end == chunk.size()) return;
    chunk.remove_prefix(end + 1);
    if (line_.rfind(kPrefix, 0) == 0) warnings_.push_back(line_.substr(kPrefix.size()));
    else if (line_.rfind("--", 0) != 0) done_ = true;
    line_.clear();
  }
}

}  // namespace litehouse::tools
