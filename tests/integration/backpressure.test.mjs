// A client that does not read its responses cannot make the server buffer without limit (issue #10,
// item 3): over WebSocket the server stops reading its requests and starting its work once half of
// --max-queued-bytes-per-connection waits for it, and closes it 1008 past the limit; an HTTP
// pipeline's response and a WebSocket connection's open cursors (their queues) stay within the same
// bound. Other clients are served meanwhile. Memory is checked with the server's peak RSS (VmHWM), which needs no
// timing: whatever the server buffered at any moment shows in it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startServer, postJson, SANITIZED } from "./harness.mjs";
import { openHello, stmt } from "./ws-raw.mjs";
import { RawHttp, connectRaw, waitUntil } from "./raw-http.mjs";

const MB = 1_000_000;
const BLOB = 3 * MB; // 4 MB of base64 in a JSON response
const QUEUED = 16 * MB;
let server;

before(async () => {
  server = await startServer({ args: ["--max-response-size", "4MB", "--max-queued-bytes-per-connection", "16MB"] });
});

after(async () => {
  assert.ok(server.alive());
  assert.equal(await server.stop(), 0);
});

// The server's resident memory: now, and its peak so far, in bytes. A sanitizer build's measures the
// sanitizer (shadow memory, ASan's quarantine of freed blocks) more than what the server buffered:
// there the bounds on it are not asserted (rssWithin), the rest of each test is.
function memory() {
  const status = readFileSync(`/proc/${server.child.pid}/status`, "utf8");
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)[1]) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

const rssWithin = (grown, bound) => SANITIZED || grown < bound;

const bigSelect = (i) => stmt(`SELECT ${i}, randomblob(${BLOB})`);
const overflowLines = () => server.stderr.split("\n").filter((l) => l.includes("closing a websocket connection (1008)")).length;

// Another client, served normally while the misbehaving one waits: `n` big results, read as they come.
async function otherClientWorks(n) {
  const other = await openHello(server);
  try {
    await other.ok(1, { type: "open_stream", stream_id: 1 });
    for (let i = 0; i < n; ++i) {
      const r = await other.ok(2 + i, { type: "execute", stream_id: 1, stmt: bigSelect(i) });
      assert.equal(r.result.rows[0][0].value, String(i));
    }
  } finally {
    await other.close();
  }
}

test("websocket: a client that stops reading is no longer read from; nothing is lost once it reads again", async () => {
  // The same work once with every client reading, so the baseline includes what serving it costs
  // anyway (the allocator's arenas of the SQL threads grown to their size).
  await otherClientWorks(20);
  const baseline = memory().peak;
  const ws = await openHello(server);
  await ws.ok(1, { type: "open_stream", stream_id: 1 });
  ws.ws.pause(); // stop reading: from here the server's responses pile up
  const N = 40;
  for (let i = 0; i < N; ++i) ws.send({ type: "request", request_id: 100 + i, request: { type: "execute", stream_id: 1, stmt: bigSelect(i) } });

  // Another client runs 20 big queries meanwhile: without back-pressure the server would have run about
  // as many of the paused client's (one stream: one at a time, taking turns on the SQL pool) and
  // queued their responses, 4 MB each; with it, it stops after what fits in half the bound. (Against a
  // sanitizer build, 5: 20 would keep the paused client from answering the server's pings for longer
  // than the WebSocket idle timeout, 60 s, and the server would drop it as dead.)
  await otherClientWorks(SANITIZED ? 5 : 20);
  const grown = memory().peak - baseline;
  assert.ok(rssWithin(grown, 40 * MB), `the server's peak RSS grew by ${(grown / MB).toFixed(0)} MB while a client did not read`);

  // Reading again, the client gets every response, in order.
  ws.ws.resume();
  for (let i = 0; i < N; ++i) {
    const msg = await ws.responseTo(100 + i, 30_000);
    assert.equal(msg.type, "response_ok", JSON.stringify(msg).slice(0, 200));
    assert.equal(msg.response.result.rows[0][0].value, String(i));
  }
  assert.equal(overflowLines(), 0, "a client that reads in the end is not cut");
  await ws.close();
});

test("websocket: past --max-queued-bytes-per-connection of unread responses the connection is closed 1008", async () => {
  const before = overflowLines();
  const ws = await openHello(server);
  // Streams run concurrently: 16 x 4 MB is far past 16 MB. Each big result comes after a count that
  // takes a while, so that every stream's request is running (on the SQL pool) before the first one
  // answers; back-pressure alone would otherwise stop the later ones from starting.
  const STREAMS = 16;
  for (let s = 1; s <= STREAMS; ++s) await ws.ok(s, { type: "open_stream", stream_id: s });
  ws.ws.pause();
  const slowBigSelect = (i) =>
    stmt(`SELECT ${i}, randomblob(${BLOB}) FROM (WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 500000) SELECT count(*) FROM c)`);
  for (let s = 1; s <= STREAMS; ++s) {
    ws.send({ type: "request", request_id: 100 + s, request: { type: "execute", stream_id: s, stmt: slowBigSelect(s) } });
  }
  await waitUntil(() => overflowLines() > before, "the server closes the connection for its unread responses", 20_000);

  await otherClientWorks(2);
  ws.ws.resume(); // the close frame is behind the message the server was writing
  const { code, reason } = await ws.closedWithin(20_000);
  assert.equal(code, 1008);
  assert.match(reason, /bytes of responses queued/);
});

test("HTTP: one pipeline's results stay within the bound; the requests past it fail RESPONSE_TOO_LARGE", async () => {
  const requests = [];
  for (let i = 0; i < 20; ++i) requests.push({ type: "execute", stmt: bigSelect(i) });
  requests.push({ type: "execute", stmt: stmt("SELECT 'small'") });
  const res = await postJson(server, "/v3/pipeline", { baton: null, requests });
  assert.equal(res.status, 200, res.text.slice(0, 200));
  const results = res.body.results;
  assert.equal(results.length, 21);
  const ok = results.slice(0, 20).filter((r) => r.type === "ok").length;
  // 3 MB of rows each within 16 MB: five fit, the sixth and every later big one do not.
  assert.equal(ok, 5, JSON.stringify(results.map((r) => r.type)));
  for (let i = 0; i < 5; ++i) assert.equal(results[i].type, "ok");
  for (let i = 5; i < 20; ++i) {
    assert.equal(results[i].type, "error");
    assert.equal(results[i].error.code, "RESPONSE_TOO_LARGE");
  }
  // What fits in what is left still runs.
  assert.equal(results[20].type, "ok");
  assert.equal(results[20].response.result.rows[0][0].value, "small");
  // Each pipeline has its own budget.
  const again = await postJson(server, "/v3/pipeline", { baton: null, requests: [{ type: "execute", stmt: bigSelect(0) }] });
  assert.equal(again.body.results[0].type, "ok");
});

test("HTTP/1.1 pipelining without reading: one response at a time is held, other clients are served", async () => {
  const baseline = memory().peak;
  const conn = new RawHttp(await connectRaw(server));
  conn.socket.pause();
  const body = JSON.stringify({ baton: null, requests: [{ type: "execute", stmt: bigSelect(0) }] });
  const text = `POST /v3/pipeline HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  conn.socket.write(text.repeat(40));
  await otherClientWorks(10);
  const grown = memory().peak - baseline;
  assert.ok(rssWithin(grown, 64 * MB), `the server's peak RSS grew by ${(grown / MB).toFixed(0)} MB`);
  await conn.close();
});

test("websocket cursors: what open cursors hold together stays within the bound; fetching or closing makes room", async () => {
  const ws = await openHello(server);
  const open = (id) =>
    ws.ok(100 + id, { type: "open_cursor", stream_id: id, cursor_id: id, batch: { steps: [{ stmt: bigSelect(id) }] } });
  const fetchAll = async (id) => {
    const entries = [];
    for (let k = 0; k < 1000; ++k) {
      const r = await ws.ok(1000 + id * 1000 + k, { type: "fetch_cursor", cursor_id: id, max_count: 10 });
      entries.push(...r.entries);
      if (r.done) return entries;
    }
    assert.fail(`cursor ${id} never reported done`);
  };
  // Eight cursors of one 3 MB row each (24 MB) on one connection bounded at 16 MB, none fetched
  // while they open: each holds its row in its queue, so the connection's cursors together would
  // hold 24 MB. Those past the bound report RESPONSE_TOO_LARGE in their step.
  for (let id = 1; id <= 8; ++id) await ws.ok(id, { type: "open_stream", stream_id: id });
  for (let id = 1; id <= 8; ++id) await open(id);
  let whole = 0;
  for (let id = 1; id <= 8; ++id) {
    const entries = await fetchAll(id);
    const types = entries.map((e) => e.type);
    if (types.includes("step_error")) {
      assert.equal(entries.find((e) => e.type === "step_error").error.code, "RESPONSE_TOO_LARGE");
    } else {
      assert.deepEqual(types, ["step_begin", "row", "step_end"], `cursor ${id}`);
      assert.equal(entries[1].row[0].value, String(id));
      ++whole;
    }
    await ws.ok(5000 + id, { type: "close_cursor", cursor_id: id });
  }
  assert.ok(whole >= 3 && whole <= 5, `${whole} cursors of 3 MB (4 MB encoded) held within 16 MB`);
  // Everything was fetched and closed: a new cursor has the whole room again.
  await ws.ok(9, { type: "open_stream", stream_id: 9 });
  await open(9);
  assert.deepEqual((await fetchAll(9)).map((e) => e.type), ["step_begin", "row", "step_end"]);
  await ws.close();
});
