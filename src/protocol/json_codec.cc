#include "protocol/json_codec.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "common/base64.h"

namespace litehouse::protocol::json {
namespace {

using rapidjson::Value;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// ---- parsing ----
// Each Parse* returns false and sets *err on bad input. `where` names the field for the message.

struct Parser {
  std::string err;

  bool Fail(std::string msg) {
    if (err.empty()) err = std::move(msg);
    return false;
  }

  const Value* Member(const Value& obj, const char* name) {
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
  }

  bool ParseString(const Value& v, const char* where, std::string* out) {
    if (!v.IsString()) return Fail(std::string("Expected a string in '") + where + "'");
    out->assign(v.GetString(), v.GetStringLength());
    return true;
  }

  bool ParseOptString(const Value& obj, const char* name, std::optional<std::string>* out) {
    const Value* v = Member(obj, name);
    if (!v) return true;
    std::string s;
    if (!ParseString(*v, name, &s)) return false;
    *out = std::move(s);
    return true;
  }

  bool ParseOptInt32(const Value& obj, const char* name, std::optional<int32_t>* out) {
    const Value* v = Member(obj, name);
    if (!v) return true;
    if (!v->IsInt()) return Fail(std::string("Expected a 32-bit integer in '") + name + "'");
    *out = v->GetInt();
    return true;
  }

  bool ParseValue(const Value& v, engine::Value* out) {
    if (!v.IsObject()) return Fail("Expected a value object");
    const Value* type = Member(v, "type");
    if (!type || !type->IsString()) return Fail("Expected a string in 'type' of a value");
    std::string_view t(type->GetString(), type->GetStringLength());
    const Value* value = Member(v, "value");
    if (t == "null") {
      *out = std::monostate{};
    } else if (t == "integer") {
      if (value && value->IsString()) {
        int64_t n = 0;
        const char* b = value->GetString();
        const char* e = b + value->GetStringLength();
        auto [p, ec] = std::from_chars(b, e, n);
        if (ec != std::errc() || p != e) return Fail("Invalid integer value: '" + std::string(b, e) + "'");
        *out = n;
      } else if (value && value->IsInt64()) {
        *out = value->GetInt64();
      } else {
        return Fail("Expected a string in 'value' of an integer value");
      }
    } else if (t == "float") {
      if (!value || !value->IsNumber()) return Fail("Expected a number in 'value' of a float value");
      *out = value->GetDouble();
    } else if (t == "text") {
      if (!value || !value->IsString()) return Fail("Expected a string in 'value' of a text value");
      *out = std::string(value->GetString(), value->GetStringLength());
    } else if (t == "blob") {
      const Value* b64 = Member(v, "base64");
      if (!b64 || !b64->IsString()) return Fail("Expected a string in 'base64' of a blob value");
      auto bytes = Base64Decode(std::string_view(b64->GetString(), b64->GetStringLength()));
      if (!bytes) return Fail("Invalid base64 in a blob value");
      *out = engine::Blob{std::move(*bytes)};
    } else {
      return Fail("Unknown value type '" + std::string(t) + "'");
    }
    return true;
  }

  bool ParseStmt(const Value& v, Stmt* out) {
    if (!v.IsObject()) return Fail("Expected an object in 'stmt'");
    if (!ParseOptString(v, "sql", &out->sql) || !ParseOptInt32(v, "sql_id", &out->sql_id)) return false;
    if (const Value* args = Member(v, "args")) {
      if (!args->IsArray()) return Fail("Expected an array in 'args'");
      out->args.resize(args->Size());
      for (rapidjson::SizeType i = 0; i < args->Size(); ++i)
        if (!ParseValue((*args)[i], &out->args[i])) return false;
    }
    if (const Value* named = Member(v, "named_args")) {
      if (!named->IsArray()) return Fail("Expected an array in 'named_args'");
      for (const Value& arg : named->GetArray()) {
        if (!arg.IsObject()) return Fail("Expected an object in 'named_args'");
        NamedArg na;
        const Value* name = Member(arg, "name");
        const Value* value = Member(arg, "value");
        if (!name || !ParseString(*name, "name", &na.name)) return Fail("Expected a string in 'name' of a named arg");
        if (!value) return Fail("Expected 'value' in a named arg");
        if (!ParseValue(*value, &na.value)) return false;
        out->named_args.push_back(std::move(na));
      }
    }
    if (const Value* want = Member(v, "want_rows")) {
      if (!want->IsBool()) return Fail("Expected a boolean in 'want_rows'");
      out->want_rows = want->GetBool();
    }
    return true;
  }

  bool ParseCond(const Value& v, BatchCond* out, int depth) {
    if (depth > 64) return Fail("Batch condition nested too deeply");
    if (!v.IsObject()) return Fail("Expected an object in 'condition'");
    const Value* type = Member(v, "type");
    if (!type || !type->IsString()) return Fail("Expected a string in 'type' of a condition");
    std::string_view t(type->GetString(), type->GetStringLength());
    if (t == "ok" || t == "error") {
      out->kind = t == "ok" ? BatchCond::Kind::kOk : BatchCond::Kind::kError;
      const Value* step = Member(v, "step");
      if (!step || !step->IsUint()) return Fail("Expected an unsigned integer in 'step' of a condition");
      out->step = step->GetUint();
    } else if (t == "not") {
      out->kind = BatchCond::Kind::kNot;
      const Value* cond = Member(v, "cond");
      if (!cond) return Fail("Expected 'cond' in a 'not' condition");
      out->conds.resize(1);
      return ParseCond(*cond, &out->conds[0], depth + 1);
    } else if (t == "and" || t == "or") {
      out->kind = t == "and" ? BatchCond::Kind::kAnd : BatchCond::Kind::kOr;
      const Value* conds = Member(v, "conds");
      if (!conds || !conds->IsArray()) return Fail("Expected an array in 'conds'");
      out->conds.resize(conds->Size());
      for (rapidjson::SizeType i = 0; i < conds->Size(); ++i)
        if (!ParseCond((*conds)[i], &out->conds[i], depth + 1)) return false;
    } else if (t == "is_autocommit") {
      out->kind = BatchCond::Kind::kIsAutocommit;
    } else {
      return Fail("Unknown batch condition type '" + std::string(t) + "'");
    }
    return true;
  }

  bool ParseBatch(const Value& v, Batch* out) {
    if (!v.IsObject()) return Fail("Expected an object in 'batch'");
    const Value* steps = Member(v, "steps");
    if (!steps || !steps->IsArray()) return Fail("Expected an array in 'steps'");
    out->steps.resize(steps->Size());
    for (rapidjson::SizeType i = 0; i < steps->Size(); ++i) {
      const Value& s = (*steps)[i];
      if (!s.IsObject()) return Fail("Expected an object in 'steps'");
      if (const Value* cond = Member(s, "condition")) {
        out->steps[i].condition.emplace();
        if (!ParseCond(*cond, &*out->steps[i].condition, 0)) return false;
      }
      const Value* stmt = Member(s, "stmt");
      if (!stmt) return Fail("Expected 'stmt' in a batch step");
      if (!ParseStmt(*stmt, &out->steps[i].stmt)) return false;
    }
    return true;
  }

  bool ParseRequest(const Value& v, StreamRequest* out) {
    if (!v.IsObject()) return Fail("Expected an object in 'requests'");
    const Value* type = Member(v, "type");
    if (!type || !type->IsString()) return Fail("Expected a string in 'type' of a request");
    std::string_view t(type->GetString(), type->GetStringLength());
    using T = StreamRequest::Type;
    if (t == "close") {
      out->type = T::kClose;
    } else if (t == "execute") {
      out->type = T::kExecute;
      const Value* stmt = Member(v, "stmt");
      if (!stmt) return Fail("Expected 'stmt' in an execute request");
      return ParseStmt(*stmt, &out->stmt);
    } else if (t == "batch") {
      out->type = T::kBatch;
      const Value* batch = Member(v, "batch");
      if (!batch) return Fail("Expected 'batch' in a batch request");
      return ParseBatch(*batch, &out->batch);
    } else if (t == "sequence" || t == "describe" || t == "store_sql") {
      out->type = t == "sequence" ? T::kSequence : t == "describe" ? T::kDescribe : T::kStoreSql;
      return ParseOptString(v, "sql", &out->sql) && ParseOptInt32(v, "sql_id", &out->sql_id);
    } else if (t == "close_sql") {
      out->type = T::kCloseSql;
      return ParseOptInt32(v, "sql_id", &out->sql_id);
    } else if (t == "get_autocommit") {
      out->type = T::kGetAutocommit;
    } else {
      return Fail("Unknown request type '" + std::string(t) + "'");
    }
    return true;
  }
};

Status ParseDocument(std::string_view body, rapidjson::Document* doc) {
  doc->Parse<rapidjson::kParseFullPrecisionFlag>(body.data(), body.size());
  if (doc->HasParseError()) {
    return Status::InvalidArgument(std::string("Invalid JSON: ") + rapidjson::GetParseError_En(doc->GetParseError()) +
                                   " at offset " + std::to_string(doc->GetErrorOffset()));
  }
  if (!doc->IsObject()) return Status::InvalidArgument("Expected a JSON object as the request body");
  return Status::OK();
}

// ---- writing ----

void WriteString(Writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

void WriteOptString(Writer& w, const std::optional<std::string>& s) {
  if (s) WriteString(w, *s);
  else w.Null();
}

void WriteValue(Writer& w, const engine::Value& v) {
  w.StartObject();
  w.Key("type");
  switch (v.index()) {
    case 0: w.String("null"); break;
    case 1: {
      w.String("integer");
      w.Key("value");
      char buf[24];
      auto [p, ec] = std::to_chars(buf, buf + sizeof buf, std::get<int64_t>(v));
      w.String(buf, static_cast<rapidjson::SizeType>(p - buf));
      break;
    }
    case 2: {
      w.String("float");
      w.Key("value");
      double d = std::get<double>(v);
      // JSON has no infinity; 1e999 parses back to it in JavaScript and most JSON readers.
      if (std::isinf(d)) w.RawValue(d > 0 ? "1e999" : "-1e999", d > 0 ? 5 : 6, rapidjson::kNumberType);
      else if (std::isnan(d)) w.Null();
      else w.Double(d);
      break;
    }
    case 3:
      w.String("text");
      w.Key("value");
      WriteString(w, std::get<std::string>(v));
      break;
    case 4:
      w.String("blob");
      w.Key("base64");
      WriteString(w, Base64Encode(std::get<engine::Blob>(v).bytes, Base64Alphabet::kStandard, false));
      break;
  }
  w.EndObject();
}

void WriteCols(Writer& w, const std::vector<Col>& cols) {
  w.StartArray();
  for (const Col& c : cols) {
    w.StartObject();
    w.Key("name");
    WriteOptString(w, c.name);
    w.Key("decltype");
    WriteOptString(w, c.decltype_);
    w.EndObject();
  }
  w.EndArray();
}

void WriteOptRowid(Writer& w, const std::optional<int64_t>& rowid) {
  if (!rowid) return w.Null(), void();
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, *rowid);
  w.String(buf, static_cast<rapidjson::SizeType>(p - buf));
}

void WriteError(Writer& w, const Error& e) {
  w.StartObject();
  w.Key("message");
  WriteString(w, e.message);
  w.Key("code");
  WriteString(w, e.code);
  w.EndObject();
}

void WriteStmtResult(Writer& w, const StmtResult& r) {
  w.StartObject();
  w.Key("cols");
  WriteCols(w, r.cols);
  w.Key("rows");
  w.StartArray();
  for (const auto& row : r.rows) {
    w.StartArray();
    for (const auto& v : row) WriteValue(w, v);
    w.EndArray();
  }
  w.EndArray();
  w.Key("affected_row_count");
  w.Uint64(r.affected_row_count);
  w.Key("last_insert_rowid");
  WriteOptRowid(w, r.last_insert_rowid);
  w.Key("replication_index");
  w.Null();
  w.EndObject();
}

const char* TypeName(StreamRequest::Type t) {
  switch (t) {
    case StreamRequest::Type::kClose: return "close";
    case StreamRequest::Type::kExecute: return "execute";
    case StreamRequest::Type::kBatch: return "batch";
    case StreamRequest::Type::kSequence: return "sequence";
    case StreamRequest::Type::kDescribe: return "describe";
    case StreamRequest::Type::kStoreSql: return "store_sql";
    case StreamRequest::Type::kCloseSql: return "close_sql";
    case StreamRequest::Type::kGetAutocommit: return "get_autocommit";
  }
  return "close";
}

void WriteResponse(Writer& w, const StreamResponse& r) {
  w.StartObject();
  w.Key("type");
  w.String(TypeName(r.type));
  switch (r.type) {
    case StreamRequest::Type::kExecute:
      w.Key("result");
      WriteStmtResult(w, r.stmt_result);
      break;
    case StreamRequest::Type::kBatch:
      w.Key("result");
      w.StartObject();
      w.Key("step_results");
      w.StartArray();
      for (const auto& s : r.batch_result.step_results) {
        if (s) WriteStmtResult(w, *s);
        else w.Null();
      }
      w.EndArray();
      w.Key("step_errors");
      w.StartArray();
      for (const auto& e : r.batch_result.step_errors) {
        if (e) WriteError(w, *e);
        else w.Null();
      }
      w.EndArray();
      w.Key("replication_index");
      w.Null();
      w.EndObject();
      break;
    case StreamRequest::Type::kDescribe: {
      const DescribeResult& d = r.describe_result;
      w.Key("result");
      w.StartObject();
      w.Key("params");
      w.StartArray();
      for (const auto& p : d.params) {
        w.StartObject();
        w.Key("name");
        WriteOptString(w, p.name);
        w.EndObject();
      }
      w.EndArray();
      w.Key("cols");
      WriteCols(w, d.cols);
      w.Key("is_explain");
      w.Bool(d.is_explain);
      w.Key("is_readonly");
      w.Bool(d.is_readonly);
      w.EndObject();
      break;
    }
    case StreamRequest::Type::kGetAutocommit:
      w.Key("is_autocommit");
      w.Bool(r.is_autocommit);
      break;
    default: break;
  }
  w.EndObject();
}

std::string Finish(rapidjson::StringBuffer& buf, bool newline) {
  std::string out(buf.GetString(), buf.GetSize());
  if (newline) out += '\n';
  return out;
}

}  // namespace

Result<PipelineRequest> ParsePipelineRequest(std::string_view body) {
  rapidjson::Document doc;
  if (Status s = ParseDocument(body, &doc); !s.ok()) return s;
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
  rapidjson::Document doc;
  if (Status s = ParseDocument(body, &doc); !s.ok()) return s;
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

std::string EncodeStepBegin(uint32_t step, const std::vector<Col>& cols) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("type");
  w.String("step_begin");
  w.Key("step");
  w.Uint(step);
  w.Key("cols");
  WriteCols(w, cols);
  w.EndObject();
  return Finish(buf, true);
}

std::string EncodeRow(const std::vector<engine::Value>& row) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("type");
  w.String("row");
  w.Key("row");
  w.StartArray();
  for (const auto& v : row) WriteValue(w, v);
  w.EndArray();
  w.EndObject();
  return Finish(buf, true);
}

std::string EncodeStepEnd(uint64_t affected_row_count, const std::optional<int64_t>& last_insert_rowid) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("type");
  w.String("step_end");
  w.Key("affected_row_count");
  w.Uint64(affected_row_count);
  w.Key("last_insert_rowid");
  WriteOptRowid(w, last_insert_rowid);
  w.EndObject();
  return Finish(buf, true);
}

std::string EncodeStepError(uint32_t step, const Error& error) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("type");
  w.String("step_error");
  w.Key("step");
  w.Uint(step);
  w.Key("error");
  WriteError(w, error);
  w.EndObject();
  return Finish(buf, true);
}

std::string EncodeCursorError(const Error& error) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("type");
  w.String("error");
  w.Key("error");
  WriteError(w, error);
  w.EndObject();
  return Finish(buf, true);
}

Result<std::vector<LegacyStatement>> ParseLegacyRequest(std::string_view body) {
  rapidjson::Document doc;
  if (Status s = ParseDocument(body, &doc); !s.ok()) return s;
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
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  return Finish(buf, false);
}

}  // namespace litehouse::protocol::json
