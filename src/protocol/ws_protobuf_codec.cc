// Hrana over WebSocket, Protobuf encoding (binary frames): ClientMsg in, ServerMsg out, as declared
// in proto/hrana.proto (from HRANA_3_SPEC.md "Protobuf schema", package hrana.ws).
#include "protocol/pb_wire.h"
#include "protocol/protobuf_detail.h"
#include "protocol/ws_codec.h"

namespace litehouse::protocol {
namespace {

using namespace pbconv;  // NOLINT
namespace pb = litehouse::hrana::pb;

template <typename Req>
void SqlOf(const Req& r, StreamRequest* out) {
  if (r.has_sql()) out->sql = r.sql();
  if (r.has_sql_id()) out->sql_id = r.sql_id();
}

bool FromPb(const pb::RequestMsg& m, WsRequest* out, std::string* err) {
  using T = WsRequest::Type;
  StreamRequest& sr = out->stream_request;
  switch (m.request_case()) {
    case pb::RequestMsg::kOpenStream: out->type = T::kOpenStream; out->stream_id = m.open_stream().stream_id(); return true;
    case pb::RequestMsg::kCloseStream: out->type = T::kCloseStream; out->stream_id = m.close_stream().stream_id(); return true;
    case pb::RequestMsg::kExecute:
      out->type = T::kExecute;
      out->stream_id = m.execute().stream_id();
      sr.type = StreamRequest::Type::kExecute;
      return pbconv::FromPb(m.execute().stmt(), &sr.stmt, err);
    case pb::RequestMsg::kBatch:
      out->type = T::kBatch;
      out->stream_id = m.batch().stream_id();
      sr.type = StreamRequest::Type::kBatch;
      return pbconv::FromPb(m.batch().batch(), &sr.batch, err);
    case pb::RequestMsg::kOpenCursor:
      out->type = T::kOpenCursor;
      out->stream_id = m.open_cursor().stream_id();
      out->cursor_id = m.open_cursor().cursor_id();
      sr.type = StreamRequest::Type::kBatch;
      return pbconv::FromPb(m.open_cursor().batch(), &sr.batch, err);
    case pb::RequestMsg::kCloseCursor: out->type = T::kCloseCursor; out->cursor_id = m.close_cursor().cursor_id(); return true;
    case pb::RequestMsg::kFetchCursor:
      out->type = T::kFetchCursor;
      out->cursor_id = m.fetch_cursor().cursor_id();
      out->max_count = m.fetch_cursor().max_count();
      return true;
    case pb::RequestMsg::kSequence:
      out->type = T::kSequence;
      out->stream_id = m.sequence().stream_id();
      sr.type = StreamRequest::Type::kSequence;
      SqlOf(m.sequence(), &sr);
      return true;
    case pb::RequestMsg::kDescribe:
      out->type = T::kDescribe;
      out->stream_id = m.describe().stream_id();
      sr.type = StreamRequest::Type::kDescribe;
      SqlOf(m.describe(), &sr);
      return true;
    case pb::RequestMsg::kStoreSql:
      out->type = T::kStoreSql;
      sr.type = StreamRequest::Type::kStoreSql;
      sr.sql = m.store_sql().sql();
      sr.sql_id = m.store_sql().sql_id();
      return true;
    case pb::RequestMsg::kCloseSql:
      out->type = T::kCloseSql;
      sr.type = StreamRequest::Type::kCloseSql;
      sr.sql_id = m.close_sql().sql_id();
      return true;
    case pb::RequestMsg::kGetAutocommit:
      out->type = T::kGetAutocommit;
      out->stream_id = m.get_autocommit().stream_id();
      sr.type = StreamRequest::Type::kGetAutocommit;
      return true;
    case pb::RequestMsg::REQUEST_NOT_SET: break;
  }
  *err = "a request of an unknown type";
  return false;
}

void ToPb(const WsResponse& r, pb::ResponseOkMsg* out) {
  using T = WsRequest::Type;
  const StreamResponse& sr = r.stream_response;
  switch (r.type) {
    case T::kOpenStream: out->mutable_open_stream(); break;
    case T::kCloseStream: out->mutable_close_stream(); break;
    case T::kExecute: pbconv::ToPb(sr.stmt_result, out->mutable_execute()->mutable_result()); break;
    case T::kBatch: pbconv::ToPb(sr.batch_result, out->mutable_batch()->mutable_result()); break;
    case T::kOpenCursor: out->mutable_open_cursor(); break;
    case T::kCloseCursor: out->mutable_close_cursor(); break;
    case T::kFetchCursor: {
      auto* f = out->mutable_fetch_cursor();
      for (const auto& e : r.entries) pbconv::ToPb(e, f->add_entries());
      f->set_done(r.done);
      break;
    }
    case T::kSequence: out->mutable_sequence(); break;
    case T::kDescribe: pbconv::ToPb(sr.describe_result, out->mutable_describe()->mutable_result()); break;
    case T::kStoreSql: out->mutable_store_sql(); break;
    case T::kCloseSql: out->mutable_close_sql(); break;
    case T::kGetAutocommit: out->mutable_get_autocommit()->set_is_autocommit(sr.is_autocommit); break;
  }
}

class WsProtobufCodec final : public WsCodec {
 public:
  Result<ClientMsg> ParseClientMsg(std::string_view data) const override {
    pb::ClientMsg m;
    if (!m.ParseFromArray(data.data(), static_cast<int>(data.size()))) return Invalid("cannot decode ClientMsg");
    ClientMsg msg;
    switch (m.msg_case()) {
      case pb::ClientMsg::kHello:
        msg.type = ClientMsg::Type::kHello;
        if (m.hello().has_jwt()) msg.jwt = m.hello().jwt();
        return msg;
      case pb::ClientMsg::kRequest: {
        msg.type = ClientMsg::Type::kRequest;
        msg.request_id = m.request().request_id();
        std::string err;
        if (!FromPb(m.request(), &msg.request, &err)) return Invalid(err);
        return msg;
      }
      case pb::ClientMsg::MSG_NOT_SET: break;
    }
    return Invalid("a message of an unknown type");
  }

  std::string EncodeServerMsg(const ServerMsg& msg) const override {
    if (msg.type == ServerMsg::Type::kResponseOk && msg.response.type == WsRequest::Type::kExecute) {
      // The hot path (one statement's result): written to the wire directly, the same bytes.
      return pbwire::EncodeExecuteResponse(msg.request_id, msg.response.stream_response.stmt_result);
    }
    pb::ServerMsg m;
    switch (msg.type) {
      case ServerMsg::Type::kHelloOk: m.mutable_hello_ok(); break;
      case ServerMsg::Type::kHelloError: pbconv::ToPb(msg.error, m.mutable_hello_error()->mutable_error()); break;
      case ServerMsg::Type::kResponseOk:
        m.mutable_response_ok()->set_request_id(msg.request_id);
        ToPb(msg.response, m.mutable_response_ok());
        break;
      case ServerMsg::Type::kResponseError:
        m.mutable_response_error()->set_request_id(msg.request_id);
        pbconv::ToPb(msg.error, m.mutable_response_error()->mutable_error());
        break;
    }
    return m.SerializeAsString();
  }
};

}  // namespace

const WsCodec& WsProtobufCodecInstance() {
  static const WsProtobufCodec codec;
  return codec;
}

}  // namespace litehouse::protocol
