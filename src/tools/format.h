// Printer: query results as text, in the output modes of the sqlite3 shell's .mode.
//
//   list   a|b|c             (the default when output is not a terminal, as sqlite3)
//   csv    a,"b,1",c         (RFC 4180 quoting)
//   table  +---+---+ boxed, aligned columns (the default on a terminal)
//   line   one "name = value" line per column, a blank line between rows
//   json   [{"a":1,"b":"x"}]
// NULL prints as empty text (as sqlite3), "null" in json; a blob as X'hex' (a terminal never gets raw
// bytes); a real always with a '.' or an exponent.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "litehouse/client.h"

namespace litehouse::tools {

class Printer {
 public:
  enum class Mode { kList, kCsv, kTable, kLine, kJson };
  // The mode named `name`, or false.
  static bool ParseMode(std::string_view name, Mode* mode);

  Printer(Mode mode, bool headers) : mode_(mode), headers_(headers) {}
  void set_mode(Mode mode) { mode_ = mode; }
  void set_headers(bool on) { headers_ = on; }
  Mode mode() const { return mode_; }
  bool headers() const { return headers_; }

  // Writes `rs` (nothing when it has no columns).
  void Print(const ResultSet& rs, std::ostream& out) const;

 private:
  Mode mode_;
  bool headers_;
};

// A value as the shell shows it.
std::string DisplayText(const Value& value);

}  // namespace litehouse::tools
