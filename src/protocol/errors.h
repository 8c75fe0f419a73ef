// The one place where a Status becomes a Hrana error, and the protocol's own error codes.
#pragma once

#include <string>

#include "common/status.h"
#include "protocol/hrana.h"

namespace litehouse::protocol {

// A SQLite failure keeps the primary code's name ("SQLITE_CONSTRAINT" for every constraint failure:
// the clients compare that exact string); the extended name goes in the message.
Error ErrorFromStatus(const Status& status);

inline Error MakeError(std::string code, std::string message) { return Error{std::move(message), std::move(code)}; }

}  // namespace litehouse::protocol
