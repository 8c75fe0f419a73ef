// How the JSON library was chosen (src/protocol/DESIGN.md): parse the request bodies Litehouse
// receives most, with RapidJSON (through our real codec, into protocol types) and with simdjson's
// On Demand API (reading the same fields into the same types), and encode a typical result with
// RapidJSON's Writer (simdjson 3.0, Debian 12's, has no writer, so output is RapidJSON either way).
// Google Benchmark; run with `make bench-json`.
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <string>

#include "protocol/json_codec.h"

namespace {

using namespace litehouse::protocol;

// What @libsql/client sends for execute(): one statement and a close.
const std::string kExecute =
    R"J({"baton":null,"requests":[{"type":"execute","stmt":{"sql":"SELECT id, name, value FROM bench WHERE id = ?","args":[{"type":"integer","value":"4711"}],"want_rows":true}},{"type":"close"}]})J";

// What it sends for batch(): stored SQL, then BEGIN, five inserts chained by conditions, COMMIT, ROLLBACK.
std::string BatchBody() {
  std::string steps = R"J({"stmt":{"sql":"BEGIN DEFERRED","want_rows":false}})J";
  for (int i = 1; i <= 5; ++i) {
    steps += R"J(,{"condition":{"type":"ok","step":)J" + std::to_string(i - 1) +
             R"J(},"stmt":{"sql_id":1,"args":[{"type":"integer","value":")J" + std::to_string(i) +
             R"J("},{"type":"text","value":"name )J" + std::to_string(i) + R"J("},{"type":"float","value":1.5}],"want_rows":true}})J";
  }
  steps += R"J(,{"condition":{"type":"ok","step":5},"stmt":{"sql":"COMMIT","want_rows":false}})J";
  steps += R"J(,{"condition":{"type":"not","cond":{"type":"ok","step":6}},"stmt":{"sql":"ROLLBACK","want_rows":false}})J";
  return R"J({"baton":null,"requests":[{"type":"store_sql","sql_id":1,"sql":"INSERT INTO t(id, name, v) VALUES (?, ?, ?)"},{"type":"batch","batch":{"steps":[)J" +
         steps + R"J(]}},{"type":"close"}]})J";
}

void RapidJsonParse(benchmark::State& state, const std::string& body) {
  for (auto _ : state) {
    auto req = json::ParsePipelineRequest(body);
    benchmark::DoNotOptimize(req);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

// The same walk our codec does, with On Demand: every field read into the same protocol types.
bool ParseValue(simdjson::ondemand::object obj, Value* out) {
  std::string_view type;
  if (obj["type"].get_string().get(type)) return false;
  if (type == "integer") {
    std::string_view v;
    if (obj["value"].get_string().get(v)) return false;
    *out = static_cast<int64_t>(std::stoll(std::string(v)));
  } else if (type == "float") {
    double d;
    if (obj["value"].get_double().get(d)) return false;
    *out = d;
  } else if (type == "text") {
    std::string_view v;
    if (obj["value"].get_string().get(v)) return false;
    *out = std::string(v);
  } else {
    *out = std::monostate{};
  }
  return true;
}

bool ParseStmt(simdjson::ondemand::object obj, Stmt* stmt) {
  for (auto field : obj) {
    std::string_view key = field.unescaped_key();
    if (key == "sql") stmt->sql = std::string(std::string_view(field.value().get_string()));
    else if (key == "sql_id") stmt->sql_id = static_cast<int32_t>(int64_t(field.value().get_int64()));
    else if (key == "want_rows") stmt->want_rows = bool(field.value().get_bool());
    else if (key == "args") {
      for (auto arg : field.value().get_array()) {
        stmt->args.emplace_back();
        if (!ParseValue(arg.get_object(), &stmt->args.back())) return false;
      }
    }
  }
  return true;
}

void SimdjsonParse(benchmark::State& state, const std::string& body) {
  simdjson::ondemand::parser parser;
  simdjson::padded_string padded(body);
  for (auto _ : state) {
    PipelineRequest req;
    auto doc = parser.iterate(padded);
    for (auto r : doc["requests"].get_array()) {
      StreamRequest sr;
      auto obj = r.get_object();
      for (auto field : obj) {
        std::string_view key = field.unescaped_key();
        if (key == "type") {
          std::string_view t = field.value().get_string();
          sr.type = t == "execute" ? StreamRequest::Type::kExecute : t == "batch" ? StreamRequest::Type::kBatch
                  : t == "store_sql" ? StreamRequest::Type::kStoreSql : StreamRequest::Type::kClose;
        } else if (key == "stmt") {
          ParseStmt(field.value().get_object(), &sr.stmt);
        } else if (key == "sql") {
          sr.sql = std::string(std::string_view(field.value().get_string()));
        } else if (key == "sql_id") {
          sr.sql_id = static_cast<int32_t>(int64_t(field.value().get_int64()));
        } else if (key == "batch") {
          for (auto step : field.value()["steps"].get_array()) {
            BatchStep bs;
            for (auto sf : step.get_object()) {
              std::string_view k = sf.unescaped_key();
              if (k == "stmt") ParseStmt(sf.value().get_object(), &bs.stmt);
              else if (k == "condition") {
                bs.condition.emplace();
                for (auto cf : sf.value().get_object()) {
                  std::string_view ck = cf.unescaped_key();
                  if (ck == "step") bs.condition->step = static_cast<uint32_t>(uint64_t(cf.value().get_uint64()));
                  else if (ck == "type") { std::string_view t = cf.value().get_string(); bs.condition->kind = t == "not" ? BatchCond::Kind::kNot : BatchCond::Kind::kOk; }
                  else if (ck == "cond") {
                    BatchCond inner;
                    for (auto nf : cf.value().get_object()) {
                      std::string_view nk = nf.unescaped_key();
                      if (nk == "step") inner.step = static_cast<uint32_t>(uint64_t(nf.value().get_uint64()));
                      else if (nk == "type") { std::string_view t = nf.value().get_string(); (void)t; }
                    }
                    bs.condition->conds.push_back(std::move(inner));
                  }
                }
              }
            }
            sr.batch.steps.push_back(std::move(bs));
          }
        }
      }
      req.requests.push_back(std::move(sr));
    }
    benchmark::DoNotOptimize(req);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}

void RapidJsonEncode100Rows(benchmark::State& state) {
  StreamResult res;
  res.response.type = StreamRequest::Type::kExecute;
  res.response.stmt_result.cols = {Col{"id", "INTEGER"}, Col{"name", "TEXT"}, Col{"value", "REAL"}};
  for (int i = 0; i < 100; ++i) {
    res.response.stmt_result.rows.push_back({int64_t{i}, std::string("name-") + std::to_string(i), i * 0.5});
  }
  std::vector<StreamResult> results{res};
  for (auto _ : state) {
    auto out = json::EncodePipelineResponse(std::nullopt, std::nullopt, results);
    benchmark::DoNotOptimize(out);
  }
}

const std::string kBatch = BatchBody();
BENCHMARK_CAPTURE(RapidJsonParse, execute, kExecute);
BENCHMARK_CAPTURE(SimdjsonParse, execute, kExecute);
BENCHMARK_CAPTURE(RapidJsonParse, batch, kBatch);
BENCHMARK_CAPTURE(SimdjsonParse, batch, kBatch);
BENCHMARK(RapidJsonEncode100Rows);

}  // namespace

BENCHMARK_MAIN();
