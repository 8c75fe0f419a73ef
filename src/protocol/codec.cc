#include "protocol/codec.h"

#include "protocol/json_codec.h"

namespace litehouse::protocol {

const Codec& ProtobufCodecInstance();  // protobuf_codec.cc

namespace {

class JsonCodec final : public Codec {
 public:
  const char* content_type() const override { return "application/json"; }
  Result<PipelineRequest> ParsePipelineRequest(std::string_view body) const override {
    return json::ParsePipelineRequest(body);
  }
  Result<CursorRequest> ParseCursorRequest(std::string_view body) const override { return json::ParseCursorRequest(body); }
  std::string EncodePipelineResponse(const std::optional<std::string>& baton, const std::optional<std::string>& base_url,
                                     const std::vector<StreamResult>& results) const override {
    return json::EncodePipelineResponse(baton, base_url, results);
  }
  void AppendCursorHead(const std::optional<std::string>& baton, const std::optional<std::string>& base_url,
                        std::string* out) const override {
    *out += json::EncodeCursorHead(baton, base_url);
  }
  void AppendStepBegin(uint32_t step, const std::vector<Col>& cols, std::string* out) const override {
    *out += json::EncodeStepBegin(step, cols);
  }
  void AppendRow(const std::vector<Value>& row, std::string* out) const override { *out += json::EncodeRow(row); }
  void AppendStepEnd(uint64_t affected, const std::optional<int64_t>& rowid, std::string* out) const override {
    *out += json::EncodeStepEnd(affected, rowid);
  }
  void AppendStepError(uint32_t step, const Error& error, std::string* out) const override {
    *out += json::EncodeStepError(step, error);
  }
  void AppendCursorError(const Error& error, std::string* out) const override { *out += json::EncodeCursorError(error); }
};

}  // namespace

const Codec& CodecFor(Encoding encoding) {
  static const JsonCodec json_codec;
  return encoding == Encoding::kJson ? static_cast<const Codec&>(json_codec) : ProtobufCodecInstance();
}

}  // namespace litehouse::protocol
