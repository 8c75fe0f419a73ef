#include "protocol/errors.h"

#include <sqlite3.h>

#include "engine/connection.h"

namespace litehouse::protocol {

Error ErrorFromStatus(const Status& status) {
  if (status.IsSqlite()) {
    int code = status.sqlite_code();
    std::string message = "SQLite error: " + status.message();
    return Error{std::move(message), engine::PrimaryCodeName(code)};
  }
  switch (status.code()) {
    case StatusCode::kInvalidArgument: return Error{status.message(), "INVALID_REQUEST"};
    case StatusCode::kBusy: return Error{status.message(), "SQLITE_BUSY"};
    default: return Error{status.message(), "INTERNAL"};
  }
}

}  // namespace litehouse::protocol
