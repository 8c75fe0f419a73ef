// Streams as a shared resource, against the real binary (issue #10, items 5, 6 and 8):
//   - per-client fairness: one client (an address, or what a --trusted-proxy reports) cannot take
//     every stream, nor fill the writer's queue, and every other client is still served;
//   - stored SQL (store_sql) is bounded per text (--max-sql-length) and per stream / connection
//     (--max-stored-sql-size);
//   - batons are 128 random bits, and a stream is bound to the credential that opened it: another
//     token presenting its baton is refused, and the owner's transaction goes on untouched.
// Several clients are simulated from 127.0.0.1 through `--trusted-proxy 127.0.0.1` and the headers a
// proxy would set (Fly-Client-IP, X-Forwarded-For).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { BIN, startServer, postJson } from "./harness.mjs";
import { openRaw, stmt } from "./ws-raw.mjs";

const exec = (sql) => ({ type: "execute", stmt: { sql } });
const fly = (ip) => ({ "Fly-Client-IP": ip });

// A new stream (one SELECT) for the client the headers name; returns the whole reply.
const openStream = (server, headers = {}) => postJson(server, "/v3/pipeline", { baton: null, requests: [exec("SELECT 1")] }, headers);
const closeStream = (server, baton, headers = {}) => postJson(server, "/v3/pipeline", { baton, requests: [{ type: "close" }] }, headers);

function assertRefused(r, status, code, pattern) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.body.code, code, r.text);
  assert.equal(typeof r.body.message, "string", r.text);
  if (pattern) assert.match(r.body.message, pattern);
}

// Opens `n` streams for the client of `headers`; all must succeed. Returns their batons.
async function openMany(server, n, headers) {
  const batons = [];
  for (let i = 0; i < n; i++) {
    const r = await openStream(server, headers);
    assert.equal(r.status, 200, `stream ${i + 1} of ${n}: ${r.text}`);
    batons.push(r.body.baton);
  }
  return batons;
}

// ---------------------------------------------------------------------------------------------
// Item 5: per-client fairness

describe("per-client stream limits behind a trusted proxy", () => {
  let server;
  before(async () => {
    server = await startServer({
      args: ["--max-streams", "30", "--max-streams-per-client", "10", "--trusted-proxy", "127.0.0.1"],
    });
  });
  after(async () => {
    assert.ok(server.alive());
    assert.equal(await server.stop(), 0);
  });

  test("one client past its limit is refused; other clients still open streams; closing frees its places", async () => {
    const greedy = fly("203.0.113.1");
    const batons = await openMany(server, 10, greedy);
    assertRefused(await openStream(server, greedy), 429, "STREAMS_EXHAUSTED", /This client already has 10 streams/);
    // Over WebSocket too: the same client's open_stream is refused, the connection stays usable.
    const ws = await openRaw(server, ["hrana3"], { headers: greedy });
    await ws.hello();
    const refused = await ws.request(1, { type: "open_stream", stream_id: 1 });
    assert.equal(refused.type, "response_error", JSON.stringify(refused));
    assert.equal(refused.error.code, "STREAMS_EXHAUSTED");
    // Everyone else is served, over HTTP and WebSocket.
    const other = await openStream(server, fly("203.0.113.2"));
    assert.equal(other.status, 200, other.text);
    assert.equal(other.body.results[0].response.result.rows[0][0].value, "1");
    const otherWs = await openRaw(server, ["hrana3"], { headers: fly("203.0.113.3") });
    await otherWs.hello();
    await otherWs.ok(1, { type: "open_stream", stream_id: 1 });
    const r = await otherWs.ok(2, { type: "execute", stream_id: 1, stmt: stmt("SELECT 42") });
    assert.equal(r.result.rows[0][0].value, "42");
    await otherWs.close();
    // The greedy client's own streams still work, and closing one gives its place back.
    assert.equal((await closeStream(server, batons.pop(), greedy)).status, 200);
    await ws.ok(2, { type: "open_stream", stream_id: 1 });
    assertRefused(await openStream(server, greedy), 429, "STREAMS_EXHAUSTED");
    await ws.close();
    assert.equal((await closeStream(server, other.body.baton, fly("203.0.113.2"))).status, 200);
    for (const b of batons) assert.equal((await closeStream(server, b, greedy)).status, 200);
  });

  test("X-Forwarded-For: the entry the proxy appended counts, not what the client wrote before it", async () => {
    const batons = await openMany(server, 10, { "X-Forwarded-For": "198.51.100.7" });
    // A client prepending a made-up address is still 198.51.100.7.
    assertRefused(
      await openStream(server, { "X-Forwarded-For": "192.0.2.99, 198.51.100.7" }),
      429,
      "STREAMS_EXHAUSTED",
      /This client/,
    );
    // A different rightmost entry is a different client.
    const other = await openStream(server, { "X-Forwarded-For": "198.51.100.7, 198.51.100.8" });
    assert.equal(other.status, 200, other.text);
    await closeStream(server, other.body.baton, { "X-Forwarded-For": "198.51.100.8" });
    for (const b of batons) await closeStream(server, b);
  });

});

describe("the global limit with per-client limits", () => {
  let server;
  before(async () => {
    server = await startServer({
      args: ["--max-streams", "30", "--max-streams-per-client", "10", "--trusted-proxy", "127.0.0.1"],
    });
  });
  after(async () => {
    assert.equal(await server.stop(), 0);
  });

  test("--max-streams still holds when many clients add up to it", async () => {
    const opened = [];
    for (let c = 0; c < 3; c++) opened.push(...(await openMany(server, 10, fly(`192.0.2.${c + 1}`))));
    assertRefused(await openStream(server, fly("192.0.2.200")), 503, "STREAMS_EXHAUSTED", /The server already has 30 streams/);
    for (const b of opened) assert.equal((await closeStream(server, b)).status, 200);
    assert.equal((await openStream(server, fly("192.0.2.200"))).status, 200, "a stream is available again");
  });
});

describe("per-client limits without a trusted proxy", () => {
  let server;
  before(async () => {
    server = await startServer({ args: ["--max-streams", "20"] });
  });
  after(async () => {
    assert.equal(await server.stop(), 0);
  });

  test("proxy headers are ignored, and the default per-client limit is a tenth of --max-streams", async () => {
    // Every request comes from 127.0.0.1, whatever it claims: its limit is 20 / 10 = 2.
    const batons = [];
    for (const ip of ["203.0.113.1", "203.0.113.2"]) {
      const r = await openStream(server, { ...fly(ip), "X-Forwarded-For": ip });
      assert.equal(r.status, 200, r.text);
      batons.push(r.body.baton);
    }
    assertRefused(
      await openStream(server, { ...fly("203.0.113.3"), "X-Forwarded-For": "203.0.113.3" }),
      429,
      "STREAMS_EXHAUSTED",
      /This client already has 2 streams/,
    );
    for (const b of batons) await closeStream(server, b);
    const db = createClient({ url: server.url });
    assert.equal((await db.execute("SELECT 5")).rows[0][0], 5, "places given back");
    db.close();
  });
});

describe("writer waits per client", () => {
  let server;
  before(async () => {
    server = await startServer({ args: ["--max-writer-waits-per-client", "2", "--trusted-proxy", "127.0.0.1"] });
    const r = await postJson(server, "/v3/pipeline", { requests: [exec("CREATE TABLE w(who TEXT)"), { type: "close" }] });
    assert.equal(r.status, 200, r.text);
  });
  after(async () => {
    assert.equal(await server.stop(), 0);
  });

  test("a client past its bound of queued writes gets WRITER_QUEUE_FULL at once; other clients still queue", async () => {
    const a = fly("203.0.113.10");
    const b = fly("203.0.113.20");
    // A holds the writer in a transaction.
    const txn = await postJson(server, "/v3/pipeline", { baton: null, requests: [exec("BEGIN IMMEDIATE")] }, a);
    assert.equal(txn.status, 200, txn.text);
    assert.equal(txn.body.results[0].type, "ok", txn.text);
    // Three more writes from A: two may wait for the writer, one cannot. Nothing else can settle
    // while the transaction holds the writer, so the first to come back is the refusal.
    const insert = (who, headers) =>
      postJson(server, "/v3/pipeline", { baton: null, requests: [exec(`INSERT INTO w VALUES ('${who}')`), { type: "close" }] }, headers);
    const pending = [insert("a", a), insert("a", a), insert("a", a)];
    const first = await Promise.race(pending);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.body.results[0].type, "error", first.text);
    assert.equal(first.body.results[0].error.code, "WRITER_QUEUE_FULL", first.text);
    // B is another client: it is not refused, it waits its turn.
    const fromB = insert("b", b);
    // A commits; everything that waited now runs.
    const commit = await postJson(server, "/v3/pipeline", { baton: txn.body.baton, requests: [exec("COMMIT"), { type: "close" }] }, a);
    assert.equal(commit.body.results[0].type, "ok", commit.text);
    const all = await Promise.all([...pending, fromB]);
    const outcomes = all.map((r) => (r.body.results[0].type === "ok" ? "ok" : r.body.results[0].error.code));
    assert.deepEqual(outcomes.sort(), ["WRITER_QUEUE_FULL", "ok", "ok", "ok"]);
    const rows = await postJson(server, "/v3/pipeline", { requests: [exec("SELECT who, count(*) FROM w GROUP BY who ORDER BY who"), { type: "close" }] });
    assert.deepEqual(
      rows.body.results[0].response.result.rows.map((r) => [r[0].value, r[1].value]),
      [["a", "2"], ["b", "1"]],
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Item 6: stored SQL is bounded

describe("store_sql limits", () => {
  let server;
  before(async () => {
    server = await startServer({ args: ["--max-sql-length", "1000", "--max-stored-sql-size", "4000"] });
  });
  after(async () => {
    assert.ok(server.alive());
    assert.equal(await server.stop(), 0);
  });

  // A statement of exactly `n` bytes.
  const sqlOf = (n) => {
    const head = "SELECT '";
    return head + "x".repeat(n - head.length - 1) + "'";
  };

  test("HTTP: a text over --max-sql-length is refused as executing it would be; the total per stream is bounded", async () => {
    // Executing a too-long text and storing it give the same code.
    const direct = await postJson(server, "/v3/pipeline", { requests: [exec(sqlOf(1001)), { type: "close" }] });
    assert.equal(direct.body.results[0].error.code, "SQLITE_TOOBIG", direct.text);
    const r = await postJson(server, "/v3/pipeline", {
      baton: null,
      requests: [
        { type: "store_sql", sql_id: 1, sql: sqlOf(1001) },
        { type: "store_sql", sql_id: 1, sql: sqlOf(1000) },
        { type: "store_sql", sql_id: 2, sql: sqlOf(1000) },
        { type: "store_sql", sql_id: 3, sql: sqlOf(1000) },
        { type: "store_sql", sql_id: 4, sql: sqlOf(1000) },
        { type: "store_sql", sql_id: 5, sql: "SELECT 5" },
        { type: "close_sql", sql_id: 4 },
        { type: "store_sql", sql_id: 5, sql: "SELECT 5" },
        { type: "execute", stmt: { sql_id: 5 } },
      ],
    });
    assert.equal(r.status, 200, r.text);
    const codes = r.body.results.map((x) => (x.type === "ok" ? "ok" : x.error.code));
    assert.deepEqual(codes, ["SQLITE_TOOBIG", "ok", "ok", "ok", "ok", "SQL_STORE_TOO_LARGE", "ok", "ok", "ok"], r.text);
    assert.match(r.body.results[0].error.message, /too long/);
    assert.equal(r.body.results[8].response.result.rows[0][0].value, "5");
    // Another stream has its own allowance.
    const other = await postJson(server, "/v3/pipeline", {
      requests: [{ type: "store_sql", sql_id: 1, sql: sqlOf(1000) }, { type: "execute", stmt: { sql_id: 1 } }, { type: "close" }],
    });
    assert.deepEqual(other.body.results.map((x) => x.type), ["ok", "ok", "ok"], other.text);
    assert.equal((await closeStream(server, r.body.baton)).status, 200);
  });

  test("WebSocket: the same bounds per connection, answered as errors; the connection goes on", async () => {
    const ws = await openRaw(server, ["hrana3"]);
    await ws.hello();
    await ws.ok(1, { type: "open_stream", stream_id: 1 });
    const tooLong = await ws.request(2, { type: "store_sql", sql_id: 1, sql: sqlOf(1001) });
    assert.equal(tooLong.type, "response_error", JSON.stringify(tooLong));
    assert.equal(tooLong.error.code, "SQLITE_TOOBIG");
    for (let id = 1; id <= 4; id++) await ws.ok(10 + id, { type: "store_sql", sql_id: id, sql: sqlOf(1000) });
    const full = await ws.request(20, { type: "store_sql", sql_id: 5, sql: "SELECT 5" });
    assert.equal(full.type, "response_error", JSON.stringify(full));
    assert.equal(full.error.code, "SQL_STORE_TOO_LARGE");
    await ws.ok(21, { type: "close_sql", sql_id: 2 });
    await ws.ok(22, { type: "store_sql", sql_id: 5, sql: "SELECT 5" });
    const r = await ws.ok(23, { type: "execute", stream_id: 1, stmt: { sql_id: 5, args: [] } });
    assert.equal(r.result.rows[0][0].value, "5");
    assert.ok(ws.isOpen);
    await ws.close();
  });
});

// ---------------------------------------------------------------------------------------------
// Item 8: batons and the principal of a stream

describe("batons are bound to the credential that opened the stream", () => {
  const dirs = [];
  let server;
  let tokenA;
  let tokenB;
  let tokenRo;
  let tokenC;  // only for the per-token limit
  const bearer = (t) => ({ authorization: `Bearer ${t}` });

  function cli(args) {
    const r = spawnSync(BIN, args, { encoding: "utf8", timeout: 10_000 });
    assert.equal(r.status, 0, `${args.join(" ")}: ${r.stderr}`);
    return r.stdout.trim();
  }

  before(async () => {
    const keys = mkdtempSync(join(tmpdir(), "litehouse-keys-"));
    dirs.push(keys);
    cli(["token", "keygen", "--dir", keys]);
    const key = join(keys, "jwt_private.pem");
    tokenA = cli(["token", "create", "--key", key]);
    tokenB = cli(["token", "create", "--key", key, "--expiration", "30d"]);
    tokenRo = cli(["token", "create", "--key", key, "--read-only"]);
    tokenC = cli(["token", "create", "--key", key, "--expiration", "60d"]);
    assert.notEqual(tokenA, tokenB, "two different read-write tokens");
    server = await startServer({ args: ["--auth-jwt-key-file", join(keys, "jwt_public.pem"), "--max-streams-per-token", "5"] });
    const r = await postJson(server, "/v3/pipeline", { requests: [exec("CREATE TABLE t(v TEXT)"), { type: "close" }] }, bearer(tokenA));
    assert.equal(r.body.results[0].type, "ok", r.text);
  });
  after(async () => {
    assert.ok(server.alive());
    assert.equal(await server.stop(), 0);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("another token presenting the baton is refused; the owner's transaction goes on", async () => {
    const open = await postJson(
      server,
      "/v3/pipeline",
      { baton: null, requests: [exec("BEGIN"), exec("INSERT INTO t VALUES ('a1')")] },
      bearer(tokenA),
    );
    assert.equal(open.status, 200, open.text);
    const baton = open.body.baton;
    assert.match(baton, /^\d+\.[0-9a-f]{32}$/, "128 random bits in hex");
    for (const [label, token] of [["another read-write token", tokenB], ["a read-only token", tokenRo]]) {
      const r = await postJson(
        server,
        "/v3/pipeline",
        { baton, requests: [exec("INSERT INTO t VALUES ('intruder')"), exec("COMMIT")] },
        bearer(token),
      );
      assert.equal(r.status, 403, `${label}: ${r.text}`);
      assertRefused(r, 403, "BATON_FORBIDDEN", /other credentials/);
    }
    const cursor = await postJson(server, "/v3/cursor", { baton, batch: { steps: [{ stmt: { sql: "SELECT 1" } }] } }, bearer(tokenB));
    assertRefused(cursor, 403, "BATON_FORBIDDEN");
    // Without credentials it never gets that far.
    assert.equal((await postJson(server, "/v3/pipeline", { baton, requests: [exec("COMMIT")] })).status, 401);
    // The owner goes on with the same baton: its transaction is still open and holds only its row.
    const next = await postJson(
      server,
      "/v3/pipeline",
      { baton, requests: [exec("INSERT INTO t VALUES ('a2')"), exec("SELECT v FROM t ORDER BY v"), exec("COMMIT"), { type: "close" }] },
      bearer(tokenA),
    );
    assert.equal(next.status, 200, next.text);
    assert.deepEqual(next.body.results.map((x) => x.type), ["ok", "ok", "ok", "ok"], next.text);
    assert.deepEqual(next.body.results[1].response.result.rows.map((r) => r[0].value), ["a1", "a2"]);
  });

  test("a read-only token's stream cannot be continued with a read-write token either", async () => {
    const open = await postJson(server, "/v3/pipeline", { baton: null, requests: [exec("SELECT 1")] }, bearer(tokenRo));
    assert.equal(open.status, 200, open.text);
    assertRefused(
      await postJson(server, "/v3/pipeline", { baton: open.body.baton, requests: [exec("SELECT 2")] }, bearer(tokenA)),
      403,
      "BATON_FORBIDDEN",
    );
    const own = await postJson(server, "/v3/pipeline", { baton: open.body.baton, requests: [exec("SELECT 3"), { type: "close" }] }, bearer(tokenRo));
    assert.equal(own.body.results[0].response.result.rows[0][0].value, "3", own.text);
  });

  test("@libsql/client with its own token runs transactions as before", async () => {
    const db = createClient({ url: server.url, authToken: tokenB });
    const tx = await db.transaction("write");
    await tx.execute("INSERT INTO t VALUES ('b1')");
    await tx.commit();
    assert.equal((await db.execute("SELECT count(*) FROM t WHERE v = 'b1'")).rows[0][0], 1);
    db.close();
  });

  test("--max-streams-per-token bounds one token's streams; another token still opens them", async () => {
    const batons = [];
    for (let i = 0; i < 5; i++) {
      const r = await openStream(server, bearer(tokenC));
      assert.equal(r.status, 200, r.text);
      batons.push(r.body.baton);
    }
    assertRefused(await openStream(server, bearer(tokenC)), 429, "STREAMS_EXHAUSTED", /This token already has 5 streams/);
    const a = await openStream(server, bearer(tokenA));
    assert.equal(a.status, 200, a.text);
    await closeStream(server, a.body.baton, bearer(tokenA));
    for (const b of batons) assert.equal((await closeStream(server, b, bearer(tokenC))).status, 200);
  });
});
