// Refusals: each bad request gets the protocol's error shape and status, the server stays up, and
// other streams are untouched. Also the command line's refusals, and sqld's legacy endpoints.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createClient } from "@libsql/client";
import { BIN, startServer, postJson } from "./harness.mjs";

let server;

before(async () => {
  // A short stream expiry and a small body limit, so both refusals can be reached quickly.
  server = await startServer({ args: ["--stream-expiry-ms", "400", "--max-request-size", "4096"] });
});

after(async () => {
  assert.equal(await server.stop(), 0);
});

const exec = (sql, args) => ({ type: "execute", stmt: { sql, ...(args ? { args } : {}) } });

// Opens a stream holding a transaction, returns its baton.
async function openTxn(table) {
  const r = await postJson(server, "/v2/pipeline", {
    baton: null,
    requests: [exec(`CREATE TABLE IF NOT EXISTS ${table}(x)`), exec("BEGIN IMMEDIATE"), exec(`INSERT INTO ${table} VALUES (1)`)],
  });
  assert.equal(r.status, 200);
  assert.ok(r.body.results.every((x) => x.type === "ok"), JSON.stringify(r.body));
  return r.body.baton;
}

function assertError(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.equal(typeof r.body, "object", `expected a JSON error body, got ${r.text}`);
  assert.equal(r.body.code, code, r.text);
  assert.equal(typeof r.body.message, "string");
  assert.ok(r.body.message.length > 0);
}

test("malformed JSON is a 400 with a Hrana error", async () => {
  assertError(await postJson(server, "/v2/pipeline", "{not json"), 400, "INVALID_REQUEST");
  assertError(await postJson(server, "/v3/pipeline", ""), 400, "INVALID_REQUEST");
  assertError(await postJson(server, "/v3/cursor", "[1,2"), 400, "INVALID_REQUEST");
});

test("wrong types and unknown request types are refused with a reason", async () => {
  const cases = [
    [{ requests: "nope" }, /requests/],
    [{ requests: [{ type: "frobnicate" }] }, /frobnicate/],
    [{ requests: [{ type: "execute", stmt: { sql: 42 } }] }, /sql/],
    [{ requests: [exec("SELECT ?", [{ type: "integer", value: 5.5 }])] }, /integer/],
    [{ requests: [exec("SELECT ?", [{ type: "blob", base64: "%%%" }])] }, /base64/],
    [{ baton: 12, requests: [] }, /baton/],
  ];
  for (const [body, says] of cases) {
    const r = await postJson(server, "/v2/pipeline", body);
    assertError(r, 400, "INVALID_REQUEST");
    assert.match(r.body.message, says);
  }
});

test("an unknown or forged baton is refused", async () => {
  assertError(await postJson(server, "/v2/pipeline", { baton: "garbage", requests: [] }), 400, "INVALID_BATON");
  assertError(await postJson(server, "/v2/pipeline", { baton: "999999.00000000000000000000000000000000", requests: [] }), 400, "INVALID_BATON");
});

test("a baton serves one request: reuse is refused, the stream goes on with the new one", async () => {
  const first = await postJson(server, "/v2/pipeline", { baton: null, requests: [exec("SELECT 1")] });
  const baton = first.body.baton;
  const second = await postJson(server, "/v2/pipeline", { baton, requests: [exec("SELECT 2")] });
  assert.equal(second.status, 200);
  assertError(await postJson(server, "/v2/pipeline", { baton, requests: [exec("SELECT 3")] }), 400, "BATON_REUSED");
  const third = await postJson(server, "/v2/pipeline", { baton: second.body.baton, requests: [{ type: "close" }] });
  assert.equal(third.status, 200);
  assert.equal(third.body.baton, null, "a closed stream has no baton");
});

test("an idle stream expires, its transaction is rolled back, its baton says so", async () => {
  const baton = await openTxn("expiring");
  // This write needs the writer, which the idle transaction holds: it is granted once the stream
  // expires (400 ms here) and its transaction is rolled back.
  const w = await postJson(server, "/v2/pipeline", { requests: [exec("INSERT INTO expiring VALUES (2)"), { type: "close" }] });
  assert.equal(w.body.results[0].type, "ok", JSON.stringify(w.body));
  const c = await postJson(server, "/v2/pipeline", { requests: [exec("SELECT x FROM expiring"), { type: "close" }] });
  assert.deepEqual(c.body.results[0].response.result.rows.map((r) => r[0].value), ["2"], "the expired transaction's insert is gone");
  const late = await postJson(server, "/v2/pipeline", { baton, requests: [exec("COMMIT")] });
  assertError(late, 400, "STREAM_EXPIRED");
  assert.match(server.stderr, /expired with a transaction open: rolling it back/);
});

test("closing a stream with a transaction open rolls it back and logs a warning", async () => {
  const baton = await openTxn("closing");
  const r = await postJson(server, "/v2/pipeline", { baton, requests: [{ type: "close" }] });
  assert.equal(r.status, 200);
  const c = await postJson(server, "/v2/pipeline", { requests: [exec("SELECT count(*) FROM closing"), { type: "close" }] });
  assert.equal(c.body.results[0].response.result.rows[0][0].value, "0");
  assert.match(server.stderr, /closed with a transaction open: rolling it back/);
});

test("a body over the limit is a 413 with a Hrana error", async () => {
  const big = JSON.stringify({ requests: [exec("SELECT '" + "x".repeat(8192) + "'")] });
  assertError(await postJson(server, "/v2/pipeline", big), 413, "REQUEST_TOO_LARGE");
  // The server is still there for everyone else.
  const r = await postJson(server, "/v2/pipeline", { requests: [exec("SELECT 1")] });
  assert.equal(r.status, 200);
});

test("SQL errors are per-request results; the other requests of the pipeline still run", async () => {
  const r = await postJson(server, "/v2/pipeline", {
    requests: [exec("SELEC 1"), exec("SELECT * FROM no_such_table"), exec("SELECT 1; SELECT 2"), exec("  "), exec("SELECT ?", [{ type: "null" }, { type: "null" }]), exec("SELECT 42"), { type: "close" }],
  });
  assert.equal(r.status, 200);
  const codes = r.body.results.map((x) => (x.type === "error" ? x.error.code : "ok"));
  assert.deepEqual(codes, ["SQL_PARSE_ERROR", "SQLITE_UNKNOWN", "SQL_MANY_STATEMENTS", "SQL_NO_STATEMENT", "ARGS_INVALID", "ok", "ok"]);
  assert.equal(r.body.results[5].response.result.rows[0][0].value, "42");
});

test("a bad request on one stream leaves another stream's transaction intact", async () => {
  const baton = await openTxn("untouched");
  await postJson(server, "/v2/pipeline", "{broken");
  await postJson(server, "/v2/pipeline", { baton: "nonsense", requests: [] });
  const r = await postJson(server, "/v2/pipeline", { baton, requests: [exec("INSERT INTO untouched VALUES (2)"), exec("COMMIT"), { type: "close" }] });
  assert.deepEqual(r.body.results.map((x) => x.type), ["ok", "ok", "ok"]);
  const client = createClient({ url: server.url });
  assert.equal((await client.execute("SELECT count(*) AS n FROM untouched")).rows[0].n, 2);
  client.close();
});

test("unknown paths and methods get 404 and 405", async () => {
  assert.equal((await fetch(server.url + "/v9/pipeline", { method: "POST", body: "{}" })).status, 404);
  assert.equal((await fetch(server.url + "/v2/pipeline")).status, 405);
});

test("health, version and the legacy POST / API", async () => {
  assert.equal((await fetch(server.url + "/health")).status, 200);
  const v = await fetch(server.url + "/version");
  assert.match(await v.text(), /^litehouse \d+\.\d+\.\d+/);
  for (const p of ["/v2", "/v3", "/v3-protobuf"]) assert.equal((await fetch(server.url + p)).status, 200, p);

  const r = await postJson(server, "/", {
    statements: [
      "CREATE TABLE legacy(a INTEGER, b TEXT, c BLOB)",
      { q: "INSERT INTO legacy VALUES (?, ?, ?)", params: [1, "one", { base64: "AAE" }] },
      { q: "INSERT INTO legacy VALUES (:a, :b, NULL)", params: { ":a": 2, b: "two" } },
      "SELECT a, b, c FROM legacy ORDER BY a",
    ],
  });
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 4);
  assert.deepEqual(r.body[3].results.columns, ["a", "b", "c"]);
  assert.deepEqual(r.body[3].results.rows, [
    [1, "one", { base64: "AAE" }],
    [2, "two", null],
  ]);
  const bad = await postJson(server, "/", { statements: ["INSERT INTO legacy(a) VALUES (3)", "SELECT * FROM missing", "SELECT 1"] });
  assert.equal(bad.status, 200);
  assert.ok(bad.body[0].results);
  assert.match(bad.body[1].error, /no such table/);
  assert.equal(bad.body[2], null, "statements after a failure do not run");
  assertError(await postJson(server, "/", { statements: [5] }), 400, "INVALID_REQUEST");
});

test("the command line refuses unknown flags and bad values with exit code 2", () => {
  const run = (...args) => spawnSync(BIN, args, { encoding: "utf8" });
  for (const args of [
    ["serve", "--no-such-flag"],
    ["serve", "--http-listen-addr", "nonsense"],
    ["serve", "--max-request-size", "ten"],
    ["serve", "--log-level", "loud"],
    ["frobnicate"],
    [],
  ]) {
    const r = run(...args);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.ok(r.stderr.length > 0, "says what is wrong");
  }
  const help = run("serve", "--help");
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--db-path/);
  assert.match(help.stdout, /SQLD_DB_PATH/);
  const version = run("--version");
  assert.equal(version.status, 0);
  assert.match(version.stdout, /litehouse \d+\.\d+\.\d+/);
});

test("the server is still up after all of the above", () => {
  assert.ok(server.alive());
});
