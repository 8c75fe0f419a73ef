// The client's side of Hrana's JSON over HTTP: requests written, responses parsed (the server's side
// is json_codec.cc). Used by the client library's remote backend.
#include "protocol/json_client_codec.h"

#include "protocol/json_detail.h"

namespace litehouse::protocol::json {
namespace {

using namespace detail;  // NOLINT

void WriteStmt(Writer& w, const Stmt& s) {
  w.StartObject();
  if (s.sql) {
    w.Key("sql");
    WriteString(w, *s.sql);
  }
  if (s.sql_id) {
    w.Key("sql_id");
    w.Int(*s.sql_id);
  }
  w.Key("args");
  w.StartArray();
  for (const auto& v : s.args) WriteValue(w, v);
  w.EndArray();
  w.Key("named_args");
  w.StartArray();
  for (const auto& a : s.named_args) {
    w.StartObject();
    w.Key("name");
    WriteString(w, a.name);
    w.Key("value");
    WriteValue(w, a.value);
    w.EndObject();
  }
  w.EndArray();
  w.Key("want_rows");
  w.Bool(s.want_rows);
  w.EndObject();
}

void WriteCond(Writer& w, const BatchCond& c) {
  w.StartObject();
  w.Key("type");
  switch (c.kind) {
    case BatchCond::Kind::kOk:
    case BatchCond::Kind::kError:
      w.String(c.kind == BatchCond::Kind::kOk ? "ok" : "error");
      w.Key("step");
      w.Uint(c.step);
      break;
    case BatchCond::Kind::kNot:
      w.String("not");
      w.Key("cond");
      WriteCond(w, c.conds.at(0));
      break;
    case BatchCond::Kind::kAnd:
    case BatchCond::Kind::kOr:
      w.String(c.kind == BatchCond::Kind::kAnd ? "and" : "or");
      w.Key("conds");
      w.StartArray();
      for (const auto& sub : c.conds) WriteCond(w, sub);
      w.EndArray();
      break;
    case BatchCond::Kind::kIsAutocommit: w.String("is_autocommit"); break;
  }
  w.EndObject();
}

void WriteRequest(Writer& w, const StreamRequest& r) {
  w.StartObject();
  w.Key("type");
  w.String(TypeName(r.type));
  switch (r.type) {
    case StreamRequest::Type::kExecute:
      w.Key("stmt");
      WriteStmt(w, r.stmt);
      break;
    case StreamRequest::Type::kBatch:
      w.Key("batch");
      w.StartObject();
      w.Key("steps");
      w.StartArray();
      for (const auto& step : r.batch.steps) {
        w.StartObject();
        if (step.condition) {
          w.Key("condition");
          WriteCond(w, *step.condition);
        }
        w.Key("stmt");
        WriteStmt(w, step.stmt);
        w.EndObject();
      }
      w.EndArray();
      w.EndObject();
      break;
    case StreamRequest::Type::kSequence:
    case StreamRequest::Type::kDescribe:
    case StreamRequest::Type::kStoreSql:
    case StreamRequest::Type::kCloseSql:
      if (r.sql) {
        w.Key("sql");
        WriteString(w, *r.sql);
      }
      if (r.sql_id) {
        w.Key("sql_id");
        w.Int(*r.sql_id);
      }
      break;
    default: break;
  }
  w.EndObject();
}

bool ParseError(Parser& p, const rapidjson::Value& v, Error* out) {
  if (!v.IsObject()) return p.Fail("Expected an error object");
  const rapidjson::Value* msg = p.Member(v, "message");
  if (!msg || !msg->IsString()) return p.Fail("Expected a string in 'message' of an error");
  out->message.assign(msg->GetString(), msg->GetStringLength());
  if (const rapidjson::Value* code = p.Member(v, "code"); code && code->IsString()) {
    out->code.assign(code->GetString(), code->GetStringLength());
  }
  return true;
}

bool ParseU64(const rapidjson::Value* v, uint64_t* out) {
  if (!v) return true;
  if (!v->IsUint64()) return false;
  *out = v->GetUint64();
  return true;
}

// A string-encoded u64 (replication_index), absent or null: nullopt.
bool ParseOptU64String(const rapidjson::Value* v, std::optional<uint64_t>* out) {
  if (!v || v->IsNull()) return true;
  if (v->IsUint64()) {
    *out = v->GetUint64();
    return true;
  }
  if (!v->IsString()) return false;
  uint64_t n = 0;
  const char* b = v->GetString();
  const char* e = b + v->GetStringLength();
  auto [ptr, ec] = std::from_chars(b, e, n);
  if (ec != std::errc() || ptr != e) return false;
  *out = n;
  return true;
}

bool ParseStmtResult(Parser& p, const rapidjson::Value& v, StmtResult* out) {
  if (!v.IsObject()) return p.Fail("Expected a statement result object");
  const rapidjson::Value* cols = p.Member(v, "cols");
  const rapidjson::Value* rows = p.Member(v, "rows");
  if (!cols || !cols->IsArray() || !rows || !rows->IsArray()) return p.Fail("Expected 'cols' and 'rows' arrays");
  for (const auto& c : cols->GetArray()) {
    if (!c.IsObject()) return p.Fail("Expected an object in 'cols'");
    Col col;
    if (!p.ParseOptString(c, "name", &col.name) || !p.ParseOptString(c, "decltype", &col.decltype_)) return false;
    out->cols.push_back(std::move(col));
  }
  for (const auto& row : rows->GetArray()) {
    if (!row.IsArray()) return p.Fail("Expected an array as a row");
    std::vector<litehouse::Value> values(row.Size());
    for (rapidjson::SizeType i = 0; i < row.Size(); ++i)
      if (!p.ParseValue(row[i], &values[i])) return false;
    out->rows.push_back(std::move(values));
  }
  if (!ParseU64(p.Member(v, "affected_row_count"), &out->affected_row_count)) return p.Fail("Bad 'affected_row_count'");
  if (const rapidjson::Value* id = p.Member(v, "last_insert_rowid")) {
    if (!id->IsString()) return p.Fail("Expected a string in 'last_insert_rowid'");
    int64_t rowid = 0;
    const char* b = id->GetString();
    const char* e = b + id->GetStringLength();
    auto [ptr, ec] = std::from_chars(b, e, rowid);
    if (ec != std::errc() || ptr != e) return p.Fail("Invalid integer in 'last_insert_rowid'");
    out->last_insert_rowid = rowid;
  }
  ParseU64(p.Member(v, "rows_read"), &out->rows_read);
  ParseU64(p.Member(v, "rows_written"), &out->rows_written);
  if (const rapidjson::Value* d = p.Member(v, "query_duration_ms"); d && d->IsNumber()) out->query_duration_ms = d->GetDouble();
  if (!ParseOptU64String(p.Member(v, "replication_index"), &out->replication_index)) return p.Fail("Bad 'replication_index'");
  return true;
}

bool ParseResponse(Parser& p, const rapidjson::Value& v, StreamRequest::Type expected, StreamResponse* out) {
  if (!v.IsObject()) return p.Fail("Expected a response object");
  const rapidjson::Value* type = p.Member(v, "type");
  if (!type || !type->IsString() || std::string_view(type->GetString()) != TypeName(expected)) {
    return p.Fail(std::string("Expected a response of type '") + TypeName(expected) + "'");
  }
  out->type = expected;
  const rapidjson::Value* result = p.Member(v, "result");
  switch (expected) {
    case StreamRequest::Type::kExecute:
      if (!result) return p.Fail("Expected 'result'");
      return ParseStmtResult(p, *result, &out->stmt_result);
    case StreamRequest::Type::kBatch: {
      if (!result || !result->IsObject()) return p.Fail("Expected 'result'");
      const rapidjson::Value* results = p.Member(*result, "step_results");
      const rapidjson::Value* errors = p.Member(*result, "step_errors");
      if (!results || !results->IsArray() || !errors || !errors->IsArray()) return p.Fail("Expected step arrays");
      for (const auto& r : results->GetArray()) {
        auto& slot = out->batch_result.step_results.emplace_back();
        if (r.IsNull()) continue;
        slot.emplace();
        if (!ParseStmtResult(p, r, &*slot)) return false;
      }
      for (const auto& e : errors->GetArray()) {
        auto& slot = out->batch_result.step_errors.emplace_back();
        if (e.IsNull()) continue;
        slot.emplace();
        if (!ParseError(p, e, &*slot)) return false;
      }
      if (!ParseOptU64String(p.Member(*result, "replication_index"), &out->batch_result.replication_index)) {
        return p.Fail("Bad 'replication_index'");
      }
      return true;
    }
    case StreamRequest::Type::kDescribe: {
      if (!result || !result->IsObject()) return p.Fail("Expected 'result'");
      DescribeResult& d = out->describe_result;
      if (const rapidjson::Value* params = p.Member(*result, "params"); params && params->IsArray()) {
        for (const auto& param : params->GetArray()) {
          if (!param.IsObject()) return p.Fail("Expected an object in 'params'");
          DescribeParam dp;
          if (!p.ParseOptString(param, "name", &dp.name)) return false;
          d.params.push_back(std::move(dp));
        }
      }
      if (const rapidjson::Value* cols = p.Member(*result, "cols"); cols && cols->IsArray()) {
        for (const auto& c : cols->GetArray()) {
          if (!c.IsObject()) return p.Fail("Expected an object in 'cols'");
          Col col;
          if (!p.ParseOptString(c, "name", &col.name) || !p.ParseOptString(c, "decltype", &col.decltype_)) return false;
          d.cols.push_back(std::move(col));
        }
      }
      if (const rapidjson::Value* b = p.Member(*result, "is_explain"); b && b->IsBool()) d.is_explain = b->GetBool();
      if (const rapidjson::Value* b = p.Member(*result, "is_readonly"); b && b->IsBool()) d.is_readonly = b->GetBool();
      return true;
    }
    case StreamRequest::Type::kGetAutocommit: {
      const rapidjson::Value* a = p.Member(v, "is_autocommit");
      if (!a || !a->IsBool()) return p.Fail("Expected 'is_autocommit'");
      out->is_autocommit = a->GetBool();
      return true;
    }
    default: return true;
  }
}

}  // namespace

std::string EncodePipelineRequest(const PipelineRequest& request) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("baton");
  WriteOptString(w, request.baton);
  w.Key("requests");
  w.StartArray();
  for (const auto& r : request.requests) WriteRequest(w, r);
  w.EndArray();
  w.EndObject();
  return Finish(buf, false);
}

Result<PipelineResponse> ParsePipelineResponse(std::string_view body, const PipelineRequest& request) {
  rapidjson::Document doc;
  if (Status s = ParseDocument(body, &doc); !s.ok()) return s;
  Parser p;
  PipelineResponse out;
  if (!p.ParseOptString(doc, "baton", &out.baton) || !p.ParseOptString(doc, "base_url", &out.base_url)) {
    return Status::InvalidArgument(p.err);
  }
  const rapidjson::Value* results = p.Member(doc, "results");
  if (!results || !results->IsArray() || results->Size() != request.requests.size()) {
    return Status::InvalidArgument("Expected one result per request in 'results'");
  }
  for (rapidjson::SizeType i = 0; i < results->Size(); ++i) {
    const rapidjson::Value& r = (*results)[i];
    StreamResult sr;
    const rapidjson::Value* type = r.IsObject() ? p.Member(r, "type") : nullptr;
    if (!type || !type->IsString()) return Status::InvalidArgument("Expected a string in 'type' of a result");
    std::string_view t(type->GetString(), type->GetStringLength());
    if (t == "ok") {
      const rapidjson::Value* resp = p.Member(r, "response");
      if (!resp || !ParseResponse(p, *resp, request.requests[i].type, &sr.response)) return Status::InvalidArgument(p.err);
    } else if (t == "error") {
      sr.ok = false;
      const rapidjson::Value* err = p.Member(r, "error");
      if (!err || !ParseError(p, *err, &sr.error)) return Status::InvalidArgument(p.err);
    } else {
      return Status::InvalidArgument("Unknown result type '" + std::string(t) + "'");
    }
    out.results.push_back(std::move(sr));
  }
  return out;
}

std::string EncodeWsHello(const std::optional<std::string>& jwt) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("type");
  w.String("hello");
  w.Key("jwt");
  WriteOptString(w, jwt);
  w.EndObject();
  return Finish(buf, false);
}

std::string EncodeWsStreamControl(int32_t request_id, bool open, int32_t stream_id) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("type");
  w.String("request");
  w.Key("request_id");
  w.Int(request_id);
  w.Key("request");
  w.StartObject();
  w.Key("type");
  w.String(open ? "open_stream" : "close_stream");
  w.Key("stream_id");
  w.Int(stream_id);
  w.EndObject();
  w.EndObject();
  return Finish(buf, false);
}

std::string EncodeWsStreamRequest(int32_t request_id, int32_t stream_id, const StreamRequest& request) {
  // The request object of HTTP with "stream_id" added: write it, then splice the id in front.
  rapidjson::StringBuffer inner;
  Writer iw(inner);
  WriteRequest(iw, request);
  std::string body(inner.GetString(), inner.GetSize());  // {"type":...,...}
  std::string out = R"({"type":"request","request_id":)" + std::to_string(request_id) + R"(,"request":{"stream_id":)" +
                    std::to_string(stream_id) + "," + body.substr(1) + "}";
  return out;
}

std::optional<int32_t> PeekWsRequestId(std::string_view text) {
  rapidjson::Document doc;
  if (!ParseDocument(text, &doc).ok()) return std::nullopt;
  auto it = doc.FindMember("request_id");
  if (it == doc.MemberEnd() || !it->value.IsInt()) return std::nullopt;
  return it->value.GetInt();
}

Result<WsServerReply> ParseWsServerMsg(std::string_view text, StreamRequest::Type expected) {
  rapidjson::Document doc;
  if (Status s = ParseDocument(text, &doc); !s.ok()) return s;
  Parser p;
  WsServerReply reply;
  const rapidjson::Value* type = p.Member(doc, "type");
  if (!type || !type->IsString()) return Status::InvalidArgument("Expected a string in 'type' of a server message");
  std::string_view t(type->GetString(), type->GetStringLength());
  if (const rapidjson::Value* id = p.Member(doc, "request_id"); id && id->IsInt()) reply.request_id = id->GetInt();
  if (t == "hello_ok") {
    reply.type = WsServerReply::Type::kHelloOk;
  } else if (t == "hello_error" || t == "response_error") {
    reply.type = t == "hello_error" ? WsServerReply::Type::kHelloError : WsServerReply::Type::kResponseError;
    reply.result.ok = false;
    const rapidjson::Value* err = p.Member(doc, "error");
    if (!err || !ParseError(p, *err, &reply.result.error)) return Status::InvalidArgument(p.err);
  } else if (t == "response_ok") {
    reply.type = WsServerReply::Type::kResponseOk;
    const rapidjson::Value* resp = p.Member(doc, "response");
    if (!resp || !resp->IsObject()) return Status::InvalidArgument("Expected an object in 'response' of response_ok");
    const rapidjson::Value* rtype = p.Member(*resp, "type");
    std::string_view rt = rtype && rtype->IsString() ? std::string_view(rtype->GetString()) : std::string_view();
    // open_stream / close_stream answers carry nothing; the others are the stream-level response.
    if (rt != "open_stream" && rt != "close_stream" && !ParseResponse(p, *resp, expected, &reply.result.response)) {
      return Status::InvalidArgument(p.err);
    }
  } else {
    return Status::InvalidArgument("Unknown server message type '" + std::string(t) + "'");
  }
  return reply;
}

Result<Error> ParseErrorBody(std::string_view body) {
  rapidjson::Document doc;
  if (Status s = ParseDocument(body, &doc); !s.ok()) return s;
  Parser p;
  Error e;
  if (!ParseError(p, doc, &e)) return Status::InvalidArgument(p.err);
  return e;
}

}  // namespace litehouse::protocol::json
