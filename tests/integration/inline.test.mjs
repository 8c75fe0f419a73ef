// Short requests run on the server's network thread, with no thread handoff; one that runs past its
// budget there (1 ms) is interrupted, which undoes its statement, and runs again from the start on the
// SQL pool. Checked with the real client: a long read and a long autocommit write give the right
// answer exactly once, and short requests sent after a long one are answered before it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "@libsql/client";
import { startServer, SANITIZED } from "./harness.mjs";
import { waitUntil } from "./raw-http.mjs";

let server;
before(async () => {
  server = await startServer({ args: ["--log-level", "debug"] });
});
after(async () => {
  assert.equal(await server.stop(), 0);
});

const moved = () => server.stderr.split("\n").filter((l) => l.includes("runs again on the SQL pool")).length;
// A read that takes a while: a count over a few million generated rows (a tenth of that in a sanitizer
// build, many times slower, where it is still far past the budget and within the query timeout).
const LONG_ROWS = SANITIZED ? 300000 : 3000000;
const LONG_READ = `WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < ${LONG_ROWS}) SELECT count(*) AS k FROM c`;

for (const scheme of ["http", "ws"]) {
  test(`${scheme}: a long read moves to the pool, answers once, and short requests overtake it`, async () => {
    const url = scheme === "http" ? server.url : `ws://127.0.0.1:${server.port}`;
    const long = createClient({ url });
    const short = createClient({ url });
    const before = moved();
    const order = [];
    const slow = long.execute(LONG_READ).then((rs) => {
      order.push("long");
      return rs;
    });
    for (let i = 0; i < 20; i++) {
      const rs = await short.execute({ sql: "SELECT ? AS v", args: [i] });
      assert.equal(Number(rs.rows[0].v), i);
    }
    order.push("short");
    assert.equal(Number((await slow).rows[0].k), LONG_ROWS);
    assert.deepEqual(order, ["short", "long"], "the short requests were not held behind the long one");
    assert.ok(moved() > before, "the long read was moved off the network thread");
    long.close();
    short.close();
  });

  test(`${scheme}: a long autocommit write interrupted on the network thread is undone, then runs once`, async () => {
    const url = scheme === "http" ? server.url : `ws://127.0.0.1:${server.port}`;
    const c = createClient({ url });
    const t = `long_${scheme}`;
    await c.execute(`CREATE TABLE ${t}(n)`);
    const before = moved();
    const rs = await c.execute(
      `INSERT INTO ${t} WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 300000) SELECT n FROM c`,
    );
    assert.equal(rs.rowsAffected, 300000);
    assert.ok(moved() > before, "the write was moved off the network thread");
    assert.equal(Number((await c.execute(`SELECT count(*) AS k FROM ${t}`)).rows[0].k), 300000, "inserted exactly once");
    c.close();
  });

  // Writes that find the write lock held (here by a transaction) wait for it together, as the group of
  // their turn, and run on the network thread when it is free: none of them goes to the pool, where each
  // would commit alone and make the next turn's writes find the lock held in their turn.
  test(`${scheme}: writes that find the lock held wait for it as a group and none moves to the pool`, async () => {
    const url = scheme === "http" ? server.url : `ws://127.0.0.1:${server.port}`;
    const t = `held_${scheme}`;
    const holder = createClient({ url });
    await holder.execute(`CREATE TABLE ${t}(n)`);
    const writers = Array.from({ length: 16 }, () => createClient({ url }));
    const tx = await holder.transaction("write");
    await tx.execute({ sql: `INSERT INTO ${t} VALUES (?)`, args: [0] });
    const waiting = () => server.stderr.split("\n").filter((l) => l.includes("waits for the write lock")).length;
    const [movedBefore, waitingBefore] = [moved(), waiting()];
    const writes = writers.map((w, i) => w.execute({ sql: `INSERT INTO ${t} VALUES (?)`, args: [i + 1] }));
    await waitUntil(() => waiting() > waitingBefore, "the writes wait for the lock the transaction holds");
    await tx.commit();
    const results = await Promise.all(writes);
    for (const rs of results) assert.equal(rs.rowsAffected, 1);
    assert.equal(moved(), movedBefore, "no write was sent to the pool");
    const rs = await holder.execute(`SELECT count(*) AS k, sum(n) AS s FROM ${t}`);
    assert.equal(Number(rs.rows[0].k), 17);
    assert.equal(Number(rs.rows[0].s), (16 * 17) / 2, "each write exactly once");
    for (const w of writers) w.close();
    holder.close();
  });
}
