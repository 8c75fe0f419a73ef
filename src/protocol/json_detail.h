// Internal to protocol/: the JSON parsing and writing pieces that the HTTP codec (json_codec.cc)
// and the WebSocket codec (ws_json_codec.cc) share. Not for use outside this module.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "common/base64.h"
#include "common/json.h"
#include "common/status.h"
#include "protocol/hrana.h"

namespace litehouse::protocol::json::detail {


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

  // The member `name` of `obj`, nullptr when absent or null. A value that is not an object has no
  // members (RapidJSON's FindMember requires an object: on anything else it reads garbage).
  const Value* Member(const Value& obj, const char* name) {
    if (!obj.IsObject()) return nullptr;
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
    return ParseReplicationIndex(v, &out->replication_index);
  }

  // "replication_index": a string-encoded u64 (sqld's option_u64_as_str), or null, or absent.
  bool ParseReplicationIndex(const Value& v, std::optional<uint64_t>* out) {
    const Value* index = Member(v, "replication_index");
    if (!index || index->IsNull()) return true;
    if (index->IsUint64()) {
      *out = index->GetUint64();
      return true;
    }
    if (!index->IsString()) return Fail("Expected a string in 'replication_index'");
    uint64_t n = 0;
    const char* b = index->GetString();
    const char* e = b + index->GetStringLength();
    auto [ptr, ec] = std::from_chars(b, e, n);
    if (ec != std::errc() || ptr != e || b == e) return Fail("Expected an unsigned integer in 'replication_index'");
    *out = n;
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
    if (!ParseReplicationIndex(v, &out->replication_index)) return false;
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

// A Document for one request's body, whose first allocations go to a buffer it holds (on the stack,
// where it is declared). RapidJSON's default pool starts with a 64 KiB chunk from malloc, so every
// request malloc'ed and freed 64 KiB (and freeing that much makes glibc consolidate its free lists);
// a request of usual size now fits the buffer. Larger ones go on to malloc'ed chunks as before.
class RequestDocument {
 public:
  RequestDocument() = default;
  RequestDocument(const RequestDocument&) = delete;
  RequestDocument& operator=(const RequestDocument&) = delete;
  rapidjson::Document& operator*() { return doc_; }

  // ParseDocument of a copy of `body` kept here, parsed in place (json::ParseInsitu): the document's
  // strings point into the copy, and no string is copied twice.
  Status Parse(std::string_view body);

 private:
  alignas(std::max_align_t) char first_chunk_[4096];
  rapidjson::MemoryPoolAllocator<> pool_{first_chunk_, sizeof first_chunk_};
  rapidjson::Document doc_{&pool_};
  char text_[1024];       // a body that fits, and its NUL
  std::string long_text_;  // one that does not
};

// Parses a request or response body: depth-limited, numbers converted exactly (common/json.h), so no
// body crashes or floods us.
inline Status ParseDocument(std::string_view body, rapidjson::Document* doc) {
  if (Status s = litehouse::json::Parse(body, doc); !s.ok()) {
    return Status::InvalidArgument("Invalid JSON: " + s.message());
  }
  if (!doc->IsObject()) return Status::InvalidArgument("Expected a JSON object as the request body");
  return Status::OK();
}

inline Status RequestDocument::Parse(std::string_view body) {
  char* text = text_;
  if (body.size() < sizeof text_) {
    if (!body.empty()) std::memcpy(text_, body.data(), body.size());  // an empty view's data may be null
    text_[body.size()] = '\0';
  } else {
    long_text_.assign(body);
    text = long_text_.data();
  }
  if (Status s = litehouse::json::ParseInsitu(text, body.size(), &doc_); !s.ok()) {
    return Status::InvalidArgument("Invalid JSON: " + s.message());
  }
  if (!doc_.IsObject()) return Status::InvalidArgument("Expected a JSON object as the request body");
  return Status::OK();
}

// ---- writing ----

inline void WriteString(Writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

inline void WriteOptString(Writer& w, const std::optional<std::string>& s) {
  if (s) WriteString(w, *s);
  else w.Null();
}

inline void WriteValue(Writer& w, const engine::Value& v) {
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

inline void WriteCols(Writer& w, const std::vector<Col>& cols) {
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

inline void WriteOptRowid(Writer& w, const std::optional<int64_t>& rowid) {
  if (!rowid) return w.Null(), void();
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, *rowid);
  w.String(buf, static_cast<rapidjson::SizeType>(p - buf));
}

// An optional u64 as sqld writes it in JSON: a decimal string, or null.
inline void WriteOptU64(Writer& w, const std::optional<uint64_t>& v) {
  if (!v) return w.Null(), void();
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, *v);
  w.String(buf, static_cast<rapidjson::SizeType>(p - buf));
}

inline void WriteError(Writer& w, const Error& e) {
  w.StartObject();
  w.Key("message");
  WriteString(w, e.message);
  w.Key("code");
  WriteString(w, e.code);
  w.EndObject();
}

inline void WriteStmtResult(Writer& w, const StmtResult& r) {
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
  WriteOptU64(w, r.replication_index);
  w.Key("rows_read");
  w.Uint64(r.rows_read);
  w.Key("rows_written");
  w.Uint64(r.rows_written);
  w.Key("query_duration_ms");
  w.Double(r.query_duration_ms);
  w.EndObject();
}

inline void WriteBatchResult(Writer& w, const BatchResult& r) {
  w.StartObject();
  w.Key("step_results");
  w.StartArray();
  for (const auto& s : r.step_results) {
    if (s) WriteStmtResult(w, *s);
    else w.Null();
  }
  w.EndArray();
  w.Key("step_errors");
  w.StartArray();
  for (const auto& e : r.step_errors) {
    if (e) WriteError(w, *e);
    else w.Null();
  }
  w.EndArray();
  w.Key("replication_index");
  WriteOptU64(w, r.replication_index);
  w.EndObject();
}

inline const char* TypeName(StreamRequest::Type t) {
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

inline void WriteResponse(Writer& w, const StreamResponse& r) {
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
      WriteBatchResult(w, r.batch_result);
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

inline void WriteCursorEntry(Writer& w, const CursorEntry& e) {
  w.StartObject();
  w.Key("type");
  switch (e.type) {
    case CursorEntry::Type::kStepBegin:
      w.String("step_begin");
      w.Key("step");
      w.Uint(e.step);
      w.Key("cols");
      WriteCols(w, e.cols);
      break;
    case CursorEntry::Type::kStepEnd:
      w.String("step_end");
      w.Key("affected_row_count");
      w.Uint64(e.affected_row_count);
      w.Key("last_insert_rowid");
      WriteOptRowid(w, e.last_insert_rowid);
      break;
    case CursorEntry::Type::kStepError:
      w.String("step_error");
      w.Key("step");
      w.Uint(e.step);
      w.Key("error");
      WriteError(w, e.error);
      break;
    case CursorEntry::Type::kRow:
      w.String("row");
      w.Key("row");
      w.StartArray();
      for (const auto& v : e.row) WriteValue(w, v);
      w.EndArray();
      break;
    case CursorEntry::Type::kError:
      w.String("error");
      w.Key("error");
      WriteError(w, e.error);
      break;
  }
  w.EndObject();
}

inline std::string Finish(rapidjson::StringBuffer& buf, bool newline) {
  std::string out(buf.GetString(), buf.GetSize());
  if (newline) out += '\n';
  return out;
}


}  // namespace litehouse::protocol::json::detail
