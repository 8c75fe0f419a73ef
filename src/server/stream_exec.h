// RunOnStream: how a request of any transport gets its SQLite connection. Shared by Hrana over HTTP
// (hrana_http.cc) and over WebSocket (ws_session.cc).
#pragma once

#include <boost/asio.hpp>

#include "common/log.h"
#include "engine/database.h"
#include "protocol/stream.h"
#include "server/context.h"

namespace litehouse::server {

// `Holder` is a transport's stream: it has `protocol::Stream stream` and `engine::Lease lease`.
// Runs `work` on the connection `request` needs: the one the stream holds, else a reader if the
// request only reads, else the writer once it is free. Afterwards the stream keeps the connection
// only if a transaction is open on it. `work` receives null for requests that run no SQL.
template <typename Holder, typename Work>
asio::awaitable<void> RunOnStream(ServerContext& ctx, Holder& s, const protocol::StreamRequest& request, Work work) {
  bool need_writer = co_await RunSql(ctx, [&]() -> bool {
    if (s.lease) {
      LH_LOG_TRACE("stream request on the connection its transaction holds");
      work(s.lease.get());
      if (s.lease->autocommit()) s.lease.Release();
      return false;
    }
    auto reader = ctx.db.AcquireReader();
    if (!reader.ok()) return true;  // cannot open a reader: the writer still can serve this
    switch (s.stream.Classify(request, **reader)) {
      case protocol::Access::kNone: work(nullptr); return false;
      case protocol::Access::kRead:
        LH_LOG_TRACE("stream request on a reader");
        work(reader->get());
        if (!(*reader)->autocommit()) s.lease = std::move(*reader);
        return false;
      case protocol::Access::kWrite: return true;
    }
    return true;
  });
  if (!need_writer) co_return;
  engine::Lease writer = co_await AcquireWriter(ctx);
  LH_LOG_TRACE("stream request on the writer");
  co_await RunSql(ctx, [&] {
    work(writer.get());
    if (!writer->autocommit()) s.lease = std::move(writer);
    else writer.Release();  // here, on the SQL pool: a checkpoint may run in Release
  });
}

}  // namespace litehouse::server
