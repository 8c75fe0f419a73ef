// Codec: one interface over Hrana's two encodings of the HTTP bodies (JSON and Protobuf), so the
// transport handles `/v3/pipeline` and `/v3-protobuf/pipeline` with the same code.
//
// Parsing never throws: malformed input is a kInvalidArgument Status saying what is wrong.
// Error bodies of HTTP refusals (bad baton, unparsable body) are JSON in both encodings, as sqld's are.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "protocol/hrana.h"

namespace litehouse::protocol {

enum class Encoding { kJson, kProtobuf };

class Codec {
 public:
  virtual ~Codec() = default;
  virtual const char* content_type() const = 0;
  virtual Result<PipelineRequest> ParsePipelineRequest(std::string_view body) const = 0;
  virtual Result<CursorRequest> ParseCursorRequest(std::string_view body) const = 0;
  virtual std::string EncodePipelineResponse(const std::optional<std::string>& baton,
                                             const std::optional<std::string>& base_url,
                                             const std::vector<StreamResult>& results) const = 0;
  // Cursor response pieces, each appended to *out: JSON lines, or length-delimited Protobuf messages.
  virtual void AppendCursorHead(const std::optional<std::string>& baton, const std::optional<std::string>& base_url,
                                std::string* out) const = 0;
  virtual void AppendStepBegin(uint32_t step, const std::vector<Col>& cols, std::string* out) const = 0;
  virtual void AppendRow(const std::vector<Value>& row, std::string* out) const = 0;
  virtual void AppendStepEnd(uint64_t affected_row_count, const std::optional<int64_t>& last_insert_rowid,
                             std::string* out) const = 0;
  virtual void AppendStepError(uint32_t step, const Error& error, std::string* out) const = 0;
  virtual void AppendCursorError(const Error& error, std::string* out) const = 0;
};

// The codec of `encoding`; a static instance, safe to share between threads.
const Codec& CodecFor(Encoding encoding);

}  // namespace litehouse::protocol
