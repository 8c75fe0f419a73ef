// RunTimed: a blocking network operation with a deadline.
//
// The client's API is synchronous, but Beast's synchronous operations ignore a stream's timeout, so a
// server that accepts and then never answers would block the caller forever. Each operation is
// therefore started asynchronously and the Client's own io_context run until it completes or the
// deadline passes: then the socket is closed and the operation fails with beast::error::timeout.
// Only one operation is in flight at a time.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>

#include <chrono>
#include <utility>

namespace litehouse::client {

// Starts the operation (`initiate(handler)`) and waits for it, at most `timeout` (0: no limit). The
// deadline is the io_context's (run_for), not a timer re-armed on every read: a response arriving in
// many segments costs no timer operations.
template <typename Initiate>
boost::beast::error_code RunTimed(boost::asio::io_context& io, boost::beast::tcp_stream& tcp,
                                  std::chrono::milliseconds timeout, Initiate&& initiate) {
  boost::beast::error_code result = boost::asio::error::would_block;
  bool done = false;
  std::forward<Initiate>(initiate)([&result, &done](boost::beast::error_code ec, auto&&...) {
    result = ec;
    done = true;
  });
  io.restart();
  if (timeout.count() <= 0) {
    io.run();
    return result;
  }
  io.run_for(timeout);
  if (done) return result;
  // Silent for too long: closing the socket ends the operation (operation_aborted), then it is timeout.
  tcp.close();
  io.restart();
  io.run();
  return boost::beast::error::timeout;
}

}  // namespace litehouse::client
