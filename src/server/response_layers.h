// What sqld wraps around every HTTP route (http/user/mod.rs: tower-http's CorsLayer and
// CompressionLayer), for our responses: CORS for browser clients, and gzip for clients that accept it.
//
// CORS: any origin, method and header may call us (sqld's CorsLayer with Any everywhere). Every
// response carries `Access-Control-Allow-Origin: *`; a preflight (OPTIONS with Origin and
// Access-Control-Request-Method) is answered 204 with the methods and headers allowed. Unlike
// sqld's literal `*` for headers, we echo the headers the browser asks for: by the Fetch standard `*`
// does not cover `Authorization`, so a browser client with an auth token passes our preflight where
// it fails sqld's. Nothing is allowed with credentials (cookies): tokens travel in headers.
//
// Compression: a body of at least kMinCompressBytes whose client sends `Accept-Encoding` with gzip
// (q > 0, or `*`) is sent gzip-compressed, with `Vary: Accept-Encoding`. sqld compresses past 32
// bytes; below about a kilobyte gzip saves a few bytes for more CPU than the response cost to make,
// so we start higher (docs/COMPATIBILITY.md).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace litehouse::server {

constexpr size_t kMinCompressBytes = 1024;

// Every response's Access-Control-Allow-Origin.
inline constexpr std::string_view kAllowOrigin = "*";
// The value of Access-Control-Allow-Headers for a preflight that asked for `requested` (its
// Access-Control-Request-Headers, possibly empty).
std::string AllowedHeaders(std::string_view requested);

// True when an Accept-Encoding header value accepts gzip.
bool AcceptsGzip(std::string_view accept_encoding);

// Whether a response of `content_type` and `size` bytes is worth compressing.
bool WorthCompressing(std::string_view content_type, size_t size);

// `data` as a gzip member (RFC 1952), at zlib's fastest level; nullopt if zlib fails.
std::optional<std::string> Gzip(std::string_view data);

// One gzip member made piece by piece, for a body written as it is made (a streamed cursor). Each
// piece is deflated and flushed (Z_SYNC_FLUSH), so what was written so far decodes whole; Finish
// ends the member. Not thread-safe; may move between threads between calls.
class GzipStream {
 public:
  // Null if zlib could not start.
  static std::unique_ptr<GzipStream> Make();
  ~GzipStream();
  GzipStream(const GzipStream&) = delete;
  GzipStream& operator=(const GzipStream&) = delete;
  // The compressed bytes of `data`, flushed to a byte boundary; nullopt if zlib fails.
  std::optional<std::string> Flush(std::string_view data);
  // The member's last bytes (the deflate end and the gzip trailer); nullopt if zlib fails.
  std::optional<std::string> Finish();

 private:
  struct State;
  explicit GzipStream(std::unique_ptr<State> state);
  std::optional<std::string> Deflate(std::string_view data, int flush);
  std::unique_ptr<State> state_;
};

}  // namespace litehouse::server
