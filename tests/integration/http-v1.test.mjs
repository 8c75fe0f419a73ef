// Hrana over HTTP version 1 (issue #12, item 1), as sqld serves it (http/user/hrana_over_http_1.rs):
// GET /v1, POST /v1/execute {"stmt"} -> {"result": StmtResult}, POST /v1/batch {"batch"} ->
// {"result": BatchResult}, each on a fresh connection in autocommit, with sqld's statuses for errors.
// The Python libsql-client 0.3 that speaks it is on no registry this machine reaches, so its wire
// format is driven directly.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, postJson } from "./harness.mjs";

let server;
before(async () => {
  server = await startServer({ args: ["--max-writer-waits-per-client", "1"] });
});
after(async () => {
  assert.equal(await server.stop(), 0);
});

const execute = (stmt) => postJson(server, "/v1/execute", { stmt });
const batch = (steps) => postJson(server, "/v1/batch", { batch: { steps } });
const int = (n) => ({ type: "integer", value: String(n) });
const text = (s) => ({ type: "text", value: s });

test("GET /v1 names the API in plain text; the other methods are refused", async () => {
  const res = await fetch(`${server.url}/v1`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^text\/plain/);
  assert.equal(await res.text(), "This is sqld HTTP API v1");
  assert.equal((await fetch(`${server.url}/v1/execute`)).status, 405);
  assert.equal((await fetch(`${server.url}/v1/batch`)).status, 405);
});

test("/v1/execute runs one statement with positional and named arguments", async () => {
  let r = await execute({ sql: "CREATE TABLE v1(id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB)" });
  assert.equal(r.status, 200, r.text);
  r = await execute({ sql: "INSERT INTO v1(name, score, data) VALUES (?, ?, ?)", args: [text("ann"), { type: "float", value: 1.5 }, { type: "blob", base64: "AAEC" }] });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.result.affected_row_count, 1);
  assert.equal(r.body.result.last_insert_rowid, "1");
  r = await execute({ sql: "INSERT INTO v1(name, score) VALUES (:name, $score)", named_args: [{ name: ":name", value: text("bob") }, { name: "score", value: int(7) }] });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.result.last_insert_rowid, "2");
  r = await execute({ sql: "SELECT id, name, score, data FROM v1 ORDER BY id" });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.result.cols.map((c) => c.name), ["id", "name", "score", "data"]);
  assert.deepEqual(r.body.result.rows, [
    [int(1), text("ann"), { type: "float", value: 1.5 }, { type: "blob", base64: "AAEC" }],
    [int(2), text("bob"), { type: "float", value: 7 }, { type: "null" }],
  ]);
  r = await execute({ sql: "DELETE FROM v1 WHERE id = 2", want_rows: false });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.result.affected_row_count, 1);
});

test("/v1/batch runs its steps under their conditions; a failing step stays inside the result, 200", async () => {
  await execute({ sql: "CREATE TABLE IF NOT EXISTS vb(x INTEGER UNIQUE)" });
  const r = await batch([
    { stmt: { sql: "INSERT INTO vb VALUES (1)" } },
    { condition: { type: "ok", step: 0 }, stmt: { sql: "INSERT INTO vb VALUES (1)" } }, // fails: UNIQUE
    { condition: { type: "error", step: 1 }, stmt: { sql: "INSERT INTO vb VALUES (2)" } },
    { condition: { type: "and", conds: [{ type: "ok", step: 0 }, { type: "not", cond: { type: "ok", step: 1 } }] }, stmt: { sql: "SELECT count(*) FROM vb" } },
    { condition: { type: "or", conds: [{ type: "ok", step: 1 }] }, stmt: { sql: "INSERT INTO vb VALUES (99)" } }, // skipped
  ]);
  assert.equal(r.status, 200, r.text);
  const { step_results, step_errors } = r.body.result;
  assert.equal(step_results.length, 5);
  assert.equal(step_errors[1].code, "SQLITE_CONSTRAINT", r.text);
  assert.equal(step_results[1], null);
  assert.ok(step_results[2] && step_errors[2] === null);
  assert.deepEqual(step_results[3].rows, [[int(2)]]);
  assert.equal(step_results[4], null);
  assert.equal(step_errors[4], null);
});

test("each /v1 request is its own autocommit connection: a transaction left open is rolled back", async () => {
  await execute({ sql: "CREATE TABLE IF NOT EXISTS vt(x)" });
  let r = await batch([{ stmt: { sql: "BEGIN" } }, { stmt: { sql: "INSERT INTO vt VALUES (1)" } }]);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.result.step_errors, [null, null]);
  r = await execute({ sql: "BEGIN" });
  assert.equal(r.status, 200, r.text);
  r = await execute({ sql: "SELECT count(*) FROM vt" });
  assert.deepEqual(r.body.result.rows, [[int(0)]], "the open transactions were rolled back");
  // ...and left no write lock behind: a write goes through at once.
  r = await execute({ sql: "INSERT INTO vt VALUES (2)" });
  assert.equal(r.status, 200, r.text);
});

test("/v1 errors get sqld's statuses: JSON errors for statements, plain text for protocol errors", async () => {
  const cases = [
    [{ sql: "SELEC 1" }, 400, "SQL_PARSE_ERROR"],
    [{ sql: "" }, 400, "SQL_NO_STATEMENT"],
    [{ sql: "SELECT 1; SELECT 2" }, 400, "SQL_MANY_STATEMENTS"],
    [{ sql: "SELECT ?, ?", args: [int(1)] }, 400, "ARGS_INVALID"],
    [{ sql: "SELECT :a", args: [int(1)], named_args: [{ name: "a", value: int(1) }] }, 501, "ARGS_BOTH_POSITIONAL_AND_NAMED"],
    [{ sql: "INSERT INTO vb VALUES (2)" }, 500, "SQLITE_CONSTRAINT"],
    [{ sql: "SELECT no_such_column FROM vb" }, 400, "SQL_INPUT_ERROR"],
    [{ sql: "SELECT * FROM no_such_table" }, 500, "SQLITE_UNKNOWN"],
  ];
  for (const [stmt, status, code] of cases) {
    const r = await execute(stmt);
    assert.equal(r.status, status, `${stmt.sql}: ${r.text}`);
    assert.equal(r.body.code, code, `${stmt.sql}: ${r.text}`);
    assert.equal(typeof r.body.message, "string");
  }
  // Protocol errors: 400 with the message as plain text.
  const plain = async (path, body, pattern) => {
    const res = await fetch(server.url + path, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body) });
    assert.equal(res.status, 400, `${path} ${JSON.stringify(body)}`);
    assert.match(res.headers.get("content-type"), /^text\/plain/);
    assert.match(await res.text(), pattern);
  };
  await plain("/v1/execute", "{not json", /JSON/i);
  await plain("/v1/execute", { statement: { sql: "SELECT 1" } }, /stmt/);
  await plain("/v1/execute", { stmt: { sql_id: 1 } }, /`sql_id` is only supported in protocol version hrana2/);
  await plain("/v1/execute", { stmt: {} }, /`sql` or `sql_id` are required/);
  await plain("/v1/execute", { stmt: { sql: "SELECT ?", args: [{ type: "date", value: 1 }] } }, /value type/i);
  await plain("/v1/batch", { batch: { steps: [{ stmt: { sql_id: 3 } }] } }, /hrana2/);
  await plain("/v1/batch", { batch: { steps: [{ condition: { type: "is_autocommit" }, stmt: { sql: "SELECT 1" } }] } }, /`is_autocommit` is only supported in protocol version hrana3/);
  await plain("/v1/batch", { steps: [] }, /batch/);
  // The server is fine afterwards.
  const ok = await execute({ sql: "SELECT 1" });
  assert.equal(ok.status, 200, ok.text);
});

test("/v1 answers 503 when the client already has a request waiting for the writer", async () => {
  await execute({ sql: "CREATE TABLE IF NOT EXISTS vw(x)" });
  // A /v2 stream takes the write lock and keeps it.
  const hold = await postJson(server, "/v2/pipeline", { baton: null, requests: [{ type: "execute", stmt: { sql: "BEGIN IMMEDIATE" } }] });
  assert.equal(hold.status, 200, hold.text);
  assert.equal(hold.body.results[0].type, "ok", hold.text);
  // Two /v1 writes of this client: one waits (its one allowed wait), the other is refused at once,
  // 503, rather than hanging. Which is which depends on which reaches the server first.
  const writes = [1, 2].map((x) => execute({ sql: `INSERT INTO vw VALUES (${x})` }));
  const refusedOne = await Promise.race(writes);  // the waiting one cannot finish while the lock is held
  assert.equal(refusedOne.status, 503, refusedOne.text);
  assert.equal(refusedOne.body.code, "WRITER_QUEUE_FULL", refusedOne.text);
  const commit = await postJson(server, "/v2/pipeline", { baton: hold.body.baton, requests: [{ type: "execute", stmt: { sql: "COMMIT" } }, { type: "close" }] });
  assert.equal(commit.status, 200, commit.text);
  const outcomes = await Promise.all(writes);
  assert.deepEqual(outcomes.map((o) => o.status).sort(), [200, 503], JSON.stringify(outcomes.map((o) => o.text)));
  const count = await execute({ sql: "SELECT count(*) FROM vw" });
  assert.deepEqual(count.body.result.rows, [[int(1)]]);
});
