// A WebSocket client that opens a transaction and then goes quiet must not hold the writer for
// everyone: past --stream-expiry-ms idle, its transaction is rolled back, other writers proceed, and
// the stream answers TRANSACTION_TIMEOUT (never running the client's next statement in autocommit).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "./harness.mjs";
import { openHello, stmt, int } from "./ws-raw.mjs";

let server;

before(async () => {
  server = await startServer({ args: ["--stream-expiry-ms", "500"] });
});

after(async () => {
  assert.equal(await server.stop(), 0);
});

test("an idle transaction is rolled back, the writer freed, and the stream says so", async () => {
  const idle = await openHello(server);
  await idle.ok(1, { type: "open_stream", stream_id: 1 });
  await idle.ok(2, { type: "execute", stream_id: 1, stmt: stmt("CREATE TABLE t(x)") });
  await idle.ok(3, { type: "execute", stream_id: 1, stmt: stmt("BEGIN IMMEDIATE") });
  await idle.ok(4, { type: "execute", stream_id: 1, stmt: stmt("INSERT INTO t VALUES (?)", [int(1)]) });

  // Another connection's write waits for the writer, which the idle transaction holds until it
  // expires (500 ms); the test's own bound is the harness's 10 s response timeout.
  const other = await openHello(server);
  await other.ok(1, { type: "open_stream", stream_id: 1 });
  await other.ok(2, { type: "execute", stream_id: 1, stmt: stmt("INSERT INTO t VALUES (?)", [int(2)]) });
  const rows = await other.ok(3, { type: "execute", stream_id: 1, stmt: stmt("SELECT x FROM t ORDER BY x") });
  assert.deepEqual(rows.result.rows.map((r) => r[0].value), ["2"], "the idle transaction's insert was rolled back");
  assert.match(server.stderr, /websocket stream 1 expired with a transaction open: rolling it back/);

  // The idle client comes back: its statement is refused, not run in autocommit.
  const late = await idle.request(5, { type: "execute", stream_id: 1, stmt: stmt("INSERT INTO t VALUES (?)", [int(3)]) });
  assert.equal(late.type, "response_error");
  assert.equal(late.error.code, "TRANSACTION_TIMEOUT");
  const commit = await idle.request(6, { type: "execute", stream_id: 1, stmt: stmt("COMMIT") });
  assert.equal(commit.error.code, "TRANSACTION_TIMEOUT");
  const after = await other.ok(4, { type: "execute", stream_id: 1, stmt: stmt("SELECT count(*) FROM t") });
  assert.equal(after.result.rows[0][0].value, "1", "nothing of the expired transaction landed");

  // Closing the stream and opening another gets the client going again.
  await idle.ok(7, { type: "close_stream", stream_id: 1 });
  await idle.ok(8, { type: "open_stream", stream_id: 2 });
  await idle.ok(9, { type: "execute", stream_id: 2, stmt: stmt("INSERT INTO t VALUES (?)", [int(4)]) });
  await idle.close();
  await other.close();
});

test("a transaction in use is not expired", async () => {
  const busy = await openHello(server);
  await busy.ok(1, { type: "open_stream", stream_id: 1 });
  await busy.ok(2, { type: "execute", stream_id: 1, stmt: stmt("CREATE TABLE u(x)") });
  await busy.ok(3, { type: "execute", stream_id: 1, stmt: stmt("BEGIN") });
  // Ten statements 100 ms apart: the transaction lives 1 s, but is never idle for 500 ms.
  for (let i = 0; i < 10; i++) {
    await busy.ok(10 + i, { type: "execute", stream_id: 1, stmt: stmt("INSERT INTO u VALUES (?)", [int(i)]) });
    await new Promise((r) => setTimeout(r, 100));
  }
  await busy.ok(30, { type: "execute", stream_id: 1, stmt: stmt("COMMIT") });
  const n = await busy.ok(31, { type: "execute", stream_id: 1, stmt: stmt("SELECT count(*) FROM u") });
  assert.equal(n.result.rows[0][0].value, "10");
  await busy.close();
});
