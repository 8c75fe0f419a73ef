#include "tools/format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "common/strings.h"

namespace litehouse::tools {
namespace {

// Display width: UTF-8 code points (continuation bytes take no column).
size_t Width(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string Csv(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  return out + "\"";
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out + "\"";
}

std::string JsonValue(const Value& v) {
  if (IsNull(v)) return "null";
  if (std::holds_alternative<int64_t>(v)) return DisplayText(v);
  if (const auto* d = std::get_if<double>(&v)) return std::isfinite(*d) ? DisplayText(v) : "null";
  if (const auto* s = std::get_if<std::string>(&v)) return JsonString(*s);
  return JsonString(DisplayText(v));
}

}  // namespace

std::string DisplayText(const Value& value) {
  if (IsNull(value)) return "";
  if (const auto* i = std::get_if<int64_t>(&value)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&value)) {
    if (std::isinf(*d)) return *d > 0 ? "Inf" : "-Inf";
    std::string text;
    AppendReal(*d, &text);
    return text;
  }
  if (const auto* s = std::get_if<std::string>(&value)) return *s;
  std::string out;
  AppendBlobLiteral(std::get<Blob>(value).bytes, &out);
  return out;
}

bool Printer::ParseMode(std::string_view name, Mode* mode) {
  if (name == "list") *mode = Mode::kList;
  else if (name == "csv") *mode = Mode::kCsv;
  else if (name == "table" || name == "box" || name == "column") *mode = Mode::kTable;
  else if (name == "line") *mode = Mode::kLine;
  else if (name == "json") *mode = Mode::kJson;
  else return false;
  return true;
}

void Printer::Print(const ResultSet& rs, std::ostream& out) const {
  if (rs.columns.empty()) return;
  const size_t ncol = rs.columns.size();
  std::vector<std::vector<std::string>> cells;
  cells.reserve(rs.rows.size());
  for (const auto& row : rs.rows) {
    std::vector<std::string> line;
    for (size_t i = 0; i < ncol; ++i) line.push_back(i < row.size() ? DisplayText(row[i]) : "");
    cells.push_back(std::move(line));
  }
  switch (mode_) {
    case Mode::kList:
    case Mode::kCsv: {
      const char sep = mode_ == Mode::kCsv ? ',' : '|';
      auto cell = [&](const std::string& s) { return mode_ == Mode::kCsv ? Csv(s) : s; };
      if (headers_) {
        for (size_t i = 0; i < ncol; ++i) out << (i ? std::string(1, sep) : "") << cell(rs.columns[i].name);
        out << "\n";
      }
      for (const auto& line : cells) {
        for (size_t i = 0; i < ncol; ++i) out << (i ? std::string(1, sep) : "") << cell(line[i]);
        out << "\n";
      }
      break;
    }
    case Mode::kTable: {
      std::vector<size_t> width(ncol, 0);
      for (size_t i = 0; i < ncol; ++i) width[i] = headers_ ? Width(rs.columns[i].name) : 0;
      for (const auto& line : cells)
        for (size_t i = 0; i < ncol; ++i) width[i] = std::max(width[i], Width(line[i]));
      auto rule = [&] {
        out << "+";
        for (size_t w : width) out << std::string(w + 2, '-') << "+";
        out << "\n";
      };
      auto print_line = [&](const std::vector<std::string>& values, const std::vector<bool>* numeric) {
        out << "|";
        for (size_t i = 0; i < ncol; ++i) {
          std::string pad(width[i] - Width(values[i]), ' ');
          bool right = numeric && (*numeric)[i];
          out << " " << (right ? pad + values[i] : values[i] + pad) << " |";
        }
        out << "\n";
      };
      rule();
      if (headers_) {
        std::vector<std::string> names;
        for (const auto& c : rs.columns) names.push_back(c.name);
        print_line(names, nullptr);
        rule();
      }
      for (size_t r = 0; r < cells.size(); ++r) {
        std::vector<bool> numeric(ncol);
        for (size_t i = 0; i < ncol; ++i) {
          const Value& v = rs.rows[r][i];
          numeric[i] = std::holds_alternative<int64_t>(v) || std::holds_alternative<double>(v);
        }
        print_line(cells[r], &numeric);
      }
      if (!cells.empty()) rule();
      break;
    }
    case Mode::kLine: {
      size_t w = 0;
      for (const auto& c : rs.columns) w = std::max(w, Width(c.name));
      for (size_t r = 0; r < cells.size(); ++r) {
        if (r) out << "\n";
        for (size_t i = 0; i < ncol; ++i) {
          out << std::string(w - Width(rs.columns[i].name), ' ') << rs.columns[i].name << " = " << cells[r][i] << "\n";
        }
      }
      break;
    }
    case Mode::kJson: {
      out << "[";
      for (size_t r = 0; r < rs.rows.size(); ++r) {
        out << (r ? ",\n" : "") << "{";
        for (size_t i = 0; i < ncol; ++i) {
          out << (i ? "," : "") << JsonString(rs.columns[i].name) << ":" << JsonValue(rs.rows[r][i]);
        }
        out << "}";
      }
      out << "]\n";
      break;
    }
  }
}

}  // namespace litehouse::tools
