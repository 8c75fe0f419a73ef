// The one place where a Status becomes a Hrana error, and the protocol's own error codes.
#pragma once

#include <string>

#include "common/status.h"
#include "protocol/hrana.h"

namespace litehouse::protocol {

// A SQLite failure keeps the primary code's name ("SQLITE_CONSTRAINT" for every constraint failure:
// the clients compare that exact string); the extended name goes in the message.
// Plain SQLITE_ERROR has no name of its own in sqld's table and is reported as "SQLITE_UNKNOWN", as
// sqld does.
Error ErrorFromStatus(const Status& status);

// The error of a statement that failed to prepare: a syntax error is SQL_PARSE_ERROR, an error
// SQLite can point at (`error_offset` >= 0, e.g. "no such column") is SQL_INPUT_ERROR, as sqld
// reports them; anything else as ErrorFromStatus.
Error PrepareError(const Status& status, int error_offset);

inline Error MakeError(std::string code, std::string message) { return Error{std::move(message), std::move(code)}; }

}  // namespace litehouse::protocol
