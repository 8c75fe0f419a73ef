// Hrana over WebSocket, JSON encoding (text frames):
//   client: {"type":"hello","jwt":string|null} | {"type":"request","request_id":int32,"request":Request}
//   server: {"type":"hello_ok"} | {"type":"hello_error","error":Error}
//         | {"type":"response_ok","request_id":int32,"response":Response}
//         | {"type":"response_error","request_id":int32,"error":Error}
// Request and Response are tagged by "type" (open_stream, close_stream, execute, batch, open_cursor,
// close_cursor, fetch_cursor, sequence, describe, store_sql, close_sql, get_autocommit).
#include "protocol/json_detail.h"
#include "protocol/ws_codec.h"

namespace litehouse::protocol {
namespace {

using namespace json::detail;  // NOLINT

struct WsRequestName {
  const char* name;
  WsRequest::Type type;
};
constexpr WsRequestName kRequestNames[] = {
    {"open_stream", WsRequest::Type::kOpenStream},   {"close_stream", WsRequest::Type::kCloseStream},
    {"execute", WsRequest::Type::kExecute},          {"batch", WsRequest::Type::kBatch},
    {"open_cursor", WsRequest::Type::kOpenCursor},   {"close_cursor", WsRequest::Type::kCloseCursor},
    {"fetch_cursor", WsRequest::Type::kFetchCursor}, {"sequence", WsRequest::Type::kSequence},
    {"describe", WsRequest::Type::kDescribe},        {"store_sql", WsRequest::Type::kStoreSql},
    {"close_sql", WsRequest::Type::kCloseSql},       {"get_autocommit", WsRequest::Type::kGetAutocommit},
};

const char* NameOf(WsRequest::Type type) {
  for (const auto& n : kRequestNames)
    if (n.type == type) return n.name;
  return "";
}

bool ParseInt32(Parser& p, const rapidjson::Value& obj, const char* name, int32_t* out) {
  const rapidjson::Value* v = p.Member(obj, name);
  if (!v || !v->IsInt()) return p.Fail(std::string("Expected a 32-bit integer in '") + name + "'");
  *out = v->GetInt();
  return true;
}

bool ParseRequest(Parser& p, const rapidjson::Value& v, WsRequest* out) {
  if (!v.IsObject()) return p.Fail("Expected an object in 'request'");
  const rapidjson::Value* type = p.Member(v, "type");
  if (!type || !type->IsString()) return p.Fail("Expected a string in 'type' of a request");
  std::string_view t(type->GetString(), type->GetStringLength());
  const WsRequestName* found = nullptr;
  for (const auto& n : kRequestNames)
    if (t == n.name) found = &n;
  if (!found) return p.Fail("Unknown request type '" + std::string(t) + "'");
  out->type = found->type;
  StreamRequest& sr = out->stream_request;
  using T = WsRequest::Type;
  switch (out->type) {
    case T::kOpenStream:
    case T::kCloseStream:
    case T::kGetAutocommit:
      sr.type = StreamRequest::Type::kGetAutocommit;
      return ParseInt32(p, v, "stream_id", &out->stream_id);
    case T::kExecute: {
      sr.type = StreamRequest::Type::kExecute;
      const rapidjson::Value* stmt = p.Member(v, "stmt");
      if (!stmt) return p.Fail("Expected 'stmt' in an execute request");
      return ParseInt32(p, v, "stream_id", &out->stream_id) && p.ParseStmt(*stmt, &sr.stmt);
    }
    case T::kBatch:
    case T::kOpenCursor: {
      sr.type = StreamRequest::Type::kBatch;
      const rapidjson::Value* batch = p.Member(v, "batch");
      if (!batch) return p.Fail("Expected 'batch' in the request");
      if (out->type == T::kOpenCursor && !ParseInt32(p, v, "cursor_id", &out->cursor_id)) return false;
      return ParseInt32(p, v, "stream_id", &out->stream_id) && p.ParseBatch(*batch, &sr.batch);
    }
    case T::kCloseCursor: return ParseInt32(p, v, "cursor_id", &out->cursor_id);
    case T::kFetchCursor: {
      if (!ParseInt32(p, v, "cursor_id", &out->cursor_id)) return false;
      const rapidjson::Value* max = p.Member(v, "max_count");
      if (!max || !max->IsUint()) return p.Fail("Expected an unsigned integer in 'max_count'");
      out->max_count = max->GetUint();
      return true;
    }
    case T::kSequence:
    case T::kDescribe:
      sr.type = out->type == T::kSequence ? StreamRequest::Type::kSequence : StreamRequest::Type::kDescribe;
      return ParseInt32(p, v, "stream_id", &out->stream_id) && p.ParseOptString(v, "sql", &sr.sql) &&
             p.ParseOptInt32(v, "sql_id", &sr.sql_id);
    case T::kStoreSql:
      sr.type = StreamRequest::Type::kStoreSql;
      return p.ParseOptString(v, "sql", &sr.sql) && p.ParseOptInt32(v, "sql_id", &sr.sql_id);
    case T::kCloseSql:
      sr.type = StreamRequest::Type::kCloseSql;
      return p.ParseOptInt32(v, "sql_id", &sr.sql_id);
  }
  return true;
}

class WsJsonCodec final : public WsCodec {
 public:
  Result<ClientMsg> ParseClientMsg(std::string_view data) const override {
    RequestDocument request_doc;
    rapidjson::Document& doc = *request_doc;
    if (Status s = request_doc.Parse(data); !s.ok()) return s;
    Parser p;
    ClientMsg msg;
    const rapidjson::Value* type = p.Member(doc, "type");
    if (!type || !type->IsString()) return Status::InvalidArgument("Expected a string in 'type' of a message");
    std::string_view t(type->GetString(), type->GetStringLength());
    if (t == "hello") {
      msg.type = ClientMsg::Type::kHello;
      if (!p.ParseOptString(doc, "jwt", &msg.jwt)) return Status::InvalidArgument(p.err);
      return msg;
    }
    if (t != "request") return Status::InvalidArgument("Unknown message type '" + std::string(t) + "'");
    msg.type = ClientMsg::Type::kRequest;
    const rapidjson::Value* request = p.Member(doc, "request");
    if (!ParseInt32(p, doc, "request_id", &msg.request_id)) return Status::InvalidArgument(p.err);
    if (!request) return Status::InvalidArgument("Expected 'request' in a request message");
    if (!ParseRequest(p, *request, &msg.request)) return Status::InvalidArgument(p.err);
    return msg;
  }

  std::string EncodeServerMsg(const ServerMsg& msg) const override {
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    w.Key("type");
    switch (msg.type) {
      case ServerMsg::Type::kHelloOk: w.String("hello_ok"); break;
      case ServerMsg::Type::kHelloError:
        w.String("hello_error");
        w.Key("error");
        WriteError(w, msg.error);
        break;
      case ServerMsg::Type::kResponseError:
        w.String("response_error");
        w.Key("request_id");
        w.Int(msg.request_id);
        w.Key("error");
        WriteError(w, msg.error);
        break;
      case ServerMsg::Type::kResponseOk:
        w.String("response_ok");
        w.Key("request_id");
        w.Int(msg.request_id);
        w.Key("response");
        WriteWsResponse(w, msg.response);
        break;
    }
    w.EndObject();
    return Finish(buf, false);
  }

 private:
  static void WriteWsResponse(Writer& w, const WsResponse& r) {
    using T = WsRequest::Type;
    switch (r.type) {
      case T::kExecute:
      case T::kBatch:
      case T::kSequence:
      case T::kDescribe:
      case T::kStoreSql:
      case T::kCloseSql:
      case T::kGetAutocommit:
        // The same response objects as over HTTP, and the same type names.
        WriteResponse(w, r.stream_response);
        return;
      default: break;
    }
    w.StartObject();
    w.Key("type");
    w.String(NameOf(r.type));
    if (r.type == T::kFetchCursor) {
      w.Key("entries");
      w.StartArray();
      for (const auto& e : r.entries) WriteCursorEntry(w, e);
      w.EndArray();
      w.Key("done");
      w.Bool(r.done);
    }
    w.EndObject();
  }
};

}  // namespace

const WsCodec& WsProtobufCodecInstance();  // ws_protobuf_codec.cc

const WsCodec& WsCodecFor(Encoding encoding) {
  static const WsJsonCodec json_codec;
  return encoding == Encoding::kJson ? static_cast<const WsCodec&>(json_codec) : WsProtobufCodecInstance();
}

}  // namespace litehouse::protocol
