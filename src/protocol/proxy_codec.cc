#include "protocol/proxy_codec.h"

#include <sqlite3.h>

#include <cstring>

#include "engine/connection.h"
#include "protocol/proto/proxy.pb.h"

namespace litehouse::protocol::proxy {
namespace {

namespace pb = ::proxy;

void PutLe(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t GetLe(std::string_view s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<size_t>(i)]);
  return v;
}

Status ToCond(const pb::Cond& in, BatchCond* out, int depth) {
  if (depth > 64) return Status::InvalidArgument("Batch condition nested too deeply");
  switch (in.cond_case()) {
    case pb::Cond::kOk:
    case pb::Cond::kErr: {
      int64_t step = in.cond_case() == pb::Cond::kOk ? in.ok().step() : in.err().step();
      if (step < 0 || step > UINT32_MAX) return Status::InvalidArgument("Invalid reference to step in a batch condition");
      out->kind = in.cond_case() == pb::Cond::kOk ? BatchCond::Kind::kOk : BatchCond::Kind::kError;
      out->step = static_cast<uint32_t>(step);
      return Status::OK();
    }
    case pb::Cond::kNot:
      out->kind = BatchCond::Kind::kNot;
      out->conds.resize(1);
      return ToCond(in.not_().cond(), &out->conds[0], depth + 1);
    case pb::Cond::kAnd:
    case pb::Cond::kOr: {
      const auto& list = in.cond_case() == pb::Cond::kAnd ? in.and_().conds() : in.or_().conds();
      out->kind = in.cond_case() == pb::Cond::kAnd ? BatchCond::Kind::kAnd : BatchCond::Kind::kOr;
      out->conds.resize(static_cast<size_t>(list.size()));
      for (int i = 0; i < list.size(); ++i)
        if (Status s = ToCond(list[i], &out->conds[static_cast<size_t>(i)], depth + 1); !s.ok()) return s;
      return Status::OK();
    }
    case pb::Cond::kIsAutocommit: out->kind = BatchCond::Kind::kIsAutocommit; return Status::OK();
    default: return Status::InvalidArgument("BatchCond type not recognized");
  }
}

void ToPbError(const Error& error, pb::Error* out) {
  // The SQLite result code the error's name stands for (SQLITE_UNKNOWN and our SQL_* codes are
  // SQLITE_ERROR); 0 for errors that are not SQLite's.
  int sqlite_code = 0;
  if (error.code == "SQLITE_UNKNOWN" || error.code.rfind("SQL_", 0) == 0) sqlite_code = SQLITE_ERROR;
  for (int c = 1; c <= SQLITE_WARNING && sqlite_code == 0; ++c)
    if (error.code == engine::PrimaryCodeName(c)) sqlite_code = c;
  out->set_message(error.message);
  out->set_extended_code(sqlite_code);
  // As sqld (rpc/proxy.rs): SQL_ERROR for arguments that do not fit, TX_TIMEOUT and TX_BUSY for
  // those, INTERNAL for everything else, SQLite's errors included (the client's message carries the
  // rest).
  if (error.code == "TRANSACTION_TIMEOUT") {
    out->set_code(pb::Error::TX_TIMEOUT);
  } else if (error.code == "TRANSACTION_BUSY" || error.code == "WRITER_QUEUE_FULL") {
    out->set_code(pb::Error::TX_BUSY);
  } else if (error.code.rfind("ARGS_", 0) == 0) {
    out->set_code(pb::Error::SQL_ERROR);
  } else {
    out->set_code(pb::Error::INTERNAL);
  }
}

void ToPbColumns(const std::vector<Col>& cols, google::protobuf::RepeatedPtrField<pb::Column>* out) {
  for (const Col& c : cols) {
    pb::Column* col = out->Add();
    col->set_name(c.name.value_or(""));
    if (c.decltype_) col->set_decltype_(*c.decltype_);
  }
}

}  // namespace

std::string EncodeValue(const Value& value) {
  std::string out;
  switch (value.index()) {
    case 0: PutLe(&out, 0, 4); break;
    case 1:
      PutLe(&out, 1, 4);
      PutLe(&out, static_cast<uint64_t>(std::get<int64_t>(value)), 8);
      break;
    case 2: {
      PutLe(&out, 2, 4);
      uint64_t bits;
      double d = std::get<double>(value);
      std::memcpy(&bits, &d, 8);
      PutLe(&out, bits, 8);
      break;
    }
    case 3: {
      const std::string& s = std::get<std::string>(value);
      PutLe(&out, 3, 4);
      PutLe(&out, s.size(), 8);
      out += s;
      break;
    }
    default: {
      const std::string& b = std::get<engine::Blob>(value).bytes;
      PutLe(&out, 4, 4);
      PutLe(&out, b.size(), 8);
      out += b;
    }
  }
  return out;
}

Result<Value> DecodeValue(std::string_view data) {
  if (data.size() < 4) return Status::InvalidArgument("a value shorter than its tag");
  const uint64_t tag = GetLe(data, 0, 4);
  switch (tag) {
    case 0: return Value(std::monostate{});
    case 1:
      if (data.size() != 12) return Status::InvalidArgument("an integer value of the wrong size");
      return Value(static_cast<int64_t>(GetLe(data, 4, 8)));
    case 2: {
      if (data.size() != 12) return Status::InvalidArgument("a real value of the wrong size");
      uint64_t bits = GetLe(data, 4, 8);
      double d;
      std::memcpy(&d, &bits, 8);
      return Value(d);
    }
    case 3:
    case 4: {
      if (data.size() < 12) return Status::InvalidArgument("a text or blob value without its length");
      const uint64_t n = GetLe(data, 4, 8);
      if (n != data.size() - 12) return Status::InvalidArgument("a text or blob value whose length is not its size");
      std::string bytes(data.substr(12));
      if (tag == 3) return Value(std::move(bytes));
      return Value(engine::Blob{std::move(bytes)});
    }
    default: return Status::InvalidArgument("Value type not recognized");
  }
}

Result<ProgramRequest> ParseProgramReq(std::string_view bytes) {
  pb::ProgramReq req;
  if (!req.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return Status::InvalidArgument("cannot decode ProgramReq");
  ProgramRequest out;
  out.client_id = req.client_id();
  for (const pb::Step& step : req.pgm().steps()) {
    BatchStep s;
    if (step.has_cond()) {
      s.condition.emplace();
      if (Status st = ToCond(step.cond(), &*s.condition, 0); !st.ok()) return st;
    }
    const pb::Query& q = step.query();
    s.stmt.sql = q.stmt();
    s.stmt.want_rows = !q.skip_rows();
    if (q.has_positional()) {
      for (const pb::Value& v : q.positional().values()) {
        auto value = DecodeValue(v.data());
        if (!value.ok()) return value.status();
        s.stmt.args.push_back(std::move(value).value());
      }
    } else if (q.has_named()) {
      if (q.named().names_size() != q.named().values_size()) return Status::InvalidArgument("named parameters without as many values");
      for (int i = 0; i < q.named().names_size(); ++i) {
        auto value = DecodeValue(q.named().values(i).data());
        if (!value.ok()) return value.status();
        s.stmt.named_args.push_back(NamedArg{q.named().names(i), std::move(value).value()});
      }
    }
    out.batch.steps.push_back(std::move(s));
  }
  return out;
}

Result<DescribeRequest> ParseDescribeRequest(std::string_view bytes) {
  pb::DescribeRequest req;
  if (!req.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return Status::InvalidArgument("cannot decode DescribeRequest");
  return DescribeRequest{req.client_id(), req.stmt()};
}

Result<std::string> ParseDisconnect(std::string_view bytes) {
  pb::DisconnectMessage msg;
  if (!msg.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return Status::InvalidArgument("cannot decode DisconnectMessage");
  return msg.client_id();
}

std::string EncodeExecuteResults(const BatchResult& result, bool autocommit, std::optional<uint64_t> frame_no) {
  pb::ExecuteResults out;
  for (size_t i = 0; i < result.step_results.size(); ++i) {
    pb::QueryResult* qr = out.add_results();
    if (i < result.step_errors.size() && result.step_errors[i]) {
      ToPbError(*result.step_errors[i], qr->mutable_error());
      continue;
    }
    pb::ResultRows* rows = qr->mutable_row();
    if (!result.step_results[i]) continue;  // not run: an empty result, as sqld's
    const StmtResult& r = *result.step_results[i];
    ToPbColumns(r.cols, rows->mutable_column_descriptions());
    for (const auto& row : r.rows) {
      pb::Row* prow = rows->add_rows();
      for (const auto& v : row) prow->add_values()->set_data(EncodeValue(v));
    }
    rows->set_affected_row_count(r.affected_row_count);
    if (r.last_insert_rowid) rows->set_last_insert_rowid(*r.last_insert_rowid);
  }
  out.set_state(autocommit ? pb::INIT : pb::TXN);
  if (frame_no) out.set_current_frame_no(*frame_no);
  return out.SerializeAsString();
}

std::string EncodeExecuteFailure(const Error& error, size_t steps, bool autocommit, std::optional<uint64_t> frame_no) {
  pb::ExecuteResults out;
  for (size_t i = 0; i < steps; ++i) ToPbError(error, out.add_results()->mutable_error());
  out.set_state(autocommit ? pb::INIT : pb::TXN);
  if (frame_no) out.set_current_frame_no(*frame_no);
  return out.SerializeAsString();
}

std::string EncodeDescribeResult(const DescribeResult& result) {
  pb::DescribeResult out;
  pb::Description* d = out.mutable_description();
  ToPbColumns(result.cols, d->mutable_column_descriptions());
  // sqld lists the names of the named parameters, from index 0. The libsql client looks parameter i
  // (1-based, as SQLite counts) up at index i, so with sqld the last named parameter is missing and
  // binding named values panics in the client. When every parameter has a name we put an empty one
  // first, so index i is parameter i; otherwise sqld's list (positional values need no names).
  bool all_named = !result.params.empty();
  for (const DescribeParam& p : result.params) all_named = all_named && p.name.has_value();
  if (all_named) d->add_param_names("");
  for (const DescribeParam& p : result.params)
    if (p.name) d->add_param_names(*p.name);
  d->set_param_count(result.params.size());
  return out.SerializeAsString();
}

std::string EncodeDescribeError(const Error& error) {
  pb::DescribeResult out;
  ToPbError(error, out.mutable_error());
  return out.SerializeAsString();
}

std::string EncodeAck() { return pb::Ack().SerializeAsString(); }

}  // namespace litehouse::protocol::proxy
