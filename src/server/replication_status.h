// GET /replication/status: where replication stands, as JSON, for operators and health checks.
//
//   primary: {"role": "primary", "log_id", "frame_no" (the last committed frame, null if none),
//             "replicas": [{"name", "next_frame_no", "lag_frames", "lag_ms", "last_seen_ms_ago"}]}
//   replica: {"role": "replica", "primary_url", "log_id", "frame_no" (the last applied), "primary_frame_no"
//             (as last heard), "lag_frames", "lag_ms", "connected", "last_error", "transactions_applied",
//             "snapshots_applied"}
//
// lag_ms is how long the node has been behind: since a replica last held every frame the primary
// had, or, on a replica, since it learned of a frame it has not applied; 0 when up to date.
#pragma once

#include "server/context.h"
#include "server/hrana_http.h"

namespace litehouse::server {

HttpReply ReplicationStatus(ServerContext& ctx);

// POST /replication/promote: turns this replica into the primary, with a new log_id (sqld has no
// such request; Litehouse's own). Needs a read-write credential. 200 with the new status; 409
// PROMOTION_REFUSED when this server is not a replica; 503 PROMOTION_FAILED when it could not be
// done (the replica then goes on tailing).
asio::awaitable<HttpReply> PromoteReplica(ServerContext& ctx, const Principal& who);

}  // namespace litehouse::server
