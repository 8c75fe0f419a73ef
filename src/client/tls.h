// TLS for the remote backends: a client context that verifies the server's certificate against the
// system's trusted CAs (OpenSSL's default paths, which honour SSL_CERT_FILE and SSL_CERT_DIR), and
// the handshake with SNI and host name verification.
#pragma once

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "common/status.h"

namespace litehouse::client {

// A client context, or an error if OpenSSL cannot load the trusted CAs.
Result<std::shared_ptr<boost::asio::ssl::context>> MakeTlsContext();

// Performs the TLS handshake on a connected stream, checking the certificate names `host`.
// The client side of the handshake on `stream` (run on `io`, at most `timeout`), with SNI and host
// name verification for `host`.
Status TlsHandshake(boost::asio::io_context& io, boost::beast::ssl_stream<boost::beast::tcp_stream>& stream,
                    const std::string& host, std::chrono::milliseconds timeout);

}  // namespace litehouse::client
