// Fuzz target: the body of POST /v2/pipeline and /v3/pipeline (Hrana JSON over HTTP), as the server
// decodes it (protocol::CodecFor(kJson).ParsePipelineRequest).
//
// Oracle, besides "no crash, no sanitizer report": a request the server accepts, written again by the
// client library's encoder (json::EncodePipelineRequest), parses back to the same request. The two
// sides of the codec must agree on everything the server can receive.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "protocol/codec.h"
#include "protocol/json_client_codec.h"

namespace {

using namespace litehouse::protocol;  // NOLINT

bool SameValue(const Value& a, const Value& b) {
  if (a.index() != b.index()) return false;
  // Doubles compare by value: -0.0 and 0.0 are one SQLite value, and JSON cannot carry a NaN.
  return a == b;
}

bool SameStmt(const Stmt& a, const Stmt& b) {
  if (a.sql != b.sql || a.sql_id != b.sql_id || a.want_rows != b.want_rows) return false;
  if (a.args.size() != b.args.size() || a.named_args.size() != b.named_args.size()) return false;
  for (size_t i = 0; i < a.args.size(); ++i)
    if (!SameValue(a.args[i], b.args[i])) return false;
  for (size_t i = 0; i < a.named_args.size(); ++i)
    if (a.named_args[i].name != b.named_args[i].name || !SameValue(a.named_args[i].value, b.named_args[i].value))
      return false;
  return true;
}

bool SameCond(const BatchCond& a, const BatchCond& b) {
  if (a.kind != b.kind || a.conds.size() != b.conds.size()) return false;
  if ((a.kind == BatchCond::Kind::kOk || a.kind == BatchCond::Kind::kError) && a.step != b.step) return false;
  for (size_t i = 0; i < a.conds.size(); ++i)
    if (!SameCond(a.conds[i], b.conds[i])) return false;
  return true;
}

bool SameRequest(const StreamRequest& a, const StreamRequest& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case StreamRequest::Type::kExecute: return SameStmt(a.stmt, b.stmt);
    case StreamRequest::Type::kBatch:
      if (a.batch.steps.size() != b.batch.steps.size()) return false;
      for (size_t i = 0; i < a.batch.steps.size(); ++i) {
        const BatchStep& x = a.batch.steps[i];
        const BatchStep& y = b.batch.steps[i];
        if (x.condition.has_value() != y.condition.has_value()) return false;
        if (x.condition && !SameCond(*x.condition, *y.condition)) return false;
        if (!SameStmt(x.stmt, y.stmt)) return false;
      }
      return true;
    case StreamRequest::Type::kSequence:
    case StreamRequest::Type::kDescribe:
    case StreamRequest::Type::kStoreSql: return a.sql == b.sql && a.sql_id == b.sql_id;
    case StreamRequest::Type::kCloseSql: return a.sql_id == b.sql_id;
    default: return true;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto parsed = CodecFor(Encoding::kJson).ParsePipelineRequest(body);
  if (!parsed.ok()) return 0;
  std::string again = json::EncodePipelineRequest(*parsed);
  auto reparsed = CodecFor(Encoding::kJson).ParsePipelineRequest(again);
  FUZZ_CHECK(reparsed.ok());
  FUZZ_CHECK(reparsed->baton == parsed->baton);
  FUZZ_CHECK(reparsed->requests.size() == parsed->requests.size());
  for (size_t i = 0; i < parsed->requests.size(); ++i) FUZZ_CHECK(SameRequest(parsed->requests[i], reparsed->requests[i]));
  return 0;
}
