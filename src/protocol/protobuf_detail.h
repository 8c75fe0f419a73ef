// Internal to protocol/: conversions between hrana.h types and the generated Protobuf messages,
// shared by the HTTP codec (protobuf_codec.cc) and the WebSocket codec (ws_protobuf_codec.cc).
#pragma once

#include <google/protobuf/io/coded_stream.h>

#include <string>

#include "common/status.h"
#include "protocol/hrana.h"
#include "protocol/proto/hrana.pb.h"

namespace litehouse::protocol::pbconv {

namespace pb = litehouse::hrana::pb;

// ---- decoding ----

inline Status Invalid(const std::string& what) { return Status::InvalidArgument("Invalid Protobuf request: " + what); }

inline bool FromPb(const pb::Value& v, Value* out, std::string* err) {
  switch (v.value_case()) {
    case pb::Value::kNull: *out = std::monostate{}; return true;
    case pb::Value::kInteger: *out = static_cast<int64_t>(v.integer()); return true;
    case pb::Value::kFloat: *out = v.float_(); return true;
    case pb::Value::kText: *out = v.text(); return true;
    case pb::Value::kBlob: *out = engine::Blob{v.blob()}; return true;
    case pb::Value::VALUE_NOT_SET: *err = "a value without a type"; return false;
  }
  *err = "an unknown value type";
  return false;
}

inline bool FromPb(const pb::Stmt& s, Stmt* out, std::string* err) {
  if (s.has_sql()) out->sql = s.sql();
  if (s.has_sql_id()) out->sql_id = s.sql_id();
  out->args.resize(static_cast<size_t>(s.args_size()));
  for (int i = 0; i < s.args_size(); ++i)
    if (!FromPb(s.args(i), &out->args[static_cast<size_t>(i)], err)) return false;
  for (const auto& na : s.named_args()) {
    NamedArg arg;
    arg.name = na.name();
    if (!FromPb(na.value(), &arg.value, err)) return false;
    out->named_args.push_back(std::move(arg));
  }
  out->want_rows = !s.has_want_rows() || s.want_rows();
  if (s.has_replication_index()) out->replication_index = s.replication_index();
  return true;
}

inline bool FromPb(const pb::BatchCond& c, BatchCond* out, std::string* err, int depth) {
  if (depth > 64) {
    *err = "a batch condition nested too deeply";
    return false;
  }
  switch (c.cond_case()) {
    case pb::BatchCond::kStepOk: out->kind = BatchCond::Kind::kOk; out->step = c.step_ok(); return true;
    case pb::BatchCond::kStepError: out->kind = BatchCond::Kind::kError; out->step = c.step_error(); return true;
    case pb::BatchCond::kNot:
      out->kind = BatchCond::Kind::kNot;
      out->conds.resize(1);
      return FromPb(c.not_(), &out->conds[0], err, depth + 1);
    case pb::BatchCond::kAnd:
    case pb::BatchCond::kOr: {
      out->kind = c.cond_case() == pb::BatchCond::kAnd ? BatchCond::Kind::kAnd : BatchCond::Kind::kOr;
      const auto& list = c.cond_case() == pb::BatchCond::kAnd ? c.and_() : c.or_();
      out->conds.resize(static_cast<size_t>(list.conds_size()));
      for (int i = 0; i < list.conds_size(); ++i)
        if (!FromPb(list.conds(i), &out->conds[static_cast<size_t>(i)], err, depth + 1)) return false;
      return true;
    }
    case pb::BatchCond::kIsAutocommit: out->kind = BatchCond::Kind::kIsAutocommit; return true;
    case pb::BatchCond::COND_NOT_SET: break;
  }
  *err = "a batch condition without a type";
  return false;
}

inline bool FromPb(const pb::Batch& b, Batch* out, std::string* err) {
  if (b.has_replication_index()) out->replication_index = b.replication_index();
  out->steps.resize(static_cast<size_t>(b.steps_size()));
  for (int i = 0; i < b.steps_size(); ++i) {
    const auto& step = b.steps(i);
    auto& dst = out->steps[static_cast<size_t>(i)];
    if (step.has_condition()) {
      dst.condition.emplace();
      if (!FromPb(step.condition(), &*dst.condition, err, 0)) return false;
    }
    if (!FromPb(step.stmt(), &dst.stmt, err)) return false;
  }
  return true;
}

inline bool FromPb(const pb::StreamRequest& r, StreamRequest* out, std::string* err) {
  using T = StreamRequest::Type;
  switch (r.request_case()) {
    case pb::StreamRequest::kClose: out->type = T::kClose; return true;
    case pb::StreamRequest::kExecute: out->type = T::kExecute; return FromPb(r.execute().stmt(), &out->stmt, err);
    case pb::StreamRequest::kBatch: out->type = T::kBatch; return FromPb(r.batch().batch(), &out->batch, err);
    case pb::StreamRequest::kSequence:
      out->type = T::kSequence;
      if (r.sequence().has_sql()) out->sql = r.sequence().sql();
      if (r.sequence().has_sql_id()) out->sql_id = r.sequence().sql_id();
      return true;
    case pb::StreamRequest::kDescribe:
      out->type = T::kDescribe;
      if (r.describe().has_sql()) out->sql = r.describe().sql();
      if (r.describe().has_sql_id()) out->sql_id = r.describe().sql_id();
      return true;
    case pb::StreamRequest::kStoreSql:
      out->type = T::kStoreSql;
      out->sql = r.store_sql().sql();
      out->sql_id = r.store_sql().sql_id();
      return true;
    case pb::StreamRequest::kCloseSql:
      out->type = T::kCloseSql;
      out->sql_id = r.close_sql().sql_id();
      return true;
    case pb::StreamRequest::kGetAutocommit: out->type = T::kGetAutocommit; return true;
    case pb::StreamRequest::REQUEST_NOT_SET: break;
  }
  *err = "a request of an unknown type";
  return false;
}

// ---- encoding ----

inline void ToPb(const Value& v, pb::Value* out) {
  switch (v.index()) {
    case 0: out->mutable_null(); break;
    case 1: out->set_integer(std::get<int64_t>(v)); break;
    case 2: out->set_float_(std::get<double>(v)); break;
    case 3: out->set_text(std::get<std::string>(v)); break;
    case 4: out->set_blob(std::get<engine::Blob>(v).bytes); break;
  }
}

inline void ToPb(const Col& c, pb::Col* out) {
  if (c.name) out->set_name(*c.name);
  if (c.decltype_) out->set_decltype_(*c.decltype_);
}

inline void ToPb(const Error& e, pb::Error* out) {
  out->set_message(e.message);
  out->set_code(e.code);
}

inline void ToPb(const StmtResult& r, pb::StmtResult* out) {
  for (const auto& c : r.cols) ToPb(c, out->add_cols());
  for (const auto& row : r.rows) {
    pb::Row* prow = out->add_rows();
    for (const auto& v : row) ToPb(v, prow->add_values());
  }
  out->set_affected_row_count(r.affected_row_count);
  if (r.last_insert_rowid) out->set_last_insert_rowid(*r.last_insert_rowid);
  if (r.replication_index) out->set_replication_index(*r.replication_index);
  out->set_rows_read(r.rows_read);
  out->set_rows_written(r.rows_written);
  out->set_query_duration_ms(r.query_duration_ms);
}

inline void ToPb(const BatchResult& r, pb::BatchResult* b) {
  for (size_t i = 0; i < r.step_results.size(); ++i) {
    if (r.step_results[i]) ToPb(*r.step_results[i], &(*b->mutable_step_results())[static_cast<uint32_t>(i)]);
  }
  for (size_t i = 0; i < r.step_errors.size(); ++i) {
    if (r.step_errors[i]) ToPb(*r.step_errors[i], &(*b->mutable_step_errors())[static_cast<uint32_t>(i)]);
  }
}

inline void ToPb(const DescribeResult& r, pb::DescribeResult* d) {
  for (const auto& p : r.params) {
    auto* dp = d->add_params();
    if (p.name) dp->set_name(*p.name);
  }
  for (const auto& c : r.cols) {
    auto* dc = d->add_cols();
    dc->set_name(c.name.value_or(""));
    if (c.decltype_) dc->set_decltype_(*c.decltype_);
  }
  d->set_is_explain(r.is_explain);
  d->set_is_readonly(r.is_readonly);
}

inline void ToPb(const CursorEntry& e, pb::CursorEntry* out) {
  switch (e.type) {
    case CursorEntry::Type::kStepBegin: {
      auto* b = out->mutable_step_begin();
      b->set_step(e.step);
      for (const auto& c : e.cols) ToPb(c, b->add_cols());
      break;
    }
    case CursorEntry::Type::kStepEnd: {
      auto* end = out->mutable_step_end();
      end->set_affected_row_count(e.affected_row_count);
      if (e.last_insert_rowid) end->set_last_insert_rowid(*e.last_insert_rowid);
      break;
    }
    case CursorEntry::Type::kStepError:
      out->mutable_step_error()->set_step(e.step);
      ToPb(e.error, out->mutable_step_error()->mutable_error());
      break;
    case CursorEntry::Type::kRow: {
      auto* r = out->mutable_row();
      for (const auto& v : e.row) ToPb(v, r->add_values());
      break;
    }
    case CursorEntry::Type::kError: ToPb(e.error, out->mutable_error()); break;
  }
}

inline void ToPb(const StreamResponse& r, pb::StreamResponse* out) {
  switch (r.type) {
    case StreamRequest::Type::kClose: out->mutable_close(); break;
    case StreamRequest::Type::kExecute: ToPb(r.stmt_result, out->mutable_execute()->mutable_result()); break;
    case StreamRequest::Type::kBatch: ToPb(r.batch_result, out->mutable_batch()->mutable_result()); break;
    case StreamRequest::Type::kSequence: out->mutable_sequence(); break;
    case StreamRequest::Type::kDescribe: ToPb(r.describe_result, out->mutable_describe()->mutable_result()); break;
    case StreamRequest::Type::kStoreSql: out->mutable_store_sql(); break;
    case StreamRequest::Type::kCloseSql: out->mutable_close_sql(); break;
    case StreamRequest::Type::kGetAutocommit: out->mutable_get_autocommit()->set_is_autocommit(r.is_autocommit); break;
  }
}

// Appends `msg` to *out as a length-delimited message (its size as a varint, then its bytes), in
// time linear in the message's size: the string grows geometrically and only the new bytes are
// written. (A CodedOutputStream over a StringOutputStream of *out, as this was before, first
// resizes the string to its whole capacity on every call: a cursor of n entries cost O(n^2).)
inline void AppendDelimited(const google::protobuf::MessageLite& msg, std::string* out) {
  using google::protobuf::io::CodedOutputStream;
  const size_t body = msg.ByteSizeLong();  // also caches the sizes SerializeWithCachedSizes uses
  const auto length = static_cast<uint32_t>(body);
  const size_t old_size = out->size();
  out->resize(old_size + CodedOutputStream::VarintSize32(length) + body);
  auto* at = reinterpret_cast<uint8_t*>(out->data() + old_size);
  at = CodedOutputStream::WriteVarint32ToArray(length, at);
  msg.SerializeWithCachedSizesToArray(at);
}

}  // namespace litehouse::protocol::pbconv
