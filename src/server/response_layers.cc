#include "server/response_layers.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>

namespace litehouse::server {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// The q-value of one Accept-Encoding element's parameters ("q=0.5"); 1 when absent, 0 when unreadable.
double QValue(std::string_view params) {
  while (!params.empty()) {
    size_t semi = params.find(';');
    std::string_view p = Trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
    if (p.size() >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
      std::string v(p.substr(2));
      char* end = nullptr;
      double q = std::strtod(v.c_str(), &end);
      return end == v.c_str() ? 0 : q;
    }
  }
  return 1;
}

}  // namespace

std::string AllowedHeaders(std::string_view requested) {
  requested = Trim(requested);
  return requested.empty() ? std::string("*") : std::string(requested);
}

bool AcceptsGzip(std::string_view accept_encoding) {
  // Elements are "coding[;q=x]"; an explicit gzip decides, else `*` does.
  std::optional<double> gzip, any;
  while (!accept_encoding.empty()) {
    size_t comma = accept_encoding.find(',');
    std::string_view item = Trim(accept_encoding.substr(0, comma));
    accept_encoding = comma == std::string_view::npos ? std::string_view() : accept_encoding.substr(comma + 1);
    size_t semi = item.find(';');
    std::string_view coding = Trim(item.substr(0, semi));
    double q = semi == std::string_view::npos ? 1 : QValue(item.substr(semi + 1));
    if (IEquals(coding, "gzip") || IEquals(coding, "x-gzip")) gzip = q;
    else if (coding == "*") any = q;
  }
  if (gzip) return *gzip > 0;
  return any && *any > 0;
}

bool WorthCompressing(std::string_view content_type, size_t size) {
  if (size < kMinCompressBytes) return false;
  // Already compressed, or a stream to be read as it comes (as tower-http's default predicate).
  for (std::string_view skip : {"image/", "application/grpc", "text/event-stream"}) {
    if (content_type.substr(0, skip.size()) == skip) return false;
  }
  return true;
}

std::optional<std::string> Gzip(std::string_view data) {
  if (data.size() > UINT32_MAX / 2) return std::nullopt;  // zlib counts in 32 bits; no response is this large
  z_stream z{};
  // windowBits 15 + 16: a gzip header and trailer around the deflate stream.
  if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return std::nullopt;
  std::string out;
  out.resize(deflateBound(&z, static_cast<uLong>(data.size())));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  size_t written = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return std::nullopt;
  out.resize(written);
  return out;
}

struct GzipStream::State {
  z_stream z{};
};

std::unique_ptr<GzipStream> GzipStream::Make() {
  auto state = std::make_unique<State>();
  // windowBits 15 + 16: a gzip header and trailer around the deflate stream.
  if (deflateInit2(&state->z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return nullptr;
  return std::unique_ptr<GzipStream>(new GzipStream(std::move(state)));
}

GzipStream::GzipStream(std::unique_ptr<State> state) : state_(std::move(state)) {}

GzipStream::~GzipStream() { deflateEnd(&state_->z); }

std::optional<std::string> GzipStream::Flush(std::string_view data) { return Deflate(data, Z_SYNC_FLUSH); }

std::optional<std::string> GzipStream::Finish() { return Deflate({}, Z_FINISH); }

std::optional<std::string> GzipStream::Deflate(std::string_view data, int flush) {
  if (data.size() > UINT32_MAX / 2) return std::nullopt;  // zlib counts in 32 bits
  z_stream& z = state_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  std::string out;
  // deflateBound covers a whole stream's input; a flush adds a few bytes (an empty stored block,
  // the trailer). The loop grows the room should it still be short.
  size_t room = deflateBound(&z, static_cast<uLong>(data.size())) + 64;
  for (;;) {
    const size_t used = out.size();
    out.resize(used + room);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    z.avail_out = static_cast<uInt>(room);
    int rc = deflate(&z, flush);
    out.resize(out.size() - z.avail_out);
    if (rc == Z_STREAM_ERROR) return std::nullopt;
    if (flush == Z_FINISH && rc == Z_STREAM_END) return out;
    // Done when zlib had output room left over (so it flushed everything) and took all the input.
    if (flush != Z_FINISH && z.avail_out > 0 && z.avail_in == 0) return out;
    if (rc != Z_OK && rc != Z_BUF_ERROR) return std::nullopt;
    room = std::max<size_t>(room, 4096);
  }
}

}  // namespace litehouse::server
