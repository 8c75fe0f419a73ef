// Hrana over WebSocket on the wire, with a raw `ws` client against the real litehouse binary: the
// subprotocol negotiation, the exact JSON messages, and the server's contract for bad input. Every
// protocol violation closes only the offending connection, with a close frame carrying sqld's code
// (1003 wrong frame type, 1007 undecodable message, 1008 a valid message that breaks the protocol,
// 1009 too big); the server stays up, a connection opened before keeps working, and a new one works.
// Also: a client that vanishes inside a write transaction frees the writer, and 1000 idle
// connections are held at once (the memory each costs is printed).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startServer, postJson } from "./harness.mjs";
import { ALL_SUBPROTOCOLS, openRaw, openHello, stmt, int, text, float, blob, NULL } from "./ws-raw.mjs";

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  assert.ok(server.alive(), `the server is still up at the end:\n${server.stderr}`);
  assert.equal(await server.stop(), 0, "the server exits cleanly on SIGTERM");
});

const HELLO_PROTOBUF = Uint8Array.from([0x0a, 0x00]); // ClientMsg { hello: HelloMsg {} }
const HELLO_OK_PROTOBUF = [0x0a, 0x00]; // ServerMsg { hello_ok: HelloOkMsg {} }

// A JSON v3 connection with hello done and stream 1 open, proven to work with one SELECT.
async function readyConn(srv = server, protocols = ["hrana3"]) {
  const ws = await openHello(srv, protocols);
  await ws.ok(1, { type: "open_stream", stream_id: 1 });
  const r = await ws.ok(2, { type: "execute", stream_id: 1, stmt: stmt("SELECT 1") });
  assert.deepEqual(r.result.rows, [[int(1)]]);
  return ws;
}

// Asserts that `ws` (a readyConn) still answers on stream 1.
async function stillWorks(ws, requestId, label) {
  assert.ok(ws.isOpen, `${label}: still open`);
  const r = await ws.ok(requestId, { type: "execute", stream_id: 1, stmt: stmt("SELECT ? + 1", [int(requestId)]) });
  assert.deepEqual(r.result.rows, [[int(requestId + 1)]], label);
}

// Runs `misbehave` (given a fresh connection it may break) while a bystander connection, opened
// before, is watched: afterwards the server is alive, the bystander answers, and a new connection works.
let bystanderRequest = 1000;
async function withBystander(srv, misbehave) {
  const bystander = await readyConn(srv);
  try {
    await misbehave();
    assert.ok(srv.alive(), `the server is still up:\n${srv.stderr}`);
    await stillWorks(bystander, bystanderRequest++, "the connection opened before");
    const fresh = await readyConn(srv);
    await stillWorks(fresh, 3, "a connection opened after");
    await fresh.close();
  } finally {
    await bystander.close();
  }
}

// Opens a connection (protocols, hello done unless skipHello), lets `act` misbehave on it, and
// asserts the server closes it with `code`. Returns the close reason.
async function expectClose(code, act, { protocols = ["hrana3"], skipHello = false, srv = server } = {}) {
  let info;
  await withBystander(srv, async () => {
    const ws = skipHello ? await openRaw(srv, protocols) : await openHello(srv, protocols);
    try {
      await act(ws);
      info = await ws.closedWithin(10_000);
    } finally {
      ws.terminate();
    }
    assert.equal(info.code, code, `close code ${info.code} (reason ${JSON.stringify(info.reason)}), expected ${code}`);
  });
  return info.reason;
}

// ---------------------------------------------------------------------------------------------
// Subprotocol negotiation

test("offering hrana3-protobuf, hrana3, hrana2, hrana1 selects hrana3-protobuf, which speaks binary Protobuf", async () => {
  const ws = await openRaw(server, ALL_SUBPROTOCOLS);
  try {
    assert.equal(ws.protocol, "hrana3-protobuf");
    ws.send(HELLO_PROTOBUF);
    const f = await ws.waitFor(() => true, "the hello response");
    assert.equal(f.isBinary, true, "a binary frame");
    assert.deepEqual(Array.from(f.data), HELLO_OK_PROTOBUF, "ServerMsg.hello_ok");
  } finally {
    await ws.close();
  }
});

test("the server's preference decides, not the client's order", async () => {
  for (const [offer, expected] of [
    [["hrana1", "hrana2", "hrana3", "hrana3-protobuf"], "hrana3-protobuf"],
    [["hrana1", "hrana3", "hrana2"], "hrana3"],
    [["hrana1", "hrana2"], "hrana2"],
    [["x-unknown", "hrana1"], "hrana1"],
  ]) {
    const ws = await openRaw(server, offer);
    assert.equal(ws.protocol, expected, `offer ${offer.join(", ")}`);
    await ws.close();
  }
});

test("offering hrana2, hrana1 selects hrana2 (JSON)", async () => {
  const ws = await openRaw(server, ["hrana2", "hrana1"]);
  try {
    assert.equal(ws.protocol, "hrana2");
    assert.deepEqual(await ws.hello(), { type: "hello_ok" });
    await ws.ok(1, { type: "open_stream", stream_id: 1 });
    const r = await ws.ok(2, { type: "execute", stream_id: 1, stmt: stmt("SELECT 'v2'") });
    assert.deepEqual(r.result.rows, [[text("v2")]]);
  } finally {
    await ws.close();
  }
});

test("no Sec-WebSocket-Protocol header: accepted as hrana1 (JSON)", async () => {
  const ws = await openRaw(server, undefined);
  try {
    assert.equal(ws.protocol, "", "no subprotocol in the response");
    assert.deepEqual(await ws.hello(), { type: "hello_ok" });
    assert.deepEqual(await ws.request(1, { type: "open_stream", stream_id: 1 }), {
      type: "response_ok",
      request_id: 1,
      response: { type: "open_stream" },
    });
    const r = await ws.ok(2, { type: "execute", stream_id: 1, stmt: stmt("SELECT 6 * 7 AS v") });
    assert.deepEqual(r.result.rows, [[int(42)]]);
    assert.equal(r.result.cols[0].name, "v");
  } finally {
    await ws.close();
  }
});

test("only unknown subprotocols: the handshake is refused with an HTTP 4xx", async () => {
  await withBystander(server, async () => {
    let opened = false;
    await assert.rejects(
      openRaw(server, ["graphql-ws", "hrana4"]).then((ws) => {
        opened = true;
        ws.terminate();
      }),
      (e) => {
        assert.equal(typeof e.status, "number", `an HTTP response refusing the upgrade, got: ${e.message}`);
        assert.ok(e.status >= 400 && e.status < 500, `a 4xx status, got ${e.status}`);
        return true;
      },
    );
    assert.equal(opened, false);
  });
});

// ---------------------------------------------------------------------------------------------
// JSON messages

test("JSON: hello, open_stream, execute and a SQL error as exact messages", async () => {
  const ws = await openRaw(server, ["hrana3"]);
  try {
    assert.equal(ws.protocol, "hrana3");
    ws.send({ type: "hello", jwt: null });
    const hello = await ws.waitFor(() => true, "hello_ok");
    assert.equal(hello.isBinary, false, "JSON goes in text frames");
    assert.deepEqual(hello.json, { type: "hello_ok" });

    assert.deepEqual(await ws.request(1, { type: "open_stream", stream_id: 1 }), {
      type: "response_ok",
      request_id: 1,
      response: { type: "open_stream" },
    });

    const created = await ws.request(2, { type: "execute", stream_id: 1, stmt: stmt("CREATE TABLE j(id INTEGER PRIMARY KEY, t TEXT, r REAL, b BLOB, n)") });
    assert.equal(created.type, "response_ok");
    assert.equal(created.response.type, "execute");
    assert.deepEqual(created.response.result.cols, []);
    assert.deepEqual(created.response.result.rows, []);

    const ins = await ws.ok(3, {
      type: "execute",
      stream_id: 1,
      stmt: stmt("INSERT INTO j VALUES (?, ?, ?, ?, ?)", [int(7), text("héllo"), float(2.5), blob([0, 255]), NULL]),
    });
    assert.equal(ins.result.affected_row_count, 1);
    assert.equal(ins.result.last_insert_rowid, "7");

    const sel = await ws.request(4, { type: "execute", stream_id: 1, stmt: stmt("SELECT id, t, r, b, n, 9223372036854775807 AS big FROM j") });
    assert.equal(sel.type, "response_ok");
    assert.equal(sel.request_id, 4);
    assert.equal(sel.response.type, "execute");
    const result = sel.response.result;
    assert.deepEqual(result.cols, [
      { name: "id", decltype: "INTEGER" },
      { name: "t", decltype: "TEXT" },
      { name: "r", decltype: "REAL" },
      { name: "b", decltype: "BLOB" },
      { name: "n", decltype: null },
      { name: "big", decltype: null },
    ]);
    assert.deepEqual(result.rows, [[int(7), text("héllo"), float(2.5), blob([0, 255]), NULL, int("9223372036854775807")]]);
    assert.equal(typeof result.affected_row_count, "number");

    // The same StmtResult JSON as Hrana over HTTP (/v3/pipeline), apart from the timing.
    const http = await postJson(server, "/v3/pipeline", {
      baton: null,
      requests: [
        { type: "execute", stmt: stmt("SELECT id, t, r, b, n, 9223372036854775807 AS big FROM j") },
        { type: "close" },
      ],
    });
    assert.equal(http.status, 200, http.text);
    const httpResult = http.body.results[0].response.result;
    const { query_duration_ms: _a, ...wsRest } = result;
    const { query_duration_ms: _b, ...httpRest } = httpResult;
    assert.deepEqual(wsRest, httpRest);

    const failed = await ws.request(5, { type: "execute", stream_id: 1, stmt: stmt("INSERT INTO j(id) VALUES (7)") });
    assert.equal(failed.type, "response_error");
    assert.equal(failed.request_id, 5);
    assert.deepEqual(Object.keys(failed).sort(), ["error", "request_id", "type"]);
    assert.equal(failed.error.code, "SQLITE_CONSTRAINT");
    assert.match(failed.error.message, /UNIQUE constraint failed: j\.id/);

    // The connection and the stream stay usable after the error.
    assert.ok(ws.isOpen);
    const after = await ws.ok(6, { type: "execute", stream_id: 1, stmt: stmt("SELECT count(*) FROM j") });
    assert.deepEqual(after.result.rows, [[int(1)]]);
    assert.deepEqual(await ws.request(7, { type: "close_stream", stream_id: 1 }), {
      type: "response_ok",
      request_id: 7,
      response: { type: "close_stream" },
    });
  } finally {
    await ws.close();
  }
});

test("JSON: a StmtResult carries rows_read, rows_written and query_duration_ms, as the spec's StmtResult", async () => {
  const ws = await readyConn();
  try {
    await ws.ok(3, { type: "execute", stream_id: 1, stmt: stmt("CREATE TABLE stats(x)") });
    const ins = await ws.ok(4, { type: "execute", stream_id: 1, stmt: stmt("INSERT INTO stats VALUES (1), (2), (3)") });
    const sel = await ws.ok(5, { type: "execute", stream_id: 1, stmt: stmt("SELECT x FROM stats") });
    for (const [what, result] of [
      ["insert", ins.result],
      ["select", sel.result],
    ]) {
      for (const k of ["rows_read", "rows_written", "query_duration_ms"]) {
        assert.equal(typeof result[k], "number", `${what}: ${k} is a number in ${JSON.stringify(result)}`);
      }
    }
    assert.ok(ins.result.rows_written >= 3, "three rows inserted were written");
    assert.ok(sel.result.rows_read >= 3, "three rows selected were read");
  } finally {
    await ws.close();
  }
});

test("two requests with different ids on two streams, sent together, both get their answers", async () => {
  const ws = await openHello(server, ["hrana3"]);
  try {
    ws.send({ type: "request", request_id: 11, request: { type: "open_stream", stream_id: 1 } });
    ws.send({ type: "request", request_id: 12, request: { type: "open_stream", stream_id: 2 } });
    ws.send({ type: "request", request_id: 13, request: { type: "execute", stream_id: 1, stmt: stmt("SELECT 'one'") } });
    ws.send({ type: "request", request_id: -14, request: { type: "execute", stream_id: 2, stmt: stmt("SELECT 'two'") } });
    const [o1, o2, r1, r2] = await Promise.all([ws.responseTo(11), ws.responseTo(12), ws.responseTo(13), ws.responseTo(-14)]);
    assert.equal(o1.type, "response_ok");
    assert.equal(o2.type, "response_ok");
    assert.deepEqual(r1.response.result.rows, [[text("one")]]);
    assert.deepEqual(r2.response.result.rows, [[text("two")]]);
    assert.equal(r2.request_id, -14, "negative request ids are echoed as is");
  } finally {
    await ws.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Protocol violations: close codes, and nothing else disturbed

test("invalid JSON text closes with 1007", async () => {
  await expectClose(1007, (ws) => ws.send("{ this is not json"));
});

test("a binary frame on a JSON subprotocol closes with 1003", async () => {
  await expectClose(1003, (ws) => ws.send(Buffer.from(JSON.stringify({ type: "request", request_id: 1, request: { type: "open_stream", stream_id: 1 } }))));
});

test("a text frame on hrana3-protobuf closes with 1003", async () => {
  await expectClose(
    1003,
    async (ws) => {
      assert.equal(ws.protocol, "hrana3-protobuf");
      ws.send(HELLO_PROTOBUF);
      const f = await ws.waitFor(() => true, "hello_ok");
      assert.deepEqual(Array.from(f.data), HELLO_OK_PROTOBUF);
      ws.send(JSON.stringify({ type: "hello", jwt: null }));
    },
    { protocols: ["hrana3-protobuf"], skipHello: true },
  );
});

test("an undecodable Protobuf message closes with 1007", async () => {
  await expectClose(
    1007,
    async (ws) => {
      ws.send(HELLO_PROTOBUF);
      await ws.waitFor(() => true, "hello_ok");
      ws.send(Uint8Array.from([0x12, 0x7f, 0x01])); // field 2, length 127, one byte present
    },
    { protocols: ["hrana3-protobuf"], skipHello: true },
  );
});

test("an unknown message type closes with 1007", async () => {
  await expectClose(1007, (ws) => ws.send({ type: "goodbye" }));
});

test("a message without a type closes with 1007", async () => {
  await expectClose(1007, (ws) => ws.send({ request_id: 1, request: { type: "open_stream", stream_id: 1 } }));
});

test("an unknown request type closes with 1007", async () => {
  await expectClose(1007, (ws) => ws.send({ type: "request", request_id: 1, request: { type: "drop_database", stream_id: 1 } }));
});

test("opening a stream id that is already open closes with 1008", async () => {
  await expectClose(1008, async (ws) => {
    await ws.ok(1, { type: "open_stream", stream_id: 5 });
    ws.send({ type: "request", request_id: 2, request: { type: "open_stream", stream_id: 5 } });
  });
});

test("a request on a stream id that was never opened closes with 1008", async () => {
  await expectClose(1008, async (ws) => {
    await ws.ok(1, { type: "open_stream", stream_id: 1 });
    ws.send({ type: "request", request_id: 2, request: { type: "execute", stream_id: 99, stmt: stmt("SELECT 1") } });
  });
});

test("a request before hello closes with 1008", async () => {
  const reason = await expectClose(1008, (ws) => ws.send({ type: "request", request_id: 1, request: { type: "open_stream", stream_id: 1 } }), {
    skipHello: true,
  });
  assert.ok(reason.length > 0, "the close frame says why");
});

test("a request before hello is not answered", async () => {
  const ws = await openRaw(server, ["hrana3"]);
  try {
    ws.send({ type: "request", request_id: 1, request: { type: "open_stream", stream_id: 1 } });
    await ws.closedWithin(10_000);
    assert.equal(
      ws.inbox.find((f) => f.json?.type === "response_ok"),
      undefined,
      `no response_ok before the close: ${JSON.stringify(ws.inbox.map((f) => f.text))}`,
    );
  } finally {
    ws.terminate();
  }
});

test("a message over --max-request-size (4096) closes with 1009; smaller ones work", async () => {
  const small = await startServer({ args: ["--max-request-size", "4096"] });
  try {
    // Just under the limit is fine.
    const ok = await readyConn(small);
    const fits = "x".repeat(3000);
    const r = await ok.ok(3, { type: "execute", stream_id: 1, stmt: stmt("SELECT length(?)", [text(fits)]) });
    assert.deepEqual(r.result.rows, [[int(3000)]]);
    await ok.close();

    await expectClose(
      1009,
      async (ws) => {
        await ws.ok(1, { type: "open_stream", stream_id: 1 });
        ws.send({ type: "request", request_id: 2, request: { type: "execute", stream_id: 1, stmt: stmt("SELECT length(?)", [text("y".repeat(10_000))]) } });
      },
      { srv: small },
    );
    assert.ok(small.alive());
  } finally {
    assert.equal(await small.stop(), 0);
  }
});

// ---------------------------------------------------------------------------------------------
// A client that vanishes inside a write transaction

test("a dropped connection holding BEGIN IMMEDIATE frees the writer; its rows are gone", async () => {
  const setup = await readyConn();
  await setup.ok(3, { type: "execute", stream_id: 1, stmt: stmt("CREATE TABLE dropped(v TEXT)") });
  await setup.ok(4, { type: "execute", stream_id: 1, stmt: stmt("INSERT INTO dropped VALUES ('before')") });

  const victim = await readyConn();
  await victim.ok(3, { type: "execute", stream_id: 1, stmt: stmt("BEGIN IMMEDIATE") });
  await victim.ok(4, { type: "execute", stream_id: 1, stmt: stmt("INSERT INTO dropped VALUES ('dropped-1'), ('dropped-2')") });
  const inside = await victim.ok(5, { type: "execute", stream_id: 1, stmt: stmt("SELECT count(*) FROM dropped") });
  assert.deepEqual(inside.result.rows, [[int(3)]], "the transaction sees its rows");
  const auto = await victim.ok(6, { type: "get_autocommit", stream_id: 1 });
  assert.equal(auto.is_autocommit, false, "the transaction is open");
  const outside = await setup.ok(5, { type: "execute", stream_id: 1, stmt: stmt("SELECT count(*) FROM dropped") });
  assert.deepEqual(outside.result.rows, [[int(1)]], "others do not see them");

  victim.terminate(); // no close frame: the socket is destroyed
  const dropped = Date.now();

  // Another connection gets the writer within a bounded wait.
  const writer = await readyConn();
  let id = 10;
  let wrote;
  let lastError;
  while (Date.now() - dropped < 5_000) {
    const res = await writer.request(id++, { type: "execute", stream_id: 1, stmt: stmt("INSERT INTO dropped VALUES ('after')") }, 10_000);
    if (res.type === "response_ok") {
      wrote = res;
      break;
    }
    lastError = res.error;
    await new Promise((r) => setTimeout(r, 100));
  }
  const waited = Date.now() - dropped;
  assert.ok(wrote, `another connection could not write within 5 s of the drop; last error: ${JSON.stringify(lastError)}`);
  assert.equal(wrote.response.result.affected_row_count, 1);
  assert.ok(waited < 5_000, `the writer was free only ${waited} ms after the drop`);
  console.log(`writer free ${waited} ms after the drop`);

  const rows = await writer.ok(id++, { type: "execute", stream_id: 1, stmt: stmt("SELECT v FROM dropped ORDER BY rowid") });
  assert.deepEqual(rows.result.rows, [[text("before")], [text("after")]], "the dropped transaction was rolled back");
  // And a fresh BEGIN IMMEDIATE works too (the writer is not still held by anything).
  await writer.ok(id++, { type: "execute", stream_id: 1, stmt: stmt("BEGIN IMMEDIATE") });
  await writer.ok(id++, { type: "execute", stream_id: 1, stmt: stmt("COMMIT") });
  assert.ok(server.alive());
  await writer.close();
  await setup.close();
});

// ---------------------------------------------------------------------------------------------
// 1000 idle connections

function rssKb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m[1]);
}

test("1000 idle WebSocket connections held at once, each then answers SELECT 1", { timeout: 90_000 }, async () => {
  const srv = await startServer();
  const conns = [];
  const started = Date.now();
  try {
    // Warm up (first connection, first stream, first statement) before the baseline.
    const warm = await readyConn(srv);
    await warm.close();
    await new Promise((r) => setTimeout(r, 200));
    const before = rssKb(srv.child.pid);

    const N = 1000;
    for (let b = 0; b < N / 100; b++) {
      const batch = await Promise.all(
        Array.from({ length: 100 }, async () => {
          const ws = await openRaw(srv, ["hrana3"]);
          ws.send({ type: "hello", jwt: null });
          ws.send({ type: "request", request_id: 1, request: { type: "open_stream", stream_id: 1 } });
          await ws.nextOfType("hello_ok", 20_000);
          const open = await ws.responseTo(1, 20_000);
          assert.equal(open.type, "response_ok", JSON.stringify(open));
          return ws;
        }),
      );
      conns.push(...batch);
    }
    assert.equal(conns.length, N);
    assert.ok(Date.now() - started < 60_000, "connecting took under 60 s");
    await new Promise((r) => setTimeout(r, 200));
    const held = rssKb(srv.child.pid);
    assert.ok(srv.alive());
    assert.ok(conns.every((c) => c.isOpen), "all 1000 are open");

    const answers = await Promise.all(
      conns.map((ws, i) => ws.request(2, { type: "execute", stream_id: 1, stmt: stmt("SELECT 1, ?", [int(i)]) }, 30_000)),
    );
    for (const [i, a] of answers.entries()) {
      assert.equal(a.type, "response_ok", `connection ${i}: ${JSON.stringify(a)}`);
      assert.deepEqual(a.response.result.rows, [[int(1), int(i)]], `connection ${i}`);
    }
    const afterQueries = rssKb(srv.child.pid);
    console.log(
      `RSS: ${before} kB before, ${held} kB with ${N} idle connections (${((held - before) / N).toFixed(1)} kB each), ` +
        `${afterQueries} kB after one SELECT on each (${((afterQueries - before) / N).toFixed(1)} kB each); ${Date.now() - started} ms`,
    );
    assert.ok(srv.alive(), `the server is up:\n${srv.stderr}`);
  } finally {
    await Promise.all(conns.map((c) => c.close()));
    assert.equal(await srv.stop(), 0);
  }
});
