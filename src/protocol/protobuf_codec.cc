// Hrana's Protobuf encoding of the HTTP bodies (proto/hrana.proto). Cursor responses are a sequence of
// length-delimited messages: a varint byte count, then the message, first CursorRespBody, then
// CursorEntry after CursorEntry.
#include "protocol/codec.h"
#include "protocol/protobuf_detail.h"

namespace litehouse::protocol {
namespace {

using namespace pbconv;  // NOLINT: the shared conversions of protobuf_detail.h
namespace pb = litehouse::hrana::pb;

class ProtobufCodec final : public Codec {
 public:
  const char* content_type() const override { return "application/x-protobuf"; }

  Result<PipelineRequest> ParsePipelineRequest(std::string_view body) const override {
    pb::PipelineReqBody msg;
    if (!msg.ParseFromArray(body.data(), static_cast<int>(body.size()))) return Invalid("cannot decode PipelineReqBody");
    PipelineRequest req;
    if (msg.has_baton()) req.baton = msg.baton();
    req.requests.resize(static_cast<size_t>(msg.requests_size()));
    std::string err;
    for (int i = 0; i < msg.requests_size(); ++i)
      if (!FromPb(msg.requests(i), &req.requests[static_cast<size_t>(i)], &err)) return Invalid(err);
    return req;
  }

  Result<CursorRequest> ParseCursorRequest(std::string_view body) const override {
    pb::CursorReqBody msg;
    if (!msg.ParseFromArray(body.data(), static_cast<int>(body.size()))) return Invalid("cannot decode CursorReqBody");
    CursorRequest req;
    if (msg.has_baton()) req.baton = msg.baton();
    std::string err;
    if (!FromPb(msg.batch(), &req.batch, &err)) return Invalid(err);
    return req;
  }

  std::string EncodePipelineResponse(const std::optional<std::string>& baton, const std::optional<std::string>& base_url,
                                     const std::vector<StreamResult>& results) const override {
    pb::PipelineRespBody msg;
    if (baton) msg.set_baton(*baton);
    if (base_url) msg.set_base_url(*base_url);
    for (const auto& r : results) {
      pb::StreamResult* pr = msg.add_results();
      if (r.ok) ToPb(r.response, pr->mutable_ok());
      else ToPb(r.error, pr->mutable_error());
    }
    return msg.SerializeAsString();
  }

  void AppendCursorHead(const std::optional<std::string>& baton, const std::optional<std::string>& base_url,
                        std::string* out) const override {
    pb::CursorRespBody msg;
    if (baton) msg.set_baton(*baton);
    if (base_url) msg.set_base_url(*base_url);
    AppendDelimited(msg, out);
  }
  void AppendStepBegin(uint32_t step, const std::vector<Col>& cols, std::string* out) const override {
    CursorEntry e{CursorEntry::Type::kStepBegin};
    e.step = step;
    e.cols = cols;
    Append(e, out);
  }
  void AppendRow(const std::vector<Value>& row, std::string* out) const override {
    CursorEntry e{CursorEntry::Type::kRow};
    e.row = row;
    Append(e, out);
  }
  void AppendStepEnd(uint64_t affected, const std::optional<int64_t>& rowid, std::string* out) const override {
    CursorEntry e{CursorEntry::Type::kStepEnd};
    e.affected_row_count = affected;
    e.last_insert_rowid = rowid;
    Append(e, out);
  }
  void AppendStepError(uint32_t step, const Error& error, std::string* out) const override {
    CursorEntry e{CursorEntry::Type::kStepError};
    e.step = step;
    e.error = error;
    Append(e, out);
  }
  void AppendCursorError(const Error& error, std::string* out) const override {
    CursorEntry e{CursorEntry::Type::kError};
    e.error = error;
    Append(e, out);
  }

 private:
  static void Append(const CursorEntry& entry, std::string* out) {
    pb::CursorEntry msg;
    ToPb(entry, &msg);
    AppendDelimited(msg, out);
  }
};

}  // namespace

const Codec& ProtobufCodecInstance() {
  static const ProtobufCodec codec;
  return codec;
}

}  // namespace litehouse::protocol
