#include "replication/service.h"

#include "replication/proto/replication_log.pb.h"

namespace litehouse::replication {
namespace {

RpcReply Fail(GrpcCode code, std::string message) { return RpcReply{code, std::move(message), {}}; }

// The reply to a read of the log that did not return frames, or that failed.
RpcReply NotFrames(ReadOutcome outcome, const Status& error) {
  if (!error.ok()) return Fail(GrpcCode::kInternal, error.ToString());
  if (outcome == ReadOutcome::kNeedSnapshot) return Fail(GrpcCode::kFailedPrecondition, "NEED_SNAPSHOT");
  return Fail(GrpcCode::kUnavailable, "snapshot not found");
}

}  // namespace

ReplicationService::ReplicationService(const FrameLog* log, std::string why_not)
    : log_(log), why_not_(std::move(why_not)), session_token_(UuidText(NewUuid())), generation_id_(UuidText(NewUuid())) {}

std::optional<uint64_t> ReplicationService::RequestedOffset(std::string_view request) {
  wal_log::LogOffset offset;
  if (!offset.ParseFromArray(request.data(), static_cast<int>(request.size()))) return std::nullopt;
  return offset.next_offset();
}

RpcReply ReplicationService::Call(std::string_view method, std::string_view request, std::string_view session_token,
                                  std::chrono::milliseconds wait) const {
  if (method != "Hello" && method != "BatchLogEntries" && method != "Snapshot" && method != "LogEntries") {
    return Fail(GrpcCode::kUnimplemented, "unknown method " + std::string(method));
  }
  if (!log_) return Fail(GrpcCode::kFailedPrecondition, why_not_);
  if (Status s = log_->status(); !s.ok()) {
    return Fail(GrpcCode::kUnavailable, "the replication log is broken until the server restarts: " + s.message());
  }
  if (method == "Hello") {
    wal_log::HelloRequest req;
    if (!req.ParseFromArray(request.data(), static_cast<int>(request.size()))) {
      return Fail(GrpcCode::kInvalidArgument, "cannot decode HelloRequest");
    }
    wal_log::HelloResponse resp;
    resp.set_generation_id(generation_id_);
    resp.set_generation_start_index(0);
    resp.set_log_id(log_->log_id());
    resp.set_session_token(session_token_);
    if (auto last = log_->last_frame_no()) resp.set_current_replication_index(*last);
    resp.mutable_config();
    return RpcReply{GrpcCode::kOk, "", {resp.SerializeAsString()}};
  }
  if (!session_token.empty() && session_token != session_token_) return Fail(GrpcCode::kFailedPrecondition, "NO_HELLO");
  wal_log::LogOffset offset;
  if (!offset.ParseFromArray(request.data(), static_cast<int>(request.size()))) {
    return Fail(GrpcCode::kInvalidArgument, "cannot decode LogOffset");
  }
  if (offset.has_wal_flavor() && offset.wal_flavor() == wal_log::LogOffset::Libsql) {
    return Fail(GrpcCode::kInvalidArgument, "libsql wal not supported");
  }
  const uint64_t next = offset.next_offset();
  std::vector<LogFrame> frames;
  Status error;
  ReadOutcome outcome;
  if (method == "Snapshot") {
    outcome = log_->ReadSnapshot(next, &frames, &error);
    if (!error.ok() || outcome != ReadOutcome::kFrames || frames.empty()) {
      return NotFrames(outcome == ReadOutcome::kFrames ? ReadOutcome::kSnapshotPending : outcome, error);
    }
  } else {
    if (method == "LogEntries") {
      std::optional<uint64_t> have = next == 0 ? std::nullopt : std::optional<uint64_t>(next - 1);
      log_->WaitForFrame(have, std::chrono::steady_clock::now() + wait);
    }
    outcome = log_->ReadFrames(next, kMaxFramesPerBatch, &frames, &error);
    if (!error.ok() || outcome != ReadOutcome::kFrames) return NotFrames(outcome, error);
  }
  RpcReply reply;
  if (method == "BatchLogEntries") {
    wal_log::Frames out;
    for (auto& f : frames) out.add_frames()->set_data(std::move(f));
    reply.messages.push_back(out.SerializeAsString());
  } else {
    for (auto& f : frames) {
      wal_log::Frame one;
      one.set_data(std::move(f));
      reply.messages.push_back(one.SerializeAsString());
    }
  }
  return reply;
}

}  // namespace litehouse::replication
