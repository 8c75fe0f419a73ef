// Channel: one Hrana stream, local or remote. The client (client.cc) is written once over channels;
// a backend only says how a list of stream requests reaches a stream and comes back.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <memory>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "protocol/hrana.h"

namespace litehouse::client {

class Channel {
 public:
  virtual ~Channel() = default;
  // Runs `requests` in order on this stream; with `close`, the stream ends after them. The results
  // come back one per request (errors of a request are results, not a failed Status).
  virtual Result<std::vector<protocol::StreamResult>> Send(std::vector<protocol::StreamRequest> requests,
                                                           bool close) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Result<std::unique_ptr<Channel>> OpenChannel() = 0;
  // The database as SQL text (engine/dump.h's format), handed to `sink` piece by piece; a failed
  // sink stops the dump with its Status. Remote: GET /dump, streamed.
  virtual Status Dump(const std::function<Status(std::string_view)>& sink) = 0;
};

// A database file (or ":memory:") in this process, on one SQLite connection of its own; with
// `read_only`, a reader connection that never writes the file.
Result<std::unique_ptr<Backend>> OpenLocalBackend(const std::string& path, bool read_only);
// Where a remote backend connects, and how.
struct RemoteOptions {
  std::string host, port, auth_token;
  bool tls = false;
  std::chrono::milliseconds timeout{0};  // per network operation (client/timed.h); 0: none
};
// A Hrana server over HTTP (/v2/pipeline, JSON).
Result<std::unique_ptr<Backend>> OpenHttpBackend(const RemoteOptions& options);
// A Hrana server over WebSocket (hrana3 or hrana2, JSON).
Result<std::unique_ptr<Backend>> OpenWsBackend(const RemoteOptions& options);

}  // namespace litehouse::client
