// Connections against the open-file limit (issue #10, item 2): the soft limit is raised to the hard
// one at start-up; out of descriptors, the accept loop pauses instead of spinning (and logs once per
// interval) while the connections already open go on being served; --max-connections refuses one
// more with a clear 503 and takes connections again once others close.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startServer } from "./harness.mjs";
import { openHello, openRaw, stmt } from "./ws-raw.mjs";
import { RawHttp, connectRaw, openHttp, waitUntil } from "./raw-http.mjs";

// GET /health on a connection of its own, closed afterwards (fetch would keep it open in its pool,
// which counts against --max-connections). Resolves with the status.
async function healthOnNewConnection(server) {
  const conn = new RawHttp(await connectRaw(server));
  try {
    return (await conn.request("GET", "/health")).status;
  } finally {
    await conn.close();
  }
}

const acceptFailures = (server) => server.stderr.split("\n").filter((l) => l.includes("accept failed")).length;

test("the soft open-file limit is raised to the hard limit at start-up", async () => {
  const server = await startServer({ nofile: [64, 512] });
  try {
    const limits = readFileSync(`/proc/${server.child.pid}/limits`, "utf8");
    const line = limits.split("\n").find((l) => l.startsWith("Max open files"));
    assert.match(line, /^Max open files\s+512\s+512\s/, line);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test("out of file descriptors: accepts pause instead of spinning, open connections are served, /health comes back", async () => {
  // 64 descriptors, and a connection limit above them, so accept() itself runs out (EMFILE).
  const server = await startServer({ nofile: [64, 64], args: ["--max-connections", "1000"] });
  const idle = [];
  try {
    const http = await openHttp(server);
    const ws = await openHello(server);
    await ws.ok(1, { type: "open_stream", stream_id: 1 });
    assert.equal((await ws.ok(2, { type: "execute", stream_id: 1, stmt: stmt("SELECT 1") })).result.rows[0][0].value, "1");

    // More idle connections than descriptors: the kernel completes every handshake, the server
    // accepts until it has no descriptor left.
    for (let i = 0; i < 100; ++i) idle.push(await connectRaw(server));
    await waitUntil(() => acceptFailures(server) > 0, "the server reports that accept failed");

    // The connections already open are served meanwhile, HTTP and WebSocket.
    for (let i = 0; i < 40; ++i) {
      const res = await http.request("POST", "/v2/pipeline", { baton: null, requests: [{ type: "execute", stmt: stmt(`SELECT ${i}`) }] });
      assert.equal(res.status, 200, res.body);
      assert.equal(JSON.parse(res.body).results[0].response.result.rows[0][0].value, String(i));
      const r = await ws.ok(10 + i, { type: "execute", stream_id: 1, stmt: stmt(`SELECT ${i}`) });
      assert.equal(r.result.rows[0][0].value, String(i));
    }
    // No spin: the failure was logged once (twice if the 10 s interval turned meanwhile), not
    // thousands of times.
    assert.ok(acceptFailures(server) <= 2, `${acceptFailures(server)} "accept failed" lines`);
    assert.ok(server.stderr.length < 16_384, `stderr grew to ${server.stderr.length} bytes`);

    // Once the idle clients leave, new connections are accepted again.
    for (const s of idle.splice(0)) s.destroy();
    assert.equal(await healthOnNewConnection(server), 200);
    assert.equal((await http.request("GET", "/health")).status, 200, "the first connection still works");
    await ws.close();
    await http.close();
    assert.ok(server.alive());
  } finally {
    for (const s of idle) s.destroy();
    assert.equal(await server.stop(), 0);
  }
});

test("--max-connections: one more connection gets 503 CONNECTIONS_EXHAUSTED, and is served once another closes", async () => {
  const server = await startServer({ args: ["--max-connections", "4"] });
  const conns = [];
  try {
    for (let i = 0; i < 4; ++i) conns.push(await openHttp(server));

    // HTTP: a Hrana error body, before the request was even read.
    const res = await fetch(server.url + "/v2/pipeline", {
      method: "POST",
      body: JSON.stringify({ baton: null, requests: [{ type: "execute", stmt: stmt("SELECT 1") }] }),
    });
    assert.equal(res.status, 503);
    const body = await res.json();
    assert.equal(body.code, "CONNECTIONS_EXHAUSTED");
    assert.match(body.message, /4 connections open/);
    // WebSocket: the 503 is the handshake's answer.
    await assert.rejects(openRaw(server, ["hrana3"]), (e) => e.status === 503 && /CONNECTIONS_EXHAUSTED/.test(e.body));

    // The connections the server took are unaffected.
    for (const c of conns) assert.equal((await c.request("GET", "/health")).status, 200);

    // One leaves: a new connection is served again (once the server has seen the close).
    await conns.pop().close();
    await waitUntil(async () => (await healthOnNewConnection(server)) === 200, "a new connection is served");
    // That probe's own connection holds the freed place until the server sees it close: the
    // WebSocket may be refused meanwhile, as any fifth connection is, and is retried until served.
    let ws;
    await waitUntil(async () => {
      try {
        ws = await openHello(server);
        return true;
      } catch (e) {
        if (e.status === 503) return false;
        throw e;
      }
    }, "a new WebSocket is served");
    await ws.ok(1, { type: "open_stream", stream_id: 1 });
    assert.equal((await ws.ok(2, { type: "execute", stream_id: 1, stmt: stmt("SELECT 7") })).result.rows[0][0].value, "7");
    await ws.close();
  } finally {
    for (const c of conns) await c.close();
    assert.equal(await server.stop(), 0);
  }
});
