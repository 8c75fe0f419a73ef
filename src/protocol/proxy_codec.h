// sqld's write-forwarding service (`proxy.Proxy`, proto/proxy.proto) as Hrana requests: what an
// embedded replica sends to run its writes and transactions on the primary.
//
//   Execute(ProgramReq {client_id, Program}) -> ExecuteResults {results, state, current_frame_no}
//     A Program is a Hrana batch: steps with conditions (ok, err, not, and, or, is_autocommit), each
//     a Query {stmt, positional | named params, skip_rows}. Every step has a result: its rows, or an
//     Error; a step whose condition is false has an empty result (sqld's). `state` is TXN while the
//     client's connection is in a transaction, else INIT.
//   Describe(DescribeRequest {client_id, stmt}) -> DescribeResult {Description | Error}
//   Disconnect(DisconnectMessage {client_id}) -> Ack
//
// Value.data is bincode 1 (little-endian) of sqld's value enum: a u32 tag, then 0 Null (nothing),
// 1 Integer (i64), 2 Real (f64), 3 Text (u64 length, UTF-8 bytes), 4 Blob (u64 length, bytes).
//
// Parsing never throws: malformed input is a kInvalidArgument Status.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "protocol/hrana.h"

namespace litehouse::protocol::proxy {

struct ProgramRequest {
  std::string client_id;
  Batch batch;
};
struct DescribeRequest {
  std::string client_id;
  std::string sql;
};

Result<ProgramRequest> ParseProgramReq(std::string_view bytes);
Result<DescribeRequest> ParseDescribeRequest(std::string_view bytes);
// The client_id of a DisconnectMessage.
Result<std::string> ParseDisconnect(std::string_view bytes);

// ExecuteResults for a batch's result; `steps` is the number of steps of the program.
std::string EncodeExecuteResults(const BatchResult& result, bool autocommit, std::optional<uint64_t> frame_no);
// ExecuteResults where every step failed with `error` (the program could not run at all).
std::string EncodeExecuteFailure(const Error& error, size_t steps, bool autocommit, std::optional<uint64_t> frame_no);
std::string EncodeDescribeResult(const DescribeResult& result);
std::string EncodeDescribeError(const Error& error);
std::string EncodeAck();

// bincode of one value, and back (exposed for tests).
std::string EncodeValue(const Value& value);
Result<Value> DecodeValue(std::string_view data);

}  // namespace litehouse::protocol::proxy
