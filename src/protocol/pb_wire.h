// A statement's result written straight into Protobuf's wire format, without building the
// generated message objects first. It is the WebSocket execute response's hot path: building a
// pb::StmtResult allocated a message and a string for every column and every value, and freeing them
// cost as much again (docs/BENCHMARKS.md, "Instructions per request, change by change").
//
// The layout, from proto/hrana.proto (every field number below 16, so every tag is one byte):
//
//   StmtResult  1 cols: Col*   2 rows: Row*   3 affected_row_count: uint64
//               4 last_insert_rowid: optional sint64   5 replication_index: optional uint64
//               6 rows_read: uint64   7 rows_written: uint64   8 query_duration_ms: double
//   Col         1 name: optional string   2 decltype: optional string
//   Row         1 values: Value*
//   Value       oneof 1 null: Null (empty)  2 integer: sint64  3 float: double  4 text: bytes  5 blob: bytes
//
// A message field is its tag, its length as a varint, then its fields, in field-number order, as the
// generated code writes them. Proto3 scalars at their default (0; a double whose bits are all 0) are
// left out; optional fields and oneof members are written whenever they are set. The bytes equal
// what the generated classes write for the same result: protobuf_codec_test compares the two.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "protocol/hrana.h"

namespace litehouse::protocol::pbwire {

// The bytes of `r`'s fields (not counting a tag and length around it).
size_t StmtResultSize(const StmtResult& r);
// Writes `r`'s fields at `out`, which has room for StmtResultSize(r) bytes; returns the end.
uint8_t* WriteStmtResult(const StmtResult& r, uint8_t* out);

// A WebSocket ServerMsg { response_ok { request_id, execute { result } } }.
std::string EncodeExecuteResponse(int32_t request_id, const StmtResult& result);

}  // namespace litehouse::protocol::pbwire
