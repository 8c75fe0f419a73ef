#include "protocol/pb_wire.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <cstring>
#include <string_view>
#include <variant>

namespace litehouse::protocol::pbwire {
namespace {

using google::protobuf::io::CodedOutputStream;
using WFL = google::protobuf::internal::WireFormatLite;

// A length-delimited field of `len` bytes: a one-byte tag (field numbers < 16), the length, the bytes.
size_t LenField(size_t len) { return 1 + CodedOutputStream::VarintSize64(len) + len; }

uint8_t* WriteLen(int field, size_t len, uint8_t* p) {
  p = WFL::WriteTagToArray(field, WFL::WIRETYPE_LENGTH_DELIMITED, p);
  return CodedOutputStream::WriteVarint64ToArray(len, p);
}

uint8_t* WriteBytes(int field, std::string_view bytes, uint8_t* p) {
  p = WriteLen(field, bytes.size(), p);
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  return p + bytes.size();
}

bool DoubleIsDefault(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  return bits == 0;  // +0.0 only: -0.0 is written, as the generated code does
}

size_t ValueSize(const Value& v) {
  switch (v.index()) {
    case 0: return LenField(0);
    case 1: return 1 + WFL::SInt64Size(std::get<int64_t>(v));
    case 2: return 1 + WFL::kDoubleSize;
    case 3: return LenField(std::get<std::string>(v).size());
    default: return LenField(std::get<Blob>(v).bytes.size());
  }
}

uint8_t* WriteValue(const Value& v, uint8_t* p) {
  switch (v.index()) {
    case 0: return WriteLen(1, 0, p);
    case 1: return WFL::WriteSInt64ToArray(2, std::get<int64_t>(v), p);
    case 2: return WFL::WriteDoubleToArray(3, std::get<double>(v), p);
    case 3: return WriteBytes(4, std::get<std::string>(v), p);
    default: return WriteBytes(5, std::get<Blob>(v).bytes, p);
  }
}

size_t ColSize(const Col& c) {
  return (c.name ? LenField(c.name->size()) : 0) + (c.decltype_ ? LenField(c.decltype_->size()) : 0);
}

size_t RowSize(const std::vector<Value>& row) {
  size_t n = 0;
  for (const Value& v : row) n += LenField(ValueSize(v));
  return n;
}

}  // namespace

size_t StmtResultSize(const StmtResult& r) {
  size_t n = 0;
  for (const Col& c : r.cols) n += LenField(ColSize(c));
  for (const auto& row : r.rows) n += LenField(RowSize(row));
  if (r.affected_row_count) n += 1 + WFL::UInt64Size(r.affected_row_count);
  if (r.last_insert_rowid) n += 1 + WFL::SInt64Size(*r.last_insert_rowid);
  if (r.replication_index) n += 1 + WFL::UInt64Size(*r.replication_index);
  if (r.rows_read) n += 1 + WFL::UInt64Size(r.rows_read);
  if (r.rows_written) n += 1 + WFL::UInt64Size(r.rows_written);
  if (!DoubleIsDefault(r.query_duration_ms)) n += 1 + WFL::kDoubleSize;
  return n;
}

uint8_t* WriteStmtResult(const StmtResult& r, uint8_t* p) {
  for (const Col& c : r.cols) {
    p = WriteLen(1, ColSize(c), p);
    if (c.name) p = WriteBytes(1, *c.name, p);
    if (c.decltype_) p = WriteBytes(2, *c.decltype_, p);
  }
  for (const auto& row : r.rows) {
    p = WriteLen(2, RowSize(row), p);
    for (const Value& v : row) p = WriteValue(v, WriteLen(1, ValueSize(v), p));
  }
  if (r.affected_row_count) p = WFL::WriteUInt64ToArray(3, r.affected_row_count, p);
  if (r.last_insert_rowid) p = WFL::WriteSInt64ToArray(4, *r.last_insert_rowid, p);
  if (r.replication_index) p = WFL::WriteUInt64ToArray(5, *r.replication_index, p);
  if (r.rows_read) p = WFL::WriteUInt64ToArray(6, r.rows_read, p);
  if (r.rows_written) p = WFL::WriteUInt64ToArray(7, r.rows_written, p);
  if (!DoubleIsDefault(r.query_duration_ms)) p = WFL::WriteDoubleToArray(8, r.query_duration_ms, p);
  return p;
}

// ServerMsg { 3 response_ok: ResponseOkMsg { 1 request_id: int32, 4 execute: ExecuteResp { 1 result } } }
std::string EncodeExecuteResponse(int32_t request_id, const StmtResult& result) {
  const size_t result_size = StmtResultSize(result);
  const size_t execute_size = LenField(result_size);
  const size_t ok_size = (request_id ? 1 + WFL::Int32Size(request_id) : 0) + LenField(execute_size);
  std::string out(LenField(ok_size), '\0');
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  p = WriteLen(3, ok_size, p);
  if (request_id) p = WFL::WriteInt32ToArray(1, request_id, p);
  p = WriteLen(4, execute_size, p);
  p = WriteLen(1, result_size, p);
  WriteStmtResult(result, p);
  return out;
}

}  // namespace litehouse::protocol::pbwire
