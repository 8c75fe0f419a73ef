#include "server/replication_status.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "protocol/errors.h"

namespace litehouse::server {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void OptU64(Writer& w, const char* key, const std::optional<uint64_t>& v) {
  w.Key(key);
  if (v) {
    w.Uint64(*v);
  } else {
    w.Null();
  }
}

int64_t Ms(Clock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

}  // namespace

HttpReply ReplicationStatus(ServerContext& ctx) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  const auto now = ctx.clock.Now();
  w.StartObject();
  const ReplicaLink* link = ctx.replica();
  const replication::ReplicationService* service = ctx.replication();
  if (link && link->replica) {
    const replication::ReplicaState st = link->replica->state();
    w.Key("role");
    w.String("replica");
    w.Key("primary_url");
    w.String(link->primary.url.c_str());
    w.Key("log_id");
    w.String(st.log_id.c_str());
    OptU64(w, "frame_no", st.applied_frame_no);
    OptU64(w, "primary_frame_no", st.primary_frame_no);
    uint64_t lag = 0;
    if (st.primary_frame_no && (!st.applied_frame_no || *st.applied_frame_no < *st.primary_frame_no)) {
      lag = *st.primary_frame_no - (st.applied_frame_no ? *st.applied_frame_no : 0) + (st.applied_frame_no ? 0 : 1);
    }
    w.Key("lag_frames");
    w.Uint64(lag);
    w.Key("lag_ms");
    w.Int64(st.behind_since ? Ms(now - *st.behind_since) : 0);
    w.Key("connected");
    w.Bool(st.connected);
    w.Key("last_error");
    if (st.last_error.empty()) {
      w.Null();
    } else {
      w.String(st.last_error.c_str());
    }
    w.Key("transactions_applied");
    w.Uint64(st.transactions_applied);
    w.Key("snapshots_applied");
    w.Uint64(st.snapshots_applied);
  } else {
    w.Key("role");
    w.String("primary");
    w.Key("log_id");
    const std::string log_id = service ? service->log_id() : std::string();
    if (log_id.empty()) {
      w.Null();
    } else {
      w.String(log_id.c_str());
    }
    const auto last = service ? service->last_frame_no() : std::nullopt;
    OptU64(w, "frame_no", last);
    w.Key("replicas");
    w.StartArray();
    for (const auto& [id, peer] : ctx.replica_peers.peers()) {
      w.StartObject();
      w.Key("name");
      w.String(peer.name.c_str());
      w.Key("next_frame_no");
      w.Uint64(peer.next_frame_no);
      const uint64_t lag = last && *last + 1 > peer.next_frame_no ? *last + 1 - peer.next_frame_no : 0;
      w.Key("lag_frames");
      w.Uint64(lag);
      w.Key("lag_ms");
      w.Int64(lag > 0 ? Ms(now - peer.caught_up) : 0);
      w.Key("last_seen_ms_ago");
      w.Int64(Ms(now - peer.last_seen));
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return HttpReply{200, "application/json", std::string(buf.GetString(), buf.GetSize())};
}

asio::awaitable<HttpReply> PromoteReplica(ServerContext& ctx, const Principal& who) {
  if (who.grant != Grant::kReadWrite) {
    co_return ErrorReply(403, protocol::MakeError("AUTH_READ_ONLY", "A read-only token cannot promote a replica"));
  }
  if (!ctx.replica() || !ctx.opts.promote) {
    co_return ErrorReply(409, protocol::MakeError("PROMOTION_REFUSED", "This server is not a replica: it is the primary already"));
  }
  auto service = co_await RunSql(ctx, [&] { return ctx.opts.promote(); });
  if (!service.ok()) {
    co_return ErrorReply(503, protocol::MakeError("PROMOTION_FAILED", "The replica could not be promoted: " + service.status().message()));
  }
  ctx.Promote(std::move(service).value());
  co_return ReplicationStatus(ctx);
}

}  // namespace litehouse::server
