// Hrana's JSON encoding (HRANA_3_SPEC.md, "JSON"): requests parsed into hrana.h types, results written.
//
//   Value:  {"type":"null"} | {"type":"integer","value":"<i64 as string>"} | {"type":"float","value":<number>}
//           | {"type":"text","value":"..."} | {"type":"blob","base64":"..."}
//   Pipeline request  {"baton": string|null, "requests": [StreamRequest]}
//   Pipeline response {"baton": string|null, "base_url": string|null, "results": [StreamResult]}
//   Cursor request    {"baton": string|null, "batch": Batch}; the response is one JSON object per line:
//                     {"baton","base_url"} first, then step_begin/row/step_end/step_error/error entries.
//
// Parsing never throws: malformed input is a kInvalidArgument Status whose message says what is wrong.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "protocol/hrana.h"

namespace litehouse::protocol::json {

Result<PipelineRequest> ParsePipelineRequest(std::string_view body);
Result<CursorRequest> ParseCursorRequest(std::string_view body);

std::string EncodePipelineResponse(const std::optional<std::string>& baton, const std::optional<std::string>& base_url,
                                   const std::vector<StreamResult>& results);
// The body of an HTTP error response: a Hrana Error, {"message": ..., "code": ...}, as the spec asks.
std::string EncodeError(const Error& error);

// Cursor entries: each returns one line, newline included.
std::string EncodeCursorHead(const std::optional<std::string>& baton, const std::optional<std::string>& base_url);
std::string EncodeStepBegin(uint32_t step, const std::vector<Col>& cols);
std::string EncodeRow(const std::vector<Value>& row);
std::string EncodeStepEnd(uint64_t affected_row_count, const std::optional<int64_t>& last_insert_rowid);
std::string EncodeStepError(uint32_t step, const Error& error);
std::string EncodeCursorError(const Error& error);

// Hrana over HTTP version 1 (sqld's /v1/execute and /v1/batch): {"stmt": Stmt} answered with
// {"result": StmtResult}, {"batch": Batch} with {"result": BatchResult}. Version 1 has no stored SQL
// (`sql_id`) and no `is_autocommit` condition: a request with either is refused here, as sqld does.
Result<Stmt> ParseV1Execute(std::string_view body);
Result<Batch> ParseV1Batch(std::string_view body);
std::string EncodeV1Result(const StmtResult& result);
std::string EncodeV1Result(const BatchResult& result);

// The legacy API (POST / with {"statements": [...]}): each statement a string or {"q": sql, "params": [..] | {..}}.
struct LegacyStatement {
  std::string sql;
  std::vector<Value> args;
  std::vector<NamedArg> named_args;
};
Result<std::vector<LegacyStatement>> ParseLegacyRequest(std::string_view body);
// The outcome of one legacy statement: a result, an error message, or neither (not run).
struct LegacyOutcome {
  std::optional<StmtResult> result;
  std::optional<std::string> error;
};
// The legacy response, one element per statement: {"results": {"columns": [names], "rows": [[plain values]]}},
// {"error": "message"}, or null for a statement not run after an earlier failure. Blobs: {"base64": "..."}.
std::string EncodeLegacyResults(const std::vector<LegacyOutcome>& outcomes);

}  // namespace litehouse::protocol::json
