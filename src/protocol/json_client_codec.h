// The client's side of Hrana's JSON over HTTP: it writes pipeline requests and reads pipeline
// responses (json_codec.h is the server's side). Parsing never throws; a response that does not
// match the request (count or types of results) is kInvalidArgument.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "protocol/hrana.h"

namespace litehouse::protocol::json {

struct PipelineResponse {
  std::optional<std::string> baton;
  std::optional<std::string> base_url;
  std::vector<StreamResult> results;
};

std::string EncodePipelineRequest(const PipelineRequest& request);
// `request` is the request this answers: each result must be of its request's type.
Result<PipelineResponse> ParsePipelineResponse(std::string_view body, const PipelineRequest& request);
// The Hrana Error in the body of an HTTP refusal ({"message", "code"}).
Result<Error> ParseErrorBody(std::string_view body);

// ---- Hrana over WebSocket, JSON (hrana2/hrana3), the client's side ----

std::string EncodeWsHello(const std::optional<std::string>& jwt);
// open_stream / close_stream for `stream_id`.
std::string EncodeWsStreamControl(int32_t request_id, bool open, int32_t stream_id);
// A stream request (execute, batch, sequence, describe, get_autocommit) on `stream_id`.
std::string EncodeWsStreamRequest(int32_t request_id, int32_t stream_id, const StreamRequest& request);

struct WsServerReply {
  enum class Type { kHelloOk, kHelloError, kResponseOk, kResponseError };
  Type type = Type::kHelloOk;
  int32_t request_id = 0;
  StreamResult result;  // response_ok: the stream-level response (when `expected` has one); errors
};
// The request_id of a server message, if it has one (hello replies have none).
std::optional<int32_t> PeekWsRequestId(std::string_view text);
// A server message; a response_ok is parsed as the answer to a request of type `expected`.
Result<WsServerReply> ParseWsServerMsg(std::string_view text, StreamRequest::Type expected);

}  // namespace litehouse::protocol::json
