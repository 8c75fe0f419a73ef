// Hrana, as data: the requests a stream receives and the results it sends, with no transport and no
// encoding. The JSON codec (json_codec.h) maps these to and from the wire; later, protobuf does too.
//
// Spec: docs/HRANA_3_SPEC.md of the libsql repository; the digest in shared/research/hrana.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/value.h"

namespace litehouse::protocol {

using engine::Value;

struct NamedArg {
  std::string name;
  Value value;
};

struct Stmt {
  std::optional<std::string> sql;
  std::optional<int32_t> sql_id;
  std::vector<Value> args;
  std::vector<NamedArg> named_args;
  bool want_rows = true;
  // The primary's index the client saw after its writes (a result's replication_index): on a read
  // replica, the statement waits until the replica has applied it.
  std::optional<uint64_t> replication_index;
};

struct BatchCond {
  enum class Kind { kOk, kError, kNot, kAnd, kOr, kIsAutocommit };
  Kind kind = Kind::kOk;
  uint32_t step = 0;             // kOk, kError
  std::vector<BatchCond> conds;  // kNot (exactly one), kAnd, kOr
};

struct BatchStep {
  std::optional<BatchCond> condition;
  Stmt stmt;
};

struct Batch {
  std::vector<BatchStep> steps;
  std::optional<uint64_t> replication_index;  // as Stmt's
};

struct StreamRequest {
  enum class Type { kClose, kExecute, kBatch, kSequence, kDescribe, kStoreSql, kCloseSql, kGetAutocommit };
  Type type = Type::kClose;
  Stmt stmt;                       // kExecute
  Batch batch;                     // kBatch
  std::optional<std::string> sql;  // kSequence, kDescribe, kStoreSql
  std::optional<int32_t> sql_id;   // kSequence, kDescribe, kStoreSql, kCloseSql
};

struct PipelineRequest {
  std::optional<std::string> baton;
  std::vector<StreamRequest> requests;
};

struct CursorRequest {
  std::optional<std::string> baton;
  Batch batch;
};

// ---- results ----

// A Hrana error: `code` is one of sqld's codes (SQL_PARSE_ERROR, ARGS_INVALID, SQLITE_CONSTRAINT, ...).
struct Error {
  std::string message;
  std::string code;
};

struct Col {
  std::optional<std::string> name;
  std::optional<std::string> decltype_;
};

// How a statement ended: its counts, as a step_end entry and a StmtResult report them.
struct StmtEnd {
  uint64_t affected_row_count = 0;
  std::optional<int64_t> last_insert_rowid;
  // rows_read approximates libsql's counter (stock SQLite has none): the rows a full scan stepped
  // over, or the rows returned when more. rows_written is the rows the statement changed.
  uint64_t rows_read = 0;
  uint64_t rows_written = 0;
  double query_duration_ms = 0;
  // Where the primary's replication log stood after the request (sqld's frame number), for a client
  // that wants to read its writes elsewhere; null without a log.
  std::optional<uint64_t> replication_index;
};

struct StmtResult : StmtEnd {
  std::vector<Col> cols;
  std::vector<std::vector<Value>> rows;
};

struct BatchResult {
  std::vector<std::optional<StmtResult>> step_results;
  std::vector<std::optional<Error>> step_errors;
  std::optional<uint64_t> replication_index;  // as StmtEnd's, for the whole batch
};

struct DescribeParam {
  std::optional<std::string> name;
};

struct DescribeResult {
  std::vector<DescribeParam> params;
  std::vector<Col> cols;
  bool is_explain = false;
  bool is_readonly = false;
};

struct StreamResponse {
  StreamRequest::Type type = StreamRequest::Type::kClose;
  StmtResult stmt_result;        // kExecute
  BatchResult batch_result;      // kBatch
  DescribeResult describe_result;  // kDescribe
  bool is_autocommit = false;    // kGetAutocommit
};

// One entry of `results` in a pipeline response: a response or an error.
struct StreamResult {
  bool ok = true;
  StreamResponse response;
  Error error;
};

// ---- Hrana over WebSocket ----

// One entry of a cursor's output (HRANA_3_SPEC.md "Cursor entries").
struct CursorEntry {
  enum class Type { kStepBegin, kStepEnd, kStepError, kRow, kError };
  Type type = Type::kRow;
  uint32_t step = 0;                         // kStepBegin, kStepError
  std::vector<Col> cols;                     // kStepBegin
  uint64_t affected_row_count = 0;           // kStepEnd
  std::optional<int64_t> last_insert_rowid;  // kStepEnd
  std::vector<Value> row;                    // kRow
  Error error;                               // kStepError, kError
};

struct WsRequest {
  enum class Type {
    kOpenStream, kCloseStream, kExecute, kBatch, kOpenCursor, kCloseCursor, kFetchCursor,
    kSequence, kDescribe, kStoreSql, kCloseSql, kGetAutocommit,
  };
  Type type = Type::kOpenStream;
  int32_t stream_id = 0;  // every request on a stream
  int32_t cursor_id = 0;  // kOpenCursor, kCloseCursor, kFetchCursor
  uint32_t max_count = 0; // kFetchCursor
  // The stream-level part, as over HTTP: kExecute (stmt), kBatch and kOpenCursor (batch),
  // kSequence and kDescribe (sql/sql_id), kStoreSql and kCloseSql (sql_id, sql), kGetAutocommit.
  StreamRequest stream_request;
};

struct ClientMsg {
  enum class Type { kHello, kRequest };
  Type type = Type::kHello;
  std::optional<std::string> jwt;  // kHello
  int32_t request_id = 0;          // kRequest
  WsRequest request;               // kRequest
};

struct WsResponse {
  WsRequest::Type type = WsRequest::Type::kOpenStream;
  StreamResponse stream_response;    // the stream-level answer, for the requests that have one
  std::vector<CursorEntry> entries;  // kFetchCursor
  bool done = false;                 // kFetchCursor
};

struct ServerMsg {
  enum class Type { kHelloOk, kHelloError, kResponseOk, kResponseError };
  Type type = Type::kHelloOk;
  int32_t request_id = 0;  // kResponseOk, kResponseError
  WsResponse response;     // kResponseOk
  Error error;             // kHelloError, kResponseError
};

}  // namespace litehouse::protocol
