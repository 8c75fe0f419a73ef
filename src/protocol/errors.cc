#include "protocol/errors.h"

#include <sqlite3.h>

#include "engine/connection.h"

namespace litehouse::protocol {

Error ErrorFromStatus(const Status& status) {
  if (status.IsSqlite()) {
    int code = status.sqlite_code();
    std::string message = "SQLite error: " + status.message();
    return Error{std::move(message), (code & 0xff) == SQLITE_ERROR ? "SQLITE_UNKNOWN" : engine::PrimaryCodeName(code)};
  }
  switch (status.code()) {
    case StatusCode::kInvalidArgument: return Error{status.message(), "INVALID_REQUEST"};
    case StatusCode::kBusy: return Error{status.message(), "SQLITE_BUSY"};
    default: return Error{status.message(), "INTERNAL"};
  }
}

Error PrepareError(const Status& status, int error_offset) {
  if (status.IsSqlite() && (status.sqlite_code() & 0xff) == SQLITE_ERROR) {
    const std::string& msg = status.message();
    if (msg.find("syntax error") != std::string::npos || msg.find("incomplete input") != std::string::npos ||
        msg.find("unrecognized token") != std::string::npos) {
      return Error{"SQL string could not be parsed: " + msg, "SQL_PARSE_ERROR"};
    }
    if (error_offset >= 0) {
      return Error{"SQL input error: " + msg + " (at offset " + std::to_string(error_offset) + ")", "SQL_INPUT_ERROR"};
    }
  }
  return ErrorFromStatus(status);
}

}  // namespace litehouse::protocol
