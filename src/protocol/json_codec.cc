#include "protocol/json_codec.h"

#include <cmath>

#include "common/base64.h"
#include "protocol/json_detail.h"

namespace litehouse::protocol::json {
using namespace detail;  // NOLINT: the shared pieces of json_detail.h


Result<PipelineRequest> ParsePipelineRequest(std::string_view body) {
  RequestDocument request_doc;
  rapidjson::Document& doc = *request_doc;
  if (Status s = request_doc.Parse(body); !s.ok()) return s;
  Parser p;
  PipelineRequest req;
  if (!p.ParseOptString(doc, "baton", &req.baton)) return Status::InvalidArgument(p.err);
  const Value* requests = p.Member(doc, "requests");
  if (!requests || !requests->IsArray()) return Status::InvalidArgument("Expected an array in 'requests'");
  req.requests.resize(requests->Size());
  for (rapidjson::SizeType i = 0; i < requests->Size(); ++i)
    if (!p.ParseRequest((*requests)[i], &req.requests[i])) return Status::InvalidArgument(p.err);
  return req;
}

Result<CursorRequest> ParseCursorRequest(std::string_view body) {
  RequestDocument request_doc;
  rapidjson::Document& doc = *request_doc;
  if (Status s = request_doc.Parse(body); !s.ok()) return s;
  Parser p;
  CursorRequest req;
  if (!p.ParseOptString(doc, "baton", &req.baton)) return Status::InvalidArgument(p.err);
  const Value* batch = p.Member(doc, "batch");
  if (!batch) return Status::InvalidArgument("Expected 'batch' in a cursor request");
  if (!p.ParseBatch(*batch, &req.batch)) return Status::InvalidArgument(p.err);
  return req;
}

std::string EncodePipelineResponse(const std::optional<std::string>& baton, const std::optional<std::string>& base_url,
                                   const std::vector<StreamResult>& results) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("baton");
  WriteOptString(w, baton);
  w.Key("base_url");
  WriteOptString(w, base_url);
  w.Key("results");
  w.StartArray();
  for (const StreamResult& r : results) {
    w.StartObject();
    w.Key("type");
    if (r.ok) {
      w.String("ok");
      w.Key("response");
      WriteResponse(w, r.response);
    } else {
      w.String("error");
      w.Key("error");
      WriteError(w, r.error);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return Finish(buf, false);
}

std::string EncodeError(const Error& error) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  WriteError(w, error);
  return Finish(buf, false);
}

namespace {

// Version 1 of Hrana has neither stored SQL nor the is_autocommit condition (both came later); sqld
// refuses them as protocol errors with these messages, and so do we.
Status CheckV1Stmt(const Stmt& stmt) {
  if (stmt.sql_id) return Status::InvalidArgument("`sql_id` is only supported in protocol version hrana2 and higher");
  if (!stmt.sql) return Status::InvalidArgument("Either `sql` or `sql_id` are required");
  return Status::OK();
}

Status CheckV1Cond(const BatchCond& cond) {
  if (cond.kind == BatchCond::Kind::kIsAutocommit) {
    return Status::InvalidArgument("BatchCond of type `is_autocommit` is only supported in protocol version hrana3 and higher");
  }
  for (const BatchCond& c : cond.conds)
    if (Status s = CheckV1Cond(c); !s.ok()) return s;
  return Status::OK();
}

}  // namespace

Result<Stmt> ParseV1Execute(std::string_view body) {
  RequestDocument request_doc;
  rapidjson::Document& doc = *request_doc;
  if (Status s = request_doc.Parse(body); !s.ok()) return s;
  Parser p;
  Stmt stmt;
  const Value* v = p.Member(doc, "stmt");
  if (!v) return Status::InvalidArgument("Expected 'stmt' in the request");
  if (!p.ParseStmt(*v, &stmt)) return Status::InvalidArgument(p.err);
  if (Status s = CheckV1Stmt(stmt); !s.ok()) return s;
  return stmt;
}

Result<Batch> ParseV1Batch(std::string_view body) {
  RequestDocument request_doc;
  rapidjson::Document& doc = *request_doc;
  if (Status s = request_doc.Parse(body); !s.ok()) return s;
  Parser p;
  Batch batch;
  const Value* v = p.Member(doc, "batch");
  if (!v) return Status::InvalidArgument("Expected 'batch' in the request");
  if (!p.ParseBatch(*v, &batch)) return Status::InvalidArgument(p.err);
  for (const BatchStep& step : batch.steps) {
    if (Status s = CheckV1Stmt(step.stmt); !s.ok()) return s;
    if (step.condition)
      if (Status s = CheckV1Cond(*step.condition); !s.ok()) return s;
  }
  return batch;
}

std::string EncodeV1Result(const StmtResult& result) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("result");
  WriteStmtResult(w, result);
  w.EndObject();
  return Finish(buf, false);
}

std::string EncodeV1Result(const BatchResult& result) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("result");
  WriteBatchResult(w, result);
  w.EndObject();
  return Finish(buf, false);
}

std::string EncodeCursorHead(const std::optional<std::string>& baton, const std::optional<std::string>& base_url) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("baton");
  WriteOptString(w, baton);
  w.Key("base_url");
  WriteOptString(w, base_url);
  w.EndObject();
  return Finish(buf, true);
}

namespace {
std::string EncodeEntryLine(const CursorEntry& e) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  WriteCursorEntry(w, e);
  return Finish(buf, true);
}
}  // namespace

std::string EncodeStepBegin(uint32_t step, const std::vector<Col>& cols) {
  CursorEntry e{CursorEntry::Type::kStepBegin};
  e.step = step;
  e.cols = cols;
  return EncodeEntryLine(e);
}

std::string EncodeRow(const std::vector<engine::Value>& row) {
  CursorEntry e{CursorEntry::Type::kRow};
  e.row = row;
  return EncodeEntryLine(e);
}

std::string EncodeStepEnd(uint64_t affected_row_count, const std::optional<int64_t>& last_insert_rowid) {
  CursorEntry e{CursorEntry::Type::kStepEnd};
  e.affected_row_count = affected_row_count;
  e.last_insert_rowid = last_insert_rowid;
  return EncodeEntryLine(e);
}

std::string EncodeStepError(uint32_t step, const Error& error) {
  CursorEntry e{CursorEntry::Type::kStepError};
  e.step = step;
  e.error = error;
  return EncodeEntryLine(e);
}

std::string EncodeCursorError(const Error& error) {
  CursorEntry e{CursorEntry::Type::kError};
  e.error = error;
  return EncodeEntryLine(e);
}

Result<std::vector<LegacyStatement>> ParseLegacyRequest(std::string_view body) {
  RequestDocument request_doc;
  rapidjson::Document& doc = *request_doc;
  if (Status s = request_doc.Parse(body); !s.ok()) return s;
  Parser p;
  const Value* statements = p.Member(doc, "statements");
  if (!statements || !statements->IsArray()) return Status::InvalidArgument("Expected an array in 'statements'");
  std::vector<LegacyStatement> out;
  for (const Value& s : statements->GetArray()) {
    LegacyStatement stmt;
    if (s.IsString()) {
      stmt.sql.assign(s.GetString(), s.GetStringLength());
    } else if (s.IsObject()) {
      const Value* q = p.Member(s, "q");
      if (!q || !q->IsString()) return Status::InvalidArgument("Expected a string in 'q'");
      stmt.sql.assign(q->GetString(), q->GetStringLength());
      if (const Value* params = p.Member(s, "params")) {
        auto to_value = [&](const Value& v, engine::Value* out_value) -> bool {
          if (v.IsNull()) *out_value = std::monostate{};
          else if (v.IsInt64()) *out_value = v.GetInt64();
          else if (v.IsNumber()) *out_value = v.GetDouble();
          else if (v.IsString()) *out_value = std::string(v.GetString(), v.GetStringLength());
          else if (v.IsBool()) *out_value = static_cast<int64_t>(v.GetBool());
          else if (v.IsObject() && p.Member(v, "base64") && p.Member(v, "base64")->IsString()) {
            const Value* b = p.Member(v, "base64");
            auto bytes = Base64Decode(std::string_view(b->GetString(), b->GetStringLength()));
            if (!bytes) return p.Fail("Invalid base64 in a blob parameter");
            *out_value = engine::Blob{std::move(*bytes)};
          } else {
            return p.Fail("Unsupported parameter value");
          }
          return true;
        };
        if (params->IsArray()) {
          for (const Value& v : params->GetArray()) {
            stmt.args.emplace_back();
            if (!to_value(v, &stmt.args.back())) return Status::InvalidArgument(p.err);
          }
        } else if (params->IsObject()) {
          for (auto it = params->MemberBegin(); it != params->MemberEnd(); ++it) {
            NamedArg arg;
            arg.name.assign(it->name.GetString(), it->name.GetStringLength());
            if (!to_value(it->value, &arg.value)) return Status::InvalidArgument(p.err);
            stmt.named_args.push_back(std::move(arg));
          }
        } else {
          return Status::InvalidArgument("Expected an array or an object in 'params'");
        }
      }
    } else {
      return Status::InvalidArgument("Expected a string or an object in 'statements'");
    }
    out.push_back(std::move(stmt));
  }
  return out;
}

std::string EncodeLegacyResults(const std::vector<LegacyOutcome>& outcomes) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartArray();
  for (const LegacyOutcome& o : outcomes) {
    if (o.error) {
      w.StartObject();
      w.Key("error");
      WriteString(w, *o.error);
      w.EndObject();
      continue;
    }
    if (!o.result) {
      w.Null();
      continue;
    }
    const StmtResult& r = *o.result;
    w.StartObject();
    w.Key("results");
    w.StartObject();
    w.Key("columns");
    w.StartArray();
    for (const auto& c : r.cols) WriteOptString(w, c.name);
    w.EndArray();
    w.Key("rows");
    w.StartArray();
    for (const auto& row : r.rows) {
      w.StartArray();
      for (const auto& v : row) {
        switch (v.index()) {
          case 0: w.Null(); break;
          case 1: w.Int64(std::get<int64_t>(v)); break;
          case 2:
            if (std::isfinite(std::get<double>(v))) w.Double(std::get<double>(v));
            else w.Null();
            break;
          case 3: WriteString(w, std::get<std::string>(v)); break;
          case 4:
            w.StartObject();
            w.Key("base64");
            WriteString(w, Base64Encode(std::get<engine::Blob>(v).bytes, Base64Alphabet::kStandard, false));
            w.EndObject();
            break;
        }
      }
      w.EndArray();
    }
    w.EndArray();
    // sqld puts the statement's statistics beside its rows.
    w.Key("rows_read");
    w.Uint64(r.rows_read);
    w.Key("rows_written");
    w.Uint64(r.rows_written);
    w.Key("query_duration_ms");
    w.Double(r.query_duration_ms);
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  return Finish(buf, false);
}

}  // namespace litehouse::protocol::json
