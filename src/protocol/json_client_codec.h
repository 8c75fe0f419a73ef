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

}  // namespace litehouse::protocol::json
