// Cursors stream (issue #10, items 3 and 7): a cursor's entries are made as the client takes them,
// through a bounded queue, so a cursor has no total size limit and a client that stops reading holds
// only bounded memory in the server. The server runs with small limits (1 MB responses, 1 MB queued
// per connection): every cursor here is far past both, and arrives whole and in order over HTTP JSON,
// HTTP Protobuf and WebSocket. Memory is checked with the server's RSS (/proc/<pid>/status): sampled
// while a client does not read, and its peak (VmHWM) over the whole transfer, which needs no timing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { readFileSync } from "node:fs";
import zlib from "node:zlib";
import * as hrana from "@libsql/hrana-client";
import { SANITIZED, startServer, postJson } from "./harness.mjs";
import { openHello, openRaw, stmt, wsUrl } from "./ws-raw.mjs";
import { waitUntil, connectRaw } from "./raw-http.mjs";

const MB = 1_000_000;
let server;

before(async () => {
  server = await startServer({
    args: ["--max-response-size", "1MB", "--max-queued-bytes-per-connection", "1MB", "--stream-expiry-ms", "120000"],
  });
});

after(async () => {
  assert.ok(server.alive());
  assert.equal(await server.stop(), 0);
});

function memory() {
  const status = readFileSync(`/proc/${server.child.pid}/status`, "utf8");
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)[1]) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

// `rows` rows (n, pad): pad is `width` characters ending in n, so each row can be checked.
const bigSql = (rows, width) =>
  `WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < ${rows}) ` +
  `SELECT n, printf('%0${width}d', n) AS pad FROM c`;
const padOf = (n, width) => String(n).padStart(width, "0");

// Checks rows as they come: n counts up from 1, each pad matches.
function rowChecker(width) {
  let next = 1;
  return {
    row(n, pad) {
      assert.equal(Number(n), next, `row ${next}`);
      assert.equal(pad, padOf(next, width), `pad of row ${next}`);
      ++next;
    },
    get count() {
      return next - 1;
    },
  };
}

// POST /v3/cursor with node's http client, the body read as a stream of JSON lines. `onStarted(res)`
// is called once `pauseAfter` bytes came (a test may pause the response there).
function jsonCursor(body, { pauseAfter = Infinity, onStarted } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port: server.port, method: "POST", path: "/v3/cursor", headers: { "content-type": "application/json" }, agent: false },
      (res) => {
        const lines = [];
        let rest = "";
        let received = 0;
        let started = false;
        const entries = [];
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          received += chunk.length;
          rest += chunk;
          const parts = rest.split("\n");
          rest = parts.pop();
          for (const line of parts) if (line) (lines.length === 0 ? lines : entries).push(JSON.parse(line));
          if (!started && received >= pauseAfter) {
            started = true;
            onStarted?.(res);
          }
          // Only the head is kept whole; rows are handed on as they come, so memory stays small here too.
          if (entries.length > 1000) res.emit("entries", entries.splice(0));
        });
        res.on("end", () => {
          if (rest) entries.push(JSON.parse(rest));
          res.emit("entries", entries.splice(0));
          resolve({ status: res.statusCode, head: lines[0], chunked: res.headers["transfer-encoding"] === "chunked" });
        });
        res.on("error", reject);
        res.on("entries", (batch) => req.emit("entries", batch));
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
    req.on("entries", (batch) => req.onEntries?.(batch));
    jsonCursor.last = req;
  });
}

// Runs a JSON cursor of `rows` x `width` and checks every entry; returns the checker.
async function checkedJsonCursor(rows, width, options = {}) {
  const check = rowChecker(width);
  const types = [];
  const done = jsonCursor({ baton: null, batch: { steps: [{ stmt: { sql: bigSql(rows, width) } }] } }, options);
  jsonCursor.last.onEntries = (batch) => {
    for (const e of batch) {
      if (e.type === "row") check.row(e.row[0].value, e.row[1].value);
      else types.push(e.type);
    }
  };
  const res = await done;
  assert.equal(res.status, 200);
  assert.ok(res.chunked, "the body is chunked");
  assert.match(res.head.baton, /^\d+\.[0-9a-f]{32}$/);
  assert.deepEqual(types, ["step_begin", "step_end"]);
  assert.equal(check.count, rows);
  return res;
}

test("HTTP JSON: a cursor of 30 MB (30 x --max-response-size) streams whole and in order", { timeout: 120_000 }, async () => {
  const res = await checkedJsonCursor(30_000, 1000);
  // The stream goes on under the baton the head named.
  const next = await postJson(server, "/v3/pipeline", { baton: res.head.baton, requests: [{ type: "execute", stmt: stmt("SELECT 'after'") }, { type: "close" }] });
  assert.equal(next.status, 200, next.text);
  assert.equal(next.body.results[0].response.result.rows[0][0].value, "after");
});

test("HTTP Protobuf (@libsql/hrana-client): a cursor of 30 MB in a transaction streams whole; its writes and transaction behave", { timeout: 120_000 }, async () => {
  const client = hrana.openHttp(server.url, undefined, undefined, undefined, 3);
  const s = client.openStream();
  try {
    await s.run("CREATE TABLE IF NOT EXISTS marks(x)");
    const batch = s.batch(true);
    batch.step().run("BEGIN");
    batch.step().run("INSERT INTO marks VALUES (1)");
    const q = batch.step().query(bigSql(30_000, 1000));
    batch.step().run("COMMIT");
    await batch.execute();
    const rs = await q;
    assert.equal(rs.rows.length, 30_000);
    const check = rowChecker(1000);
    for (const r of rs.rows) check.row(r.n, r.pad);
    assert.equal((await s.queryValue("SELECT count(*) FROM marks")).value, 1);
    // The quadratic-cursor regression (#10 item 7) at 120,000 rows over /v3-protobuf/cursor.
    const b2 = s.batch(true);
    const q2 = b2.step().query("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c WHERE n < 120000) SELECT n FROM c");
    await b2.execute();
    const rows = (await q2).rows;
    assert.equal(rows.length, 120_000);
    assert.equal(rows[119_999].n, 120_000);
  } finally {
    s.close();
    client.close();
  }
});

// POST `path` on a raw connection with `headers`; resolves with {status, headers, chunks}: the body's
// HTTP/1.1 chunks as they came on the wire (nothing decoded), once the last chunk came.
async function rawChunkedPost(path, body, headers = {}) {
  const socket = await connectRaw(server);
  const payload = Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let head = null;
    const chunks = [];
    let done = false;
    socket.on("data", (data) => {
      buf = buf.length ? Buffer.concat([buf, data]) : data;
      for (;;) {
        if (!head) {
          const end = buf.indexOf("\r\n\r\n");
          if (end < 0) return;
          const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
          head = { status: Number(lines[0].split(" ")[1]), headers: {} };
          for (const line of lines.slice(1)) {
            const i = line.indexOf(":");
            head.headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
          }
          buf = buf.subarray(end + 4);
          if (head.headers["transfer-encoding"] !== "chunked") {
            reject(new Error(`not chunked: ${JSON.stringify(head.headers)}`));
            socket.destroy();
            return;
          }
          continue;
        }
        const eol = buf.indexOf("\r\n");
        if (eol < 0) return;
        const size = parseInt(buf.subarray(0, eol).toString("latin1"), 16);
        if (buf.length < eol + 2 + size + 2) return;
        if (size === 0) {
          done = true;
          socket.destroy();
          resolve({ ...head, chunks });
          return;
        }
        chunks.push(Buffer.from(buf.subarray(eol + 2, eol + 2 + size)));
        buf = buf.subarray(eol + 2 + size + 2);
      }
    });
    socket.on("error", reject);
    socket.on("close", () => {
      if (!done) reject(new Error("the connection closed before the last chunk"));
    });
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${extra}` +
        `Content-Length: ${payload.length}\r\n\r\n`,
    );
    socket.write(payload);
  });
}

// A fetch (node's, which asks for gzip and decodes it) that notes each response's path and
// Content-Encoding in `seen`.
const recordingFetch = (seen) => async (input, init) => {
  const res = await fetch(input, init);
  const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
  seen.push({ path: url.pathname, encoding: res.headers.get("content-encoding") });
  return res;
};

// What a prefix of a gzip member decodes to (zlib stops at the end of what it has, no error).
const gunzipPrefix = (buffers) => zlib.gunzipSync(Buffer.concat(buffers), { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString("utf8");

test("HTTP JSON with Accept-Encoding: gzip: a streamed cursor of 10 MB is gzip-compressed, every chunk decoding to whole entries as it comes", { timeout: 120_000 }, async () => {
  const rows = 10_000;
  const width = 1000;
  const body = { baton: null, batch: { steps: [{ stmt: { sql: bigSql(rows, width) } }] } };
  const res = await rawChunkedPost("/v3/cursor", body, { "Accept-Encoding": "gzip, deflate" });
  assert.equal(res.status, 200);
  assert.equal(res.headers["content-encoding"], "gzip");
  assert.match(res.headers["vary"], /Accept-Encoding/i);
  assert.ok(res.chunks.length > 2, `the body came in ${res.chunks.length} chunks`);

  // The first chunk alone decodes to the head (the cursor's baton); the first two to whole entries,
  // row 1 among them: a client reads entries long before the body ends (each chunk is deflated and
  // flushed).
  const head = gunzipPrefix(res.chunks.slice(0, 1));
  assert.ok(head.endsWith("\n"), "the first chunk decodes to whole lines");
  assert.match(JSON.parse(head.split("\n")[0]).baton, /^\d+\.[0-9a-f]{32}$/);
  const first = gunzipPrefix(res.chunks.slice(0, 2));
  assert.ok(first.endsWith("\n"), "the first two chunks decode to whole lines");
  const firstLines = first.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  assert.equal(firstLines[1].type, "step_begin");
  assert.equal(firstLines[2].type, "row");
  assert.equal(Number(firstLines[2].row[0].value), 1);
  assert.equal(firstLines[2].row[1].value, padOf(1, width));
  assert.ok(firstLines.length < rows / 4, `${firstLines.length} entries in the first two chunks`);
  // So does every prefix of the chunks: each ends where an entry ends.
  let decoded = first.length;
  for (let i = 3; i <= res.chunks.length; i += Math.max(1, Math.floor(res.chunks.length / 8))) {
    const text = gunzipPrefix(res.chunks.slice(0, i));
    assert.ok(text.endsWith("\n"), `the first ${i} chunks decode to whole lines`);
    assert.ok(text.length > decoded, `chunk ${i} adds entries`);
    decoded = text.length;
  }

  // The whole body is one gzip member with every entry, in order.
  const compressed = Buffer.concat(res.chunks);
  const text = zlib.gunzipSync(compressed).toString("utf8");
  assert.ok(compressed.length < text.length / 4, `${compressed.length} compressed bytes for ${text.length}`);
  const lines = text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const check = rowChecker(width);
  const types = [];
  for (const e of lines.slice(1)) {
    if (e.type === "row") check.row(e.row[0].value, e.row[1].value);
    else types.push(e.type);
  }
  assert.deepEqual(types, ["step_begin", "step_end"]);
  assert.equal(check.count, rows);
  // The stream goes on under the baton the head named.
  const next = await postJson(server, "/v3/pipeline", { baton: lines[0].baton, requests: [{ type: "execute", stmt: stmt("SELECT 'after'") }, { type: "close" }] });
  assert.equal(next.status, 200, next.text);
  assert.equal(next.body.results[0].response.result.rows[0][0].value, "after");

});

test("HTTP Protobuf (@libsql/hrana-client, whose fetch asks for gzip): a streamed cursor of 10 MB comes gzip-compressed and whole", { timeout: 120_000 }, async () => {
  const seen = [];
  const client = hrana.openHttp(server.url, undefined, recordingFetch(seen), undefined, 3);
  const s = client.openStream();
  try {
    const batch = s.batch(true);
    const q = batch.step().query(bigSql(10_000, 1000));
    await batch.execute();
    const rs = await q;
    const check = rowChecker(1000);
    for (const r of rs.rows) check.row(r.n, r.pad);
    assert.equal(check.count, 10_000);
  } finally {
    s.close();
    client.close();
  }
  const cursors = seen.filter((r) => r.path === "/v3-protobuf/cursor");
  assert.equal(cursors.length, 1, JSON.stringify(seen));
  assert.equal(cursors[0].encoding, "gzip");
});

test("HTTP JSON without Accept-Encoding: gzip: a streamed cursor is not compressed (and says it varies)", { timeout: 60_000 }, async () => {
  for (const headers of [{}, { "Accept-Encoding": "identity" }, { "Accept-Encoding": "gzip;q=0, deflate" }]) {
    const res = await rawChunkedPost("/v3/cursor", { baton: null, batch: { steps: [{ stmt: { sql: bigSql(2000, 1000) } }] } }, headers);
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-encoding"], undefined, JSON.stringify(headers));
    assert.match(res.headers["vary"], /Accept-Encoding/i);
    assert.ok(res.chunks.length > 2);
    const lines = Buffer.concat(res.chunks).toString("utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    assert.equal(lines.filter((e) => e.type === "row").length, 2000);
    await postJson(server, "/v3/pipeline", { baton: lines[0].baton, requests: [{ type: "close" }] });
  }
});

test("WebSocket (@libsql/hrana-client): a cursor of 30 MB streams whole through fetch_cursor pages", { timeout: 120_000 }, async () => {
  const client = hrana.openWs(wsUrl(server), undefined, 3);
  assert.equal(await client.getVersion(), 3);
  const s = client.openStream();
  try {
    const batch = s.batch(true);
    const q = batch.step().query(bigSql(30_000, 1000));
    await batch.execute();
    const rs = await q;
    assert.equal(rs.rows.length, 30_000);
    const check = rowChecker(1000);
    for (const r of rs.rows) check.row(r.n, r.pad);
    // The stream takes requests again once the cursor is closed.
    assert.equal((await s.queryValue("SELECT 'after'")).value, "after");
  } finally {
    s.close();
    client.close();
  }
});

test("HTTP: a client that stops reading a 100 MB cursor holds bounded memory; others are served; then it gets every row", { timeout: 180_000 }, async () => {
  const baseline = memory().peak;
  const rssBefore = memory().rss;
  const samples = [];
  let paused;
  const started = new Promise((resolve) => (paused = resolve));
  const done = checkedJsonCursor(100_000, 1000, {
    pauseAfter: 2 * MB,
    onStarted: (res) => {
      res.pause();
      paused(res);
    },
  });
  const res = await started;
  // Another client's queries are answered while the first one reads nothing.
  const client = hrana.openHttp(server.url, undefined, undefined, undefined, 3);
  const other = client.openStream();
  try {
    for (let i = 0; i < 30; ++i) {
      assert.equal((await other.queryValue(`SELECT ${i} + 1`)).value, i + 1);
      samples.push(memory().rss);
    }
  } finally {
    other.close();
    client.close();
  }
  const grownWhilePaused = Math.max(...samples) - rssBefore;
  console.log(`# HTTP: RSS grew by ${(grownWhilePaused / MB).toFixed(1)} MB while paused`);
  assert.ok(grownWhilePaused < 40 * MB, `RSS grew by ${(grownWhilePaused / MB).toFixed(1)} MB while the client did not read`);
  res.resume();
  await done;
  const grown = memory().peak - baseline;
  assert.ok(grown < 40 * MB, `the peak RSS grew by ${(grown / MB).toFixed(1)} MB over a 100 MB cursor`);
});

test("WebSocket: a client that asks for pages but does not read them holds bounded memory; then it gets every row", { timeout: 180_000 }, async () => {
  const baseline = memory().peak;
  const rssBefore = memory().rss;
  const ws = await openHello(server);
  const ROWS = 40_000;
  const WIDTH = 1000;
  await ws.ok(1, { type: "open_stream", stream_id: 1 });
  await ws.ok(2, { type: "open_cursor", stream_id: 1, cursor_id: 1, batch: { steps: [{ stmt: stmt(bigSql(ROWS, WIDTH)) }] } });
  ws.ws.pause();
  // Ask for everything at once, then read nothing: the server stops at its outbox bound.
  const PAGES = 400;
  for (let k = 0; k < PAGES; ++k) ws.send({ type: "request", request_id: 100 + k, request: { type: "fetch_cursor", cursor_id: 1, max_count: 1000 } });
  const other = await openHello(server);
  const samples = [];
  try {
    await other.ok(1, { type: "open_stream", stream_id: 1 });
    for (let i = 0; i < 30; ++i) {
      const r = await other.ok(10 + i, { type: "execute", stream_id: 1, stmt: stmt(`SELECT ${i}`) });
      assert.equal(r.result.rows[0][0].value, String(i));
      samples.push(memory().rss);
    }
  } finally {
    await other.close();
  }
  const grown = Math.max(...samples) - rssBefore;
  console.log(`# WebSocket: RSS grew by ${(grown / MB).toFixed(1)} MB while paused`);
  assert.ok(grown < 40 * MB, `RSS grew by ${(grown / MB).toFixed(1)} MB while the client did not read`);
  ws.ws.resume();
  const check = rowChecker(WIDTH);
  let done = false;
  let id = 100;
  for (; id < 100 + PAGES && !done; ++id) {
    const r = await ws.responseTo(id, 60_000);
    assert.equal(r.type, "response_ok", JSON.stringify(r).slice(0, 300));
    for (const e of r.response.entries) if (e.type === "row") check.row(e.row[0].value, e.row[1].value);
    done = r.response.done;
  }
  for (; !done; ++id) {
    assert.ok(id < 100 + 10 * PAGES, "the cursor reports done");
    const r = await ws.ok(id, { type: "fetch_cursor", cursor_id: 1, max_count: 1000 });
    for (const e of r.entries) if (e.type === "row") check.row(e.row[0].value, e.row[1].value);
    done = r.done;
  }
  assert.equal(check.count, ROWS);
  await ws.ok(99_999, { type: "close_cursor", cursor_id: 1 });
  assert.ok(memory().peak - baseline < 40 * MB, "the peak stayed bounded");
  await ws.close();
});

test("WebSocket: requests on a stream whose cursor runs are refused in the protocol's shape; refusals of a cursor still are errors", async () => {
  const ws = await openHello(server);
  await ws.ok(1, { type: "open_stream", stream_id: 1 });
  await ws.ok(2, { type: "open_cursor", stream_id: 1, cursor_id: 5, batch: { steps: [{ stmt: stmt(bigSql(20_000, 1000)) }] } });
  const busy = await ws.request(3, { type: "execute", stream_id: 1, stmt: stmt("SELECT 1") });
  assert.equal(busy.type, "response_error");
  assert.equal(busy.error.code, "CURSOR_OPEN");
  await ws.ok(4, { type: "close_cursor", cursor_id: 5 });
  const after = await ws.ok(5, { type: "execute", stream_id: 1, stmt: stmt("SELECT 7") });
  assert.equal(after.result.rows[0][0].value, "7");
  // A batch whose condition names a later step: refused before anything runs.
  const bad = await ws.request(6, {
    type: "open_cursor",
    stream_id: 1,
    cursor_id: 6,
    batch: { steps: [{ stmt: stmt("SELECT 1"), condition: { type: "ok", step: 1 } }, { stmt: stmt("SELECT 2") }] },
  });
  assert.equal(bad.type, "response_error");
  await ws.ok(7, { type: "close_cursor", cursor_id: 6 });
  await ws.close();
  // Over HTTP the same refusal is one error entry after the head.
  const res = await postJson(server, "/v3/cursor", {
    baton: null,
    batch: { steps: [{ stmt: stmt("SELECT 1"), condition: { type: "ok", step: 1 } }, { stmt: stmt("SELECT 2") }] },
  });
  assert.equal(res.status, 200);
  const lines = res.text.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines[1].type, "error");
  assert.ok(lines[1].error.code, JSON.stringify(lines[1]));
});

// A cursor whose client takes nothing: its batch ends after the stream expiry, its connection is given
// back, and the client that comes back learns the cursor is incomplete.
test("an idle cursor ends after the stream expiry with STREAM_EXPIRED after what was made", { timeout: 60_000 }, async () => {
  const idle = await startServer({ args: ["--max-queued-bytes-per-connection", "1MB", "--stream-expiry-ms", "500"] });
  try {
    const ws = await openHello(idle);
    await ws.ok(1, { type: "open_stream", stream_id: 1 });
    await ws.ok(2, { type: "open_cursor", stream_id: 1, cursor_id: 1, batch: { steps: [{ stmt: stmt(bigSql(50_000, 1000)) }] } });
    await waitUntil(() => idle.stderr.includes("took nothing for"), "the server ends the idle cursor", 20_000);
    const check = rowChecker(1000);
    const tail = [];
    let done = false;
    for (let k = 0; k < 1000 && !done; ++k) {
      const r = await ws.ok(10 + k, { type: "fetch_cursor", cursor_id: 1, max_count: 1000 });
      for (const e of r.entries) {
        if (e.type === "row") check.row(e.row[0].value, e.row[1].value);
        else tail.push(e);
      }
      done = r.done;
    }
    assert.ok(done);
    assert.ok(check.count > 0 && check.count < 50_000, `${check.count} rows were made before it ended`);
    assert.equal(tail.at(-1).type, "error");
    assert.equal(tail.at(-1).error.code, "STREAM_EXPIRED");
    await ws.ok(5000, { type: "close_cursor", cursor_id: 1 });
    assert.equal((await ws.ok(5001, { type: "execute", stream_id: 1, stmt: stmt("SELECT 3") })).result.rows[0][0].value, "3");
    await ws.close();
  } finally {
    assert.equal(await idle.stop(), 0);
  }
});

// A cursor whose batch writes holds the write lock until the batch ends; a writer waiting past
// --txn-timeout-s takes it back (lock stealing): the paused batch ends with TRANSACTION_TIMEOUT and
// its transaction is rolled back.
test("a paused cursor holding the write lock loses it to a waiting writer past the transaction timeout", { timeout: 60_000 }, async () => {
  const srv = await startServer({ args: ["--max-queued-bytes-per-connection", "1MB", "--txn-timeout-s", "1", "--stream-expiry-ms", "60000"] });
  try {
    const ws = await openHello(srv);
    await ws.ok(1, { type: "open_stream", stream_id: 1 });
    await ws.ok(2, { type: "execute", stream_id: 1, stmt: stmt("CREATE TABLE w(x)") });
    await ws.ok(3, {
      type: "open_cursor",
      stream_id: 1,
      cursor_id: 1,
      batch: { steps: [{ stmt: stmt("BEGIN") }, { stmt: stmt("INSERT INTO w VALUES (1)") }, { stmt: stmt(bigSql(50_000, 1000)) }, { stmt: stmt("COMMIT") }] },
    });
    // Another client's write waits for the lock, then gets it.
    const other = await openHello(srv);
    await other.ok(1, { type: "open_stream", stream_id: 1 });
    await other.ok(2, { type: "execute", stream_id: 1, stmt: stmt("INSERT INTO w VALUES (2)") }, 30_000);
    const tail = [];
    let done = false;
    for (let k = 0; k < 1000 && !done; ++k) {
      const r = await ws.ok(10 + k, { type: "fetch_cursor", cursor_id: 1, max_count: 1000 });
      for (const e of r.entries) if (e.type !== "row") tail.push(e);
      done = r.done;
    }
    assert.ok(done);
    assert.equal(tail.at(-1).type, "error", JSON.stringify(tail));
    assert.equal(tail.at(-1).error.code, "TRANSACTION_TIMEOUT");
    await ws.ok(5000, { type: "close_cursor", cursor_id: 1 });
    const rows = (await other.ok(3, { type: "execute", stream_id: 1, stmt: stmt("SELECT x FROM w ORDER BY x") })).result.rows;
    assert.deepEqual(rows.map((r) => r[0].value), ["2"], "the cursor's transaction was rolled back");
    await other.close();
    await ws.close();
  } finally {
    assert.equal(await srv.stop(), 0);
  }
});

// The same in autocommit: an INSERT ... RETURNING paused half-read holds the write lock; stolen, its
// statement is ended, which commits what it wrote (SQLite makes every change at the first step). The
// error entry says so instead of "rolled back", and the stream, which had no transaction, stays usable.
test("a paused autocommit cursor that loses the write lock reports its writes kept, not rolled back", { timeout: 60_000 }, async () => {
  const srv = await startServer({ args: ["--max-queued-bytes-per-connection", "1MB", "--txn-timeout-s", "1", "--stream-expiry-ms", "60000"] });
  try {
    const ws = await openHello(srv);
    await ws.ok(1, { type: "open_stream", stream_id: 1 });
    await ws.ok(2, { type: "execute", stream_id: 1, stmt: stmt("CREATE TABLE w(x, pad)") });
    const inserted = 5000;
    await ws.ok(3, {
      type: "open_cursor",
      stream_id: 1,
      cursor_id: 1,
      batch: {
        steps: [{
          stmt: stmt(`WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < ${inserted}) ` +
                     `INSERT INTO w SELECT n, printf('%01000d', n) FROM c RETURNING x, pad`),
        }],
      },
    });
    const other = await openHello(srv);
    await other.ok(1, { type: "open_stream", stream_id: 1 });
    await other.ok(2, { type: "execute", stream_id: 1, stmt: stmt("INSERT INTO w VALUES (-1, '')") }, 30_000);
    let rows = 0;
    const tail = [];
    let done = false;
    for (let k = 0; k < 1000 && !done; ++k) {
      const r = await ws.ok(10 + k, { type: "fetch_cursor", cursor_id: 1, max_count: 1000 });
      for (const e of r.entries) {
        if (e.type === "row") ++rows;
        else tail.push(e);
      }
      done = r.done;
    }
    assert.ok(done);
    assert.ok(rows < inserted, `${rows} rows were returned before it ended`);
    const last = tail.at(-1);
    assert.equal(last.type, "error", JSON.stringify(tail));
    assert.equal(last.error.code, "TRANSACTION_TIMEOUT");
    assert.match(last.error.message, /autocommit/);
    assert.match(last.error.message, /kept/);
    assert.doesNotMatch(last.error.message, /and was rolled back/);
    await ws.ok(5000, { type: "close_cursor", cursor_id: 1 });
    const count = (await other.ok(3, { type: "execute", stream_id: 1, stmt: stmt("SELECT count(*) FROM w") })).result.rows[0][0].value;
    assert.equal(count, String(inserted + 1), "the cursor's statement committed all it inserted");
    // The stream had no transaction to lose: it goes on.
    assert.equal((await ws.ok(5001, { type: "execute", stream_id: 1, stmt: stmt("SELECT 7") })).result.rows[0][0].value, "7");
    await other.close();
    await ws.close();
  } finally {
    assert.equal(await srv.stop(), 0);
  }
});

// All the cursors of one connection share --max-queued-bytes-per-connection (as before cursors
// streamed): many cursors left unfetched, each with a big row, do not hold more than that. Past it a
// row fails its step with RESPONSE_TOO_LARGE (once full, open_cursor itself is refused so), and one
// value past --max-response-size is refused as for any response (SQLITE_TOOBIG).
test("WebSocket: a connection's unfetched cursors together stay within its queued-bytes limit", { timeout: 120_000 }, async () => {
  const srv = await startServer({ args: ["--max-response-size", "10MB", "--max-queued-bytes-per-connection", "40MB"] });
  const rssOf = () => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${srv.child.pid}/status`, "utf8"))[1]) * 1024;
  try {
    const rssBefore = rssOf();
    const ws = await openHello(srv);
    const N = 40;
    const answers = [];
    for (let i = 0; i < N; ++i) {
      ws.send({ type: "request", request_id: 1000 + i, request: { type: "open_stream", stream_id: i } });
      ws.send({
        type: "request",
        request_id: 2000 + i,
        request: { type: "open_cursor", stream_id: i, cursor_id: i, batch: { steps: [{ stmt: stmt("SELECT zeroblob(9000000)") }] } },
      });
    }
    for (let i = 0; i < N; ++i) {
      assert.equal((await ws.responseTo(1000 + i, 60_000)).type, "response_ok");
      answers.push(await ws.responseTo(2000 + i, 60_000));
    }
    const grown = rssOf() - rssBefore;
    console.log(`# ${N} unfetched cursors of 9 MB rows: RSS grew by ${(grown / MB).toFixed(1)} MB`);
    // Under ASan, freed memory waits in its quarantine (256 MB by default) before it is reused.
    const allowed = 200 * MB + (SANITIZED ? 256 * MB : 0);
    assert.ok(grown < allowed, `RSS grew by ${(grown / MB).toFixed(1)} MB`);
    // Another client is served meanwhile.
    const other = await openHello(srv);
    await other.ok(1, { type: "open_stream", stream_id: 1 });
    assert.equal((await other.ok(2, { type: "execute", stream_id: 1, stmt: stmt("SELECT 42") })).result.rows[0][0].value, "42");
    const big = await other.ok(3, { type: "open_cursor", stream_id: 1, cursor_id: 1, batch: { steps: [{ stmt: stmt("SELECT zeroblob(11000000)") }] } });
    assert.ok(big);
    const page = await other.ok(4, { type: "fetch_cursor", cursor_id: 1, max_count: 10 });
    const err = page.entries.find((e) => e.type === "step_error");
    assert.ok(err, JSON.stringify(page).slice(0, 300));
    // One value past --max-response-size is refused by SQLite as it is built (SQLITE_LIMIT_LENGTH is
    // the response limit, engine/sql_guard.h), as in any response.
    assert.equal(err.error.code, "SQLITE_TOOBIG", "one value past --max-response-size");
    await other.ok(5, { type: "close_cursor", cursor_id: 1 });
    await other.close();
    // What each cursor got: a row for the first few, RESPONSE_TOO_LARGE past the bound.
    let rows = 0;
    let refused = 0;
    for (let i = 0; i < N; ++i) {
      if (answers[i].type === "response_error") {
        assert.equal(answers[i].error.code, "RESPONSE_TOO_LARGE", JSON.stringify(answers[i]));
        ++refused;
        continue;
      }
      let done = false;
      for (let k = 0; !done; ++k) {
        assert.ok(k < 100);
        const r = await ws.ok(10_000 + i * 100 + k, { type: "fetch_cursor", cursor_id: i, max_count: 10 }, 60_000);
        for (const e of r.entries) {
          if (e.type === "row") ++rows;
          if (e.type === "step_error") {
            assert.equal(e.error.code, "RESPONSE_TOO_LARGE", JSON.stringify(e));
            ++refused;
          }
        }
        done = r.done;
      }
      await ws.ok(20_000 + i, { type: "close_cursor", cursor_id: i });
    }
    console.log(`# rows delivered: ${rows}, refused: ${refused}`);
    assert.ok(rows >= 1 && rows <= 4, `${rows} cursors held a 12 MB row within 40 MB`);
    assert.equal(rows + refused, N);
    // Once fetched, the room is free again.
    const again = await ws.ok(30_000, { type: "open_cursor", stream_id: 0, cursor_id: 100, batch: { steps: [{ stmt: stmt("SELECT zeroblob(9000000)") }] } });
    assert.ok(again);
    // A page is at most the cursor's queue but at least one entry: the step_begin comes alone, then
    // the 12 MB row.
    const types = [];
    for (let k = 0, done = false; !done; ++k) {
      assert.ok(k < 10);
      const r = await ws.ok(30_001 + k, { type: "fetch_cursor", cursor_id: 100, max_count: 10 }, 60_000);
      types.push(...r.entries.map((e) => e.type));
      done = r.done;
    }
    assert.equal(types.filter((t) => t === "row").length, 1, JSON.stringify(types));
    assert.equal(types.at(-1), "step_end", JSON.stringify(types));
    await ws.ok(30_100, { type: "close_cursor", cursor_id: 100 });
    await ws.close();
  } finally {
    const code = await srv.stop();
    if (code !== 0) console.log(srv.stderr.slice(-4000));
    assert.equal(code, 0);
  }
});

// The server stopped (SIGTERM) while a connection is still open with paused cursors on a dozen
// streams: each statement is still prepared on the connection its session holds. Teardown must let
// each statement go before its session gives the connection back (more than the 8 idle connections
// kept are closed then): the process exits 0, not by SIGSEGV in sqlite3_reset.
test("the server stops cleanly while a connection's cursors are paused on many streams", { timeout: 60_000 }, async () => {
  const srv = await startServer({ args: ["--max-queued-bytes-per-connection", "40MB"] });
  try {
    const ws = await openHello(srv);
    const N = 12;
    for (let i = 0; i < N; ++i) {
      await ws.ok(100 + i, { type: "open_stream", stream_id: i });
      await ws.ok(200 + i, { type: "open_cursor", stream_id: i, cursor_id: i, batch: { steps: [{ stmt: stmt(bigSql(50_000, 1000)) }] } });
    }
    // Each cursor's queue fills and its batch pauses; nothing is fetched and the connection stays open.
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    const code = await srv.stop();
    if (code !== 0) console.log(srv.stderr.slice(-4000));
    assert.equal(code, 0, "the server exited by a signal");
  }
});

// close_cursor sent right after open_cursor, before its answer (the first slice still running):
// the cursor is stopped, and the stream's next request waits for its batch to let go of the
// session rather than failing CURSOR_OPEN.
test("WebSocket: open_cursor, close_cursor and execute pipelined on one stream: the execute runs", async () => {
  const ws = await openHello(server);
  await ws.ok(1, { type: "open_stream", stream_id: 1 });
  for (let round = 0; round < 5; ++round) {
    const base = 10 + round * 10;
    const cursorId = 100 + round;
    ws.send({ type: "request", request_id: base, request: { type: "open_cursor", stream_id: 1, cursor_id: cursorId, batch: { steps: [{ stmt: stmt(bigSql(20_000, 1000)) }] } } });
    ws.send({ type: "request", request_id: base + 1, request: { type: "close_cursor", cursor_id: cursorId } });
    ws.send({ type: "request", request_id: base + 2, request: { type: "execute", stream_id: 1, stmt: stmt(`SELECT ${round}`) } });
    assert.equal((await ws.responseTo(base, 30_000)).type, "response_ok");
    assert.equal((await ws.responseTo(base + 1, 30_000)).type, "response_ok");
    const r = await ws.responseTo(base + 2, 30_000);
    assert.equal(r.type, "response_ok", JSON.stringify(r));
    assert.equal(r.response.result.rows[0][0].value, String(round));
  }
  await ws.close();
});

// A paused autocommit cursor keeps a database connection between its slices, so one client may have
// only half of --max-db-connections paused at once (6 here: 3). A cursor that would pause past that is
// ended after the entries it made, with CURSORS_EXHAUSTED; small cursors, which end in their first
// slice, are not counted; another client (another address, told by a trusted proxy's header) still
// gets its own places; and once the first client reads its cursors to the end, it may pause again.
test("WebSocket: one client's paused autocommit cursors are bounded (half of --max-db-connections); others are unaffected; a transaction's cursor is not counted", { timeout: 60_000 }, async () => {
  const srv = await startServer({
    args: ["--max-queued-bytes-per-connection", "4MB", "--max-db-connections", "6", "--trusted-proxy", "127.0.0.1", "--stream-expiry-ms", "60000"],
  });
  const asClient = async (ip) => {
    const raw = await openRaw(srv, ["hrana3"], { headers: { "Fly-Client-IP": ip } });
    await raw.hello();
    return raw;
  };
  // Reads cursor `id` to its end; returns its row count and what ended it.
  const drain = async (ws, id, base) => {
    const check = rowChecker(100);
    const tail = [];
    let done = false;
    for (let k = 0; k < 10_000 && !done; ++k) {
      const r = await ws.ok(base + k, { type: "fetch_cursor", cursor_id: id, max_count: 1000 }, 30_000);
      for (const e of r.entries) {
        if (e.type === "row") check.row(e.row[0].value, e.row[1].value);
        else tail.push(e);
      }
      done = r.done;
    }
    assert.ok(done);
    return { rows: check.count, last: tail.at(-1) };
  };
  try {
    const a = await asClient("203.0.113.1");
    for (let i = 1; i <= 5; ++i) await a.ok(i, { type: "open_stream", stream_id: i });
    const big = (stream, id) => ({ type: "open_cursor", stream_id: stream, cursor_id: id, batch: { steps: [{ stmt: stmt(bigSql(20_000, 100)) }] } });
    // Three big cursors pause (their queues are full); a small one ends at once and is not counted.
    await a.ok(11, big(1, 1));
    await a.ok(12, big(2, 2));
    await a.ok(9, big(3, 6));
    await a.ok(13, { type: "open_cursor", stream_id: 4, cursor_id: 3, batch: { steps: [{ stmt: stmt("SELECT 7") }] } });
    const small = await a.ok(14, { type: "fetch_cursor", cursor_id: 3, max_count: 10 });
    assert.equal(small.entries.find((e) => e.type === "row").row[0].value, "7");
    assert.ok(small.done);
    await a.ok(15, { type: "close_cursor", cursor_id: 3 });
    // A fourth big cursor of the same client would pause past the bound: ended after its first rows.
    await a.ok(16, big(5, 4));
    const third = await drain(a, 4, 1000);
    assert.equal(third.last.type, "error", JSON.stringify(third.last));
    assert.equal(third.last.error.code, "CURSORS_EXHAUSTED");
    assert.ok(third.rows > 0 && third.rows < 20_000, `${third.rows} rows came before it was ended`);
    await a.ok(17, { type: "close_cursor", cursor_id: 4 });
    // The stream is still usable.
    assert.equal((await a.ok(18, { type: "execute", stream_id: 5, stmt: stmt("SELECT 5") })).result.rows[0][0].value, "5");
    // In a transaction the stream keeps its connection anyway: its cursor pauses without a place.
    await a.ok(19, { type: "execute", stream_id: 5, stmt: stmt("BEGIN") });
    await a.ok(20, big(5, 5));
    const inTxn = await drain(a, 5, 3000);
    assert.equal(inTxn.rows, 20_000);
    assert.equal(inTxn.last.type, "step_end");
    await a.ok(21, { type: "close_cursor", cursor_id: 5 });
    await a.ok(22, { type: "execute", stream_id: 5, stmt: stmt("COMMIT") });

    // Another client's big cursors pause, and a third client is served while the first client's stay
    // paused (3 + 2 of the 6 connections).
    const b = await asClient("203.0.113.2");
    await b.ok(1, { type: "open_stream", stream_id: 1 });
    await b.ok(2, { type: "open_stream", stream_id: 2 });
    await b.ok(3, big(1, 1));
    await b.ok(4, big(2, 2));
    const c = await asClient("203.0.113.3");
    await c.ok(1, { type: "open_stream", stream_id: 1 });
    assert.equal((await c.ok(2, { type: "execute", stream_id: 1, stmt: stmt("SELECT 42") }, 10_000)).result.rows[0][0].value, "42");
    await c.close();
    for (const id of [1, 2]) {
      const got = await drain(b, id, 100 * id);
      assert.equal(got.rows, 20_000);
      assert.equal(got.last.type, "step_end");
      await b.ok(900 + id, { type: "close_cursor", cursor_id: id });
    }
    await b.close();

    // The first client reads its three paused cursors whole; then it may pause a cursor again.
    for (const id of [1, 2, 6]) {
      const got = await drain(a, id, 2000 * id);
      assert.equal(got.rows, 20_000, `cursor ${id}`);
      assert.equal(got.last.type, "step_end");
      await a.ok(5000 + id, { type: "close_cursor", cursor_id: id });
    }
    await a.ok(6000, big(1, 10));
    const again = await drain(a, 10, 7000);
    assert.equal(again.rows, 20_000);
    assert.equal(again.last.type, "step_end");
    await a.close();
  } finally {
    const code = await srv.stop();
    if (code !== 0) console.log(srv.stderr.slice(-4000));
    assert.equal(code, 0);
  }
});

// An open_cursor naming an SQL id that is not stored yet, with the store_sql sent right after it:
// the cursor's step fails SQL_NOT_FOUND (what was stored when the request came is what counts), and
// later the stored text runs. The cursor's slices never read the connection's store, which the
// connection's own thread changes meanwhile.
test("WebSocket: a cursor's stored SQL is what was stored when it was opened", async () => {
  const ws = await openHello(server);
  await ws.ok(1, { type: "open_stream", stream_id: 1 });
  ws.send({ type: "request", request_id: 2, request: { type: "open_cursor", stream_id: 1, cursor_id: 1, batch: { steps: [{ stmt: { sql_id: 7, args: [] } }] } } });
  ws.send({ type: "request", request_id: 3, request: { type: "store_sql", sql_id: 7, sql: "SELECT 77" } });
  assert.equal((await ws.responseTo(2, 30_000)).type, "response_ok");
  assert.equal((await ws.responseTo(3, 30_000)).type, "response_ok");
  const page = await ws.ok(4, { type: "fetch_cursor", cursor_id: 1, max_count: 10 });
  const err = page.entries.find((e) => e.type === "step_error");
  assert.ok(err, JSON.stringify(page));
  assert.equal(err.error.code, "SQL_NOT_FOUND");
  await ws.ok(5, { type: "close_cursor", cursor_id: 1 });
  await ws.ok(6, { type: "open_cursor", stream_id: 1, cursor_id: 2, batch: { steps: [{ stmt: { sql_id: 7, args: [] } }] } });
  const again = await ws.ok(7, { type: "fetch_cursor", cursor_id: 2, max_count: 10 });
  assert.equal(again.entries.find((e) => e.type === "row").row[0].value, "77");
  await ws.ok(8, { type: "close_cursor", cursor_id: 2 });
  await ws.close();
});

// A cursor paused in autocommit holds its statement's snapshot, which no checkpoint can pass: once
// commits have added --max-snapshot-wal-growth-frames to the WAL since it opened, its next slice
// ends it with SNAPSHOT_TOO_OLD after the rows it made. A cursor read promptly is whole.
test("WebSocket: a cursor whose client reads slowly while the WAL grows past the bound ends with SNAPSHOT_TOO_OLD", { timeout: 60_000 }, async () => {
  const srv = await startServer({ args: ["--max-queued-bytes-per-connection", "4MB", "--max-snapshot-wal-growth-frames", "300"] });
  try {
    const ws = await openHello(srv);
    await ws.ok(1, { type: "open_stream", stream_id: 1 });
    await ws.ok(2, { type: "execute", stream_id: 1, stmt: stmt("CREATE TABLE w(x)") });
    await ws.ok(3, { type: "open_cursor", stream_id: 1, cursor_id: 1, batch: { steps: [{ stmt: stmt(bigSql(20_000, 100)) }] } });
    const first = await ws.ok(4, { type: "fetch_cursor", cursor_id: 1, max_count: 100 });
    assert.ok(first.entries.some((e) => e.type === "row"));
    // 400 commits by another client while this one reads nothing more.
    const other = await openHello(srv);
    await other.ok(1, { type: "open_stream", stream_id: 1 });
    for (let i = 0; i < 400; ++i) await other.ok(10 + i, { type: "execute", stream_id: 1, stmt: stmt(`INSERT INTO w VALUES (${i})`) });
    await other.close();
    let rows = first.entries.filter((e) => e.type === "row").length;
    let last;
    let done = false;
    for (let k = 0; k < 1000 && !done; ++k) {
      const r = await ws.ok(100 + k, { type: "fetch_cursor", cursor_id: 1, max_count: 1000 });
      for (const e of r.entries) {
        if (e.type === "row") ++rows;
        else last = e;
      }
      done = r.done;
    }
    assert.ok(done);
    assert.equal(last.type, "error", JSON.stringify(last));
    assert.equal(last.error.code, "SNAPSHOT_TOO_OLD");
    assert.ok(rows > 0 && rows < 20_000, `${rows} rows came before it ended`);
    await ws.ok(2000, { type: "close_cursor", cursor_id: 1 });
    // Read at once, a cursor is whole.
    await ws.ok(2001, { type: "open_cursor", stream_id: 1, cursor_id: 2, batch: { steps: [{ stmt: stmt("SELECT count(*) FROM w") }] } });
    const page = await ws.ok(2002, { type: "fetch_cursor", cursor_id: 2, max_count: 10 });
    assert.equal(page.entries.find((e) => e.type === "row").row[0].value, "400");
    await ws.ok(2003, { type: "close_cursor", cursor_id: 2 });
    // What the batch's own earlier step wrote (thousands of frames) is not held against the snapshot
    // of its next statement, which starts after it: read slowly, that cursor is whole.
    await ws.ok(2004, {
      type: "open_cursor",
      stream_id: 1,
      cursor_id: 3,
      batch: {
        steps: [
          { stmt: stmt("CREATE TABLE big AS WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 20000) SELECT n, hex(randomblob(200)) AS pad FROM c") },
          { stmt: stmt(bigSql(20_000, 100)) },
        ],
      },
    });
    let whole = 0;
    let end;
    for (let k = 0, fin = false; k < 1000 && !fin; ++k) {
      const r = await ws.ok(3000 + k, { type: "fetch_cursor", cursor_id: 3, max_count: 500 });
      for (const e of r.entries) {
        if (e.type === "row") ++whole;
        else end = e;
      }
      fin = r.done;
    }
    assert.equal(whole, 20_000);
    assert.equal(end.type, "step_end", JSON.stringify(end));
    await ws.ok(5000, { type: "close_cursor", cursor_id: 3 });
    await ws.close();
  } finally {
    assert.equal(await srv.stop(), 0);
  }
});
