// ReplicationService: sqld's `wal_log.ReplicationLog` service (Hello, BatchLogEntries, Snapshot,
// LogEntries) over the frame log, without a transport: a method's request message in, its response
// messages and gRPC status out. The server puts them in gRPC-web framing on its HTTP port
// (server/grpc_web.cc) after checking the caller's token.
//
// As sqld (libsql-server/src/rpc/replication/replication_log.rs):
//   - Hello answers the history's log_id, the last committed frame_no (absent while the log has
//     none) and a session token, the text of a UUID made once per process; later calls carry it as
//     x-session-token, and one that does not match is FAILED_PRECONDITION "NO_HELLO" (none at all is
//     accepted, as sqld's legacy mode does);
//   - BatchLogEntries returns the committed frames from next_offset, about 1024 (whole transactions
//     only), none when the caller is up to date; an offset compacted away is FAILED_PRECONDITION
//     "NEED_SNAPSHOT";
//   - Snapshot streams the snapshot's frames the caller lacks, the last one carrying the database's
//     size so they apply as one transaction; UNAVAILABLE while compaction is still making it;
//   - LogEntries is BatchLogEntries that waits for the next commit when the caller is up to date.
//
// Thread safety: every method may be called from any thread at once.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "replication/frame_log.h"

namespace litehouse::replication {

// gRPC status codes the service answers.
enum class GrpcCode : int {
  kOk = 0,
  kInvalidArgument = 3,
  kFailedPrecondition = 9,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kUnauthenticated = 16,
};

struct RpcReply {
  GrpcCode code = GrpcCode::kOk;
  std::string message;                // grpc-message when code is not kOk
  std::vector<std::string> messages;  // serialized response messages, in order
};

class ReplicationService {
 public:
  static constexpr std::string_view kPrefix = "/wal_log.ReplicationLog/";
  static constexpr size_t kMaxFramesPerBatch = 1024;

  // `log` null: this server keeps no log, and every call is refused with `why_not`.
  ReplicationService(const FrameLog* log, std::string why_not);

  // Calls `method` (the path after kPrefix) with the serialized request. `session_token` is the
  // x-session-token header (empty when absent). `wait` bounds how long LogEntries waits for a frame.
  RpcReply Call(std::string_view method, std::string_view request, std::string_view session_token,
                std::chrono::milliseconds wait = std::chrono::seconds(10)) const;

  const std::string& session_token() const { return session_token_; }
  // The history's log_id ("" without a log).
  std::string log_id() const { return log_ ? log_->log_id() : std::string(); }
  // The next_offset a LogEntries / BatchLogEntries request asks for, if it decodes.
  static std::optional<uint64_t> RequestedOffset(std::string_view request);
  // The last committed frame_no, for results that report where the primary stands; nullopt without
  // a log or a frame.
  std::optional<uint64_t> last_frame_no() const { return log_ ? log_->last_frame_no() : std::nullopt; }

 private:
  const FrameLog* log_;
  std::string why_not_;
  std::string session_token_;
  std::string generation_id_;
};

}  // namespace litehouse::replication
