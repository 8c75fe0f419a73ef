// Fuzz target: what the client library decodes from a server (a hostile or broken server must not
// crash its clients): HTTP pipeline responses, the Hrana error of an HTTP refusal, and WebSocket
// server messages (protocol/json_client_codec.h).
//
// Input: one header line, then the body the server would send.
//   "error\n<body>"             json::ParseErrorBody
//   "ws <t>\n<message>"         json::PeekWsRequestId, then json::ParseWsServerMsg answering a request of type <t>
//   "pipeline <t...>\n<body>"   json::ParsePipelineResponse answering one request per <t> (at most 64)
// where each <t> names a stream request: c close, x execute, b batch, s sequence, d describe,
// S store_sql, C close_sql, a get_autocommit.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "protocol/json_client_codec.h"

namespace {

using litehouse::protocol::StreamRequest;

std::optional<StreamRequest::Type> TypeOf(char c) {
  using T = StreamRequest::Type;
  switch (c) {
    case 'c': return T::kClose;
    case 'x': return T::kExecute;
    case 'b': return T::kBatch;
    case 's': return T::kSequence;
    case 'd': return T::kDescribe;
    case 'S': return T::kStoreSql;
    case 'C': return T::kCloseSql;
    case 'a': return T::kGetAutocommit;
    default: return std::nullopt;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace litehouse::protocol;  // NOLINT
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t eol = input.find('\n');
  if (eol == std::string_view::npos) return 0;
  std::string_view header = input.substr(0, eol);
  std::string_view body = input.substr(eol + 1);
  if (header == "error") {
    (void)json::ParseErrorBody(body);
  } else if (header.size() == 4 && header.substr(0, 3) == "ws ") {
    auto type = TypeOf(header[3]);
    if (!type) return 0;
    (void)json::PeekWsRequestId(body);
    (void)json::ParseWsServerMsg(body, *type);
  } else if (header.substr(0, 9) == "pipeline ") {
    std::string_view types = header.substr(9);
    if (types.size() > 64) return 0;
    PipelineRequest request;
    for (char c : types) {
      auto type = TypeOf(c);
      if (!type) return 0;
      request.requests.emplace_back().type = *type;
    }
    (void)json::ParsePipelineResponse(body, request);
  }
  return 0;
}
