// Protocol gaps closed against sqld (issue #12), with the real @libsql/client:
//   - a WebSocket connection stores up to 150 SQL texts (sqld's count; the client caches up to 100
//     with store_sql and evicts with close_sql), an HTTP stream 50;
//   - a parameter left without a value is ARGS_INVALID, as on sqld, not NULL;
//   - an INSERT reports its stream's last_insert_rowid even when it inserted nothing (OR IGNORE), and
//     never another stream's; other statements report none (sqld's rule).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createClient, LibsqlError } from "@libsql/client";
import { startServer, postJson } from "./harness.mjs";
import { openHello } from "./ws-raw.mjs";

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  assert.equal(await server.stop(), 0);
});

const ws = () => createClient({ url: `ws://127.0.0.1:${server.port}` });

test("ws: 300 distinct statements one by one, past the client's cache of 100 and the old bound of 50", async () => {
  const c = ws();
  try {
    for (let i = 0; i < 300; i++) {
      const rs = await c.execute(`SELECT ${i} AS v`);
      assert.equal(Number(rs.rows[0].v), i);
    }
  } finally {
    c.close();
  }
});

test("ws: a batch of 1000 different statements, and 20 rounds of 200 repeated ones", async () => {
  const c = ws();
  try {
    const results = await c.batch(Array.from({ length: 1000 }, (_, i) => `SELECT ${i} AS v`), "read");
    assert.equal(results.length, 1000);
    results.forEach((rs, i) => assert.equal(Number(rs.rows[0].v), i));
    for (let round = 0; round < 20; round++) {
      await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const rs = await c.execute(`SELECT ${i} + 1000 AS v`);
          assert.equal(Number(rs.rows[0].v), i + 1000);
        }),
      );
    }
  } finally {
    c.close();
  }
});

test("ws: close_sql pipelined behind a batch that still uses the id", async () => {
  const raw = await openHello(server);
  await raw.ok(1, { type: "open_stream", stream_id: 1 });
  await raw.ok(2, { type: "store_sql", sql_id: 7, sql: "SELECT 42 AS v" });
  const batch = raw.request(3, { type: "batch", stream_id: 1, batch: { steps: [{ stmt: { sql_id: 7, want_rows: true } }] } });
  const closed = raw.request(4, { type: "close_sql", sql_id: 7 });
  const b = await batch;
  assert.equal(b.type, "response_ok", JSON.stringify(b));
  assert.equal(b.response.result.step_results[0].rows[0][0].value, "42");
  assert.equal((await closed).type, "response_ok");
  const after = await raw.request(5, { type: "execute", stream_id: 1, stmt: { sql_id: 7, want_rows: true } });
  assert.equal(after.error.code, "SQL_NOT_FOUND", "the id is gone once closed");
  // 150 texts fit on one connection; the 151st is refused.
  for (let i = 0; i < 150; i++) await raw.ok(100 + i, { type: "store_sql", sql_id: 1000 + i, sql: `SELECT ${i}` });
  const refused = await raw.request(300, { type: "store_sql", sql_id: 5000, sql: "SELECT 1" });
  assert.equal(refused.error.code, "SQL_STORE_TOO_MANY");
  await raw.close();
});

for (const scheme of ["http", "ws"]) {
  test(`${scheme}: a parameter without a value is ARGS_INVALID, except under EXPLAIN`, async () => {
    const c = createClient({ url: scheme === "http" ? server.url : `ws://127.0.0.1:${server.port}` });
    try {
      for (const [stmt, pattern] of [
        [{ sql: "SELECT ?, ?", args: [1] }, /value for parameter 2 not found/],
        [{ sql: "SELECT :a", args: {} }, /value for parameter :a not found/],
        [{ sql: "SELECT :a, :b", args: { a: 1 } }, /value for parameter :b not found/],
      ]) {
        await assert.rejects(c.execute(stmt), (e) => {
          assert.ok(e instanceof LibsqlError, e.message);
          assert.equal(e.code, "ARGS_INVALID", e.message);
          assert.match(e.message, pattern);
          return true;
        });
      }
      const explained = await c.execute({ sql: "EXPLAIN SELECT :a", args: {} });
      assert.ok(explained.rows.length > 0);
      const ok = await c.execute({ sql: "SELECT :a AS a, $b AS b", args: { a: 1, b: "two" } });
      assert.deepEqual([Number(ok.rows[0].a), ok.rows[0].b], [1, "two"]);
    } finally {
      c.close();
    }
  });
}

test("an ignored INSERT reports its stream's last rowid, never another stream's", async () => {
  const ex = (sql) => ({ type: "execute", stmt: { sql } });
  const rowidOf = (res, i) => res.body.results[i].response.result.last_insert_rowid;
  let a = await postJson(server, "/v2/pipeline", {
    requests: [ex("CREATE TABLE uniq(id INTEGER PRIMARY KEY, k TEXT UNIQUE)"), ex("INSERT INTO uniq(k) VALUES ('a')")],
  });
  assert.equal(a.status, 200, a.text);
  assert.equal(rowidOf(a, 1), "1");
  // Another stream inserts (on whichever pooled connection), then closes.
  const b = await postJson(server, "/v2/pipeline", { requests: [ex("INSERT INTO uniq(k) VALUES ('b')"), { type: "close" }] });
  assert.equal(rowidOf(b, 0), "2");
  a = await postJson(server, "/v2/pipeline", {
    baton: a.body.baton,
    requests: [ex("INSERT OR IGNORE INTO uniq(k) VALUES ('a')"), ex("UPDATE uniq SET k = 'a2' WHERE k = 'a'"), { type: "close" }],
  });
  assert.equal(a.status, 200, a.text);
  assert.equal(a.body.results[0].response.result.affected_row_count, 0, "the row was ignored");
  assert.equal(rowidOf(a, 0), "1", "the stream's own last rowid, not the other stream's 2");
  assert.equal(rowidOf(a, 1), null, "an UPDATE reports none, as on sqld");
  // A fresh stream whose first INSERT is ignored reports its connection's 0, as sqld's fresh connection.
  const c = await postJson(server, "/v2/pipeline", { requests: [ex("INSERT OR IGNORE INTO uniq(k) VALUES ('b')"), { type: "close" }] });
  assert.equal(rowidOf(c, 0), "0");
  // An INSERT behind a WITH clause is an INSERT; a DELETE or a SELECT reports none.
  const d = await postJson(server, "/v2/pipeline", {
    requests: [
      ex("WITH v(k) AS (SELECT 'with-' || 'insert') INSERT INTO uniq(k) SELECT k FROM v"),
      ex("DELETE FROM uniq WHERE k = 'b'"),
      ex("WITH x AS (SELECT 1) SELECT * FROM x"),
      ex("REPLACE INTO uniq(id, k) VALUES (100, 'replaced')"),
      { type: "close" },
    ],
  });
  assert.equal(d.status, 200, d.text);
  assert.equal(rowidOf(d, 0), "3", d.text);
  assert.equal(rowidOf(d, 1), null);
  assert.equal(rowidOf(d, 2), null);
  assert.equal(rowidOf(d, 3), "100");
});

// ---- sqld parity, point by point (docs/COMPATIBILITY.md, "Compared with sqld") ----

test("a batch condition that names its own step or a later one refuses the whole batch; nothing runs", async () => {
  const ex = (sql) => ({ type: "execute", stmt: { sql } });
  await postJson(server, "/v2/pipeline", { requests: [ex("CREATE TABLE condref(x)"), { type: "close" }] });
  for (const condition of [{ type: "ok", step: 1 }, { type: "not", cond: { type: "error", step: 2 } }, { type: "and", conds: [{ type: "ok", step: 0 }, { type: "ok", step: 5 }] }]) {
    const res = await postJson(server, "/v3/pipeline", {
      requests: [
        { type: "batch", batch: { steps: [{ stmt: { sql: "INSERT INTO condref VALUES (1)" } }, { condition, stmt: { sql: "INSERT INTO condref VALUES (2)" } }] } },
        ex("SELECT count(*) FROM condref"),
        { type: "close" },
      ],
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.results[0].type, "error", res.text);
    assert.equal(res.body.results[0].error.message, "Invalid reference to step in a batch condition");
    assert.equal(res.body.results[1].response.result.rows[0][0].value, "0", "no step ran");
  }
  // The same over a cursor: one error entry, nothing ran.
  const cur = await fetch(`${server.url}/v3/cursor`, {
    method: "POST",
    body: JSON.stringify({ baton: null, batch: { steps: [{ stmt: { sql: "INSERT INTO condref VALUES (1)" } }, { condition: { type: "ok", step: 1 }, stmt: { sql: "SELECT 1" } }] } }),
  });
  const lines = (await cur.text()).trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines[1].type, "error", JSON.stringify(lines));
  const count = await postJson(server, "/v2/pipeline", { requests: [ex("SELECT count(*) FROM condref"), { type: "close" }] });
  assert.equal(count.body.results[0].response.result.rows[0][0].value, "0");
});

test("arguments as sqld binds them: positional values never fill named parameters, extra named values are too many", async () => {
  const run = (stmt) => postJson(server, "/v2/pipeline", { requests: [{ type: "execute", stmt }, { type: "close" }] });
  const one = { type: "integer", value: "1" };
  let r = await run({ sql: "SELECT :a", args: [one] });
  assert.equal(r.body.results[0].error?.code, "ARGS_INVALID", r.text);
  assert.match(r.body.results[0].error.message, /value for parameter :a not found/);
  r = await run({ sql: "SELECT :a", named_args: [{ name: "a", value: one }, { name: "b", value: one }] });
  assert.equal(r.body.results[0].error?.code, "ARGS_INVALID", r.text);
  assert.match(r.body.results[0].error.message, /too many parameters, expected 1 found 2/);
  // Within the count, a named value the statement does not mention is ignored; ?NNN takes positions.
  r = await run({ sql: "SELECT :a, :c", named_args: [{ name: "a", value: one }, { name: "b", value: one }] });
  assert.match(r.body.results[0].error?.message ?? "", /value for parameter :c not found/, r.text);
  r = await run({ sql: "SELECT ?2, ?1", args: [one, { type: "text", value: "two" }] });
  assert.deepEqual(r.body.results[0].response.result.rows[0], [{ type: "text", value: "two" }, one]);
});

test("HEAD is GET without a body; GET / without an upgrade and unknown POST paths are 404", async () => {
  for (const path of ["/health", "/version", "/v2", "/v1"]) {
    const get = await fetch(server.url + path);
    const getBody = await get.text();
    const head = await fetch(server.url + path, { method: "HEAD" });
    assert.equal(head.status, 200, path);
    assert.equal(await head.text(), "", path);
    assert.equal(Number(head.headers.get("content-length")), Buffer.byteLength(getBody), path);
  }
  assert.equal((await fetch(server.url + "/")).status, 404);
  assert.equal((await fetch(server.url + "/no/such", { method: "POST", body: "{}" })).status, 404);
});

test("hrana1 over WebSocket: a second hello closes the connection (1008), as sqld", async () => {
  const raw = await openHello(server, ["hrana1"]);
  raw.send({ type: "hello", jwt: null });
  const closed = await raw.closed;
  assert.equal(closed.code, 1008);
  assert.match(closed.reason, /Repeated hello message is only supported in protocol version hrana2/);
  // hrana2 and later may hello again.
  const again = await openHello(server, ["hrana2"]);
  await again.hello();
  again.ws.close();
});

test("the legacy API reports each statement's statistics beside its rows, as sqld", async () => {
  const res = await postJson(server, "/", { statements: ["SELECT 1 AS one"] });
  assert.equal(res.status, 200, res.text);
  const r = res.body[0].results;
  assert.deepEqual(r.columns, ["one"]);
  assert.deepEqual(r.rows, [[1]]);
  assert.equal(typeof r.rows_read, "number");
  assert.equal(typeof r.rows_written, "number");
  assert.equal(typeof r.query_duration_ms, "number");
});
