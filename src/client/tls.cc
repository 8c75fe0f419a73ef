#include "client/tls.h"

#include <openssl/ssl.h>

#include "client/timed.h"

namespace litehouse::client {

namespace ssl = boost::asio::ssl;

Result<std::shared_ptr<ssl::context>> MakeTlsContext() {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_default_verify_paths(ec);
  if (ec) return Status::Unavailable("cannot load the trusted certificate authorities: " + ec.message());
  ctx->set_verify_mode(ssl::verify_peer, ec);
  if (ec) return Status::Internal("cannot require certificate verification: " + ec.message());
  return ctx;
}

Status TlsHandshake(boost::asio::io_context& io, boost::beast::ssl_stream<boost::beast::tcp_stream>& stream,
                    const std::string& host, std::chrono::milliseconds timeout) {
  // SNI, so a server hosting several names presents the right certificate.
  if (!SSL_set_tlsext_host_name(stream.native_handle(), host.c_str())) {
    return Status::Unavailable("cannot set the TLS server name " + host);
  }
  stream.set_verify_callback(ssl::host_name_verification(host));
  boost::system::error_code ec = RunTimed(io, boost::beast::get_lowest_layer(stream), timeout, [&](auto handler) {
    stream.async_handshake(ssl::stream_base::client, std::move(handler));
  });
  if (ec) return Status::Unavailable("TLS handshake with " + host + " failed: " + ec.message());
  return Status::OK();
}

}  // namespace litehouse::client
