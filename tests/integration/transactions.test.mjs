// Concurrent transactions as sqld gives them (each stream its own SQLite connection in WAL mode),
// driven with the real @libsql/client and @libsql/hrana-client over HTTP and WebSocket:
//   - BEGIN (deferred) takes no lock; its first read takes a snapshot, its first write the lock;
//   - one writer at a time, the others wait in FIFO order;
//   - a transaction whose snapshot is stale gets SQLITE_BUSY (BUSY_SNAPSHOT) at once when it writes;
//   - BEGIN IMMEDIATE takes the lock at once; BEGIN TRANSACTION READONLY never does;
//   - a holder past --txn-timeout-s while another waits is rolled back (lock stealing), and its
//     stream answers TRANSACTION_TIMEOUT.
// No assertion here depends on timing: where a test shows that something did not wait, it shows it
// by what the others could still do afterwards (a holder that was not robbed commits).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { createClient, LibsqlError } from "@libsql/client";
import * as hrana from "@libsql/hrana-client";
import { startServer } from "./harness.mjs";

// The two transports @libsql/client speaks.
const SCHEMES = ["http", "ws"];
const urlOf = (srv, scheme) => (scheme === "http" ? srv.url : `ws://127.0.0.1:${srv.port}`);

async function rejectsWith(promise, code, pattern) {
  let caught;
  await assert.rejects(promise, (e) => {
    caught = e;
    assert.ok(e instanceof LibsqlError, `expected a LibsqlError, got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
  return caught;
}

const sum = async (c, table) => Number((await c.execute(`SELECT coalesce(sum(x), 0) AS s FROM ${table}`)).rows[0].s);

// A server for the tests of one describe block, started with `args`, and a maker of clients of it;
// the clients are closed and the server stopped after the block.
function serverForBlock(args = []) {
  const it = { server: undefined, clients: [] };
  it.client = (scheme) => {
    const c = createClient({ url: urlOf(it.server, scheme) });
    it.clients.push(c);
    return c;
  };
  before(async () => {
    it.server = await startServer({ args });
  });
  after(async () => {
    for (const c of it.clients) c.close();
    assert.equal(await it.server.stop(), 0);
  });
  return it;
}

describe("with the default transaction timeout", () => {
  const block = serverForBlock();
  const client = block.client;

  test("the issue's reproduction: a stream's BEGIN does not hold off another stream's INSERT", async () => {
    const post = (body) =>
      fetch(`${block.server.url}/v2/pipeline`, { method: "POST", body: JSON.stringify(body) }).then((r) => r.json());
    const ex = (sql) => ({ type: "execute", stmt: { sql } });
    const first = await post({ requests: [ex("CREATE TABLE IF NOT EXISTS repro(x)"), ex("BEGIN"), ex("SELECT count(*) FROM repro")] });
    assert.equal(first.results[2].type, "ok", JSON.stringify(first));
    const insert = await post({ requests: [ex("INSERT INTO repro VALUES (1)"), { type: "close" }] });
    assert.equal(insert.results[0].type, "ok", JSON.stringify(insert));
    // The first stream's transaction is intact: still its old snapshot, and it commits.
    const again = await post({ baton: first.baton, requests: [ex("SELECT count(*) FROM repro"), ex("COMMIT"), { type: "close" }] });
    assert.equal(again.results[0].type, "ok", JSON.stringify(again));
    assert.equal(again.results[0].response.result.rows[0][0].value, "0", "the deferred transaction kept its snapshot");
    assert.equal(again.results[1].type, "ok", "and commits");
  });

  for (const scheme of SCHEMES) {
    test(`${scheme}: two deferred transactions run at once, each on its own snapshot`, async () => {
      const a = client(scheme);
      const b = client(scheme);
      const t = `snap_${scheme}`;
      await a.execute(`CREATE TABLE ${t}(x)`);
      await a.execute(`INSERT INTO ${t} VALUES (1)`);
      const s1 = await a.transaction("deferred");
      const s2 = await b.transaction("deferred");
      assert.equal(Number((await s1.execute(`SELECT sum(x) AS s FROM ${t}`)).rows[0].s), 1);
      await s2.execute(`INSERT INTO ${t} VALUES (10)`);
      assert.equal(Number((await s1.execute(`SELECT sum(x) AS s FROM ${t}`)).rows[0].s), 1, "s1 sees the old total");
      assert.equal(Number((await s2.execute(`SELECT sum(x) AS s FROM ${t}`)).rows[0].s), 11, "s2 sees its own insert");
      await s2.commit();
      assert.equal(Number((await s1.execute(`SELECT sum(x) AS s FROM ${t}`)).rows[0].s), 1, "s1 keeps its snapshot");
      await s1.commit();
      assert.equal(await sum(a, t), 11);
    });

    test(`${scheme}: a write in a transaction whose snapshot is stale fails at once with SQLITE_BUSY`, async () => {
      const a = client(scheme);
      const b = client(scheme);
      const c = client(scheme);
      const t = `stale_${scheme}`;
      await a.execute(`CREATE TABLE ${t}(x)`);
      const reader = await a.transaction("deferred");
      await reader.execute(`SELECT count(*) FROM ${t}`);  // takes the snapshot
      await b.execute(`INSERT INTO ${t} VALUES (1)`);    // commits past it
      // A third transaction holds the lock: a stale writer must not queue behind it.
      const holder = await c.transaction("write");
      await holder.execute(`INSERT INTO ${t} VALUES (2)`);
      const err = await rejectsWith(reader.execute(`INSERT INTO ${t} VALUES (3)`), "SQLITE_BUSY", /BUSY_SNAPSHOT/);
      assert.ok(err);
      // Had the stale write waited for the lock, the holder would have lost it after 5 s: it commits.
      await holder.commit();
      await reader.rollback();
      assert.equal(await sum(a, t), 3);
    });

    test(`${scheme}: BEGIN IMMEDIATE takes the lock at once, and a writer waits for it`, async () => {
      const a = client(scheme);
      const b = client(scheme);
      const t = `imm_${scheme}`;
      await a.execute(`CREATE TABLE ${t}(x)`);
      const tx = await a.transaction("write");
      await tx.execute("SELECT 1");  // the client sends its BEGIN IMMEDIATE with the first statement
      let done = false;
      const insert = b.execute(`INSERT INTO ${t} VALUES ((SELECT count(*) FROM ${t}))`).then((r) => {
        done = true;
        return r;
      });
      await tx.execute(`INSERT INTO ${t} VALUES (100)`);
      await tx.execute("SELECT 1");
      assert.equal(done, false, "the other writer waits while the transaction holds the lock");
      await tx.commit();
      await insert;
      const rows = (await a.execute(`SELECT x FROM ${t} ORDER BY rowid`)).rows.map((r) => Number(r.x));
      assert.deepEqual(rows, [100, 1], "the waiting insert ran after the commit, and saw it");
    });

    test(`${scheme}: transaction("read") never takes the lock, and a write in it fails`, async () => {
      const a = client(scheme);
      const b = client(scheme);
      const t = `ro_${scheme}`;
      await a.execute(`CREATE TABLE ${t}(x)`);
      const ro = await a.transaction("read");
      await ro.execute(`SELECT count(*) FROM ${t}`);
      await b.execute(`INSERT INTO ${t} VALUES (1)`);  // not held off by the read transaction
      await rejectsWith(ro.execute(`INSERT INTO ${t} VALUES (2)`), "SQLITE_READONLY");
      ro.close();
      assert.equal(await sum(b, t), 1);
    });

    test(`${scheme}: writers queue in order, and many streams at once lose no update`, async () => {
      const t = `counter_${scheme}`;
      const setup = client(scheme);
      await setup.execute(`CREATE TABLE ${t}(id INTEGER PRIMARY KEY, n INTEGER)`);
      await setup.execute(`INSERT INTO ${t} VALUES (1, 0)`);
      const workers = Array.from({ length: 16 }, () => client(scheme));
      const rounds = 10;
      await Promise.all(
        workers.map(async (c) => {
          for (let i = 0; i < rounds; i++) {
            const tx = await c.transaction("write");
            const n = Number((await tx.execute(`SELECT n FROM ${t} WHERE id = 1`)).rows[0].n);
            await tx.execute({ sql: `UPDATE ${t} SET n = ? WHERE id = 1`, args: [n + 1] });
            await tx.commit();
          }
        }),
      );
      assert.equal(Number((await setup.execute(`SELECT n FROM ${t}`)).rows[0].n), workers.length * rounds);
    });

    test(`${scheme}: deferred read-modify-write transactions retry on SQLITE_BUSY and lose no update`, async () => {
      const t = `retry_${scheme}`;
      const setup = client(scheme);
      await setup.execute(`CREATE TABLE ${t}(id INTEGER PRIMARY KEY, n INTEGER)`);
      await setup.execute(`INSERT INTO ${t} VALUES (1, 0)`);
      const workers = Array.from({ length: 8 }, () => client(scheme));
      let busy = 0;
      await Promise.all(
        workers.map(async (c) => {
          for (let done = 0, attempts = 0; done < 5 && attempts < 200; attempts++) {
            const tx = await c.transaction("deferred");
            try {
              const n = Number((await tx.execute(`SELECT n FROM ${t} WHERE id = 1`)).rows[0].n);
              await tx.execute({ sql: `UPDATE ${t} SET n = ? WHERE id = 1`, args: [n + 1] });
              await tx.commit();
              done++;
            } catch (e) {
              assert.equal(e.code, "SQLITE_BUSY", e.message);
              busy++;
              await tx.rollback().catch(() => {});
            } finally {
              tx.close();
            }
          }
        }),
      );
      assert.equal(Number((await setup.execute(`SELECT n FROM ${t}`)).rows[0].n), workers.length * 5);
      assert.ok(busy >= 0);
    });
  }

  test("ws: two streams of one connection: B waits for the lock A holds, and goes on when A commits", async () => {
    const c = client("ws");
    await c.execute("CREATE TABLE same_conn(x)");
    const tx = await c.transaction("write");
    await tx.execute("INSERT INTO same_conn VALUES (1)");
    let done = false;
    const other = c.execute("INSERT INTO same_conn VALUES (2)").then(() => (done = true));
    await tx.execute("SELECT 1");
    assert.equal(done, false, "stream B waits for the lock stream A holds");
    await tx.commit();
    await other;
    assert.equal(await sum(c, "same_conn"), 3);
  });

  for (const transport of ["http", "ws"]) {
    test(`hrana-client over ${transport}: a deferred transaction's stream and another stream's write`, async () => {
      const h = transport === "http" ? hrana.openHttp(block.server.url) : hrana.openWs(`ws://127.0.0.1:${block.server.port}`, undefined, 3);
      try {
        const s1 = h.openStream();
        const s2 = h.openStream();
        const t = `hrana_${transport}`;
        await s1.run(`CREATE TABLE ${t}(x)`);
        await s1.run("BEGIN");
        assert.equal((await s1.queryValue(`SELECT count(*) FROM ${t}`)).value, 0);
        await s2.run(`INSERT INTO ${t} VALUES (5)`);
        assert.equal((await s1.queryValue(`SELECT count(*) FROM ${t}`)).value, 0, "s1 keeps its snapshot");
        await assert.rejects(s1.run(`INSERT INTO ${t} VALUES (6)`), (e) => e.code === "SQLITE_BUSY");
        await s1.run("ROLLBACK");
        assert.equal((await s1.queryValue(`SELECT sum(x) FROM ${t}`)).value, 5);
        s1.close();
        s2.close();
      } finally {
        h.close();
      }
    });
  }
});

describe("lock stealing (--txn-timeout-s 1)", () => {
  const block = serverForBlock(["--txn-timeout-s", "1"]);
  const client = block.client;

  for (const scheme of SCHEMES) {
    test(`${scheme}: an idle holder loses the lock to a waiter, and its stream says TRANSACTION_TIMEOUT`, async () => {
      const a = client(scheme);
      const b = client(scheme);
      const t = `steal_${scheme}`;
      await a.execute(`CREATE TABLE ${t}(x)`);
      const tx = await a.transaction("write");
      await tx.execute(`INSERT INTO ${t} VALUES (1)`);
      // The waiter goes on once the holder has held the lock for 1 s (its stream expiry is 10 s).
      await b.execute(`INSERT INTO ${t} VALUES (2)`);
      await rejectsWith(tx.execute(`INSERT INTO ${t} VALUES (3)`), "TRANSACTION_TIMEOUT", /write lock/);
      // The client may already have given the transaction up (over HTTP it says TRANSACTION_CLOSED).
      await assert.rejects(tx.commit());
      tx.close();
      assert.deepEqual((await b.execute(`SELECT x FROM ${t}`)).rows.map((r) => Number(r.x)), [2], "the holder's insert was rolled back");
      assert.match(block.server.stderr, /held the write lock for longer than 1000 ms/);
    });

    test(`${scheme}: a holder that keeps working does not hold a waiter off`, async () => {
      const a = client(scheme);
      const b = client(scheme);
      const t = `busy_${scheme}`;
      await a.execute(`CREATE TABLE ${t}(x)`);
      const tx = await a.transaction("write");
      await tx.execute(`INSERT INTO ${t} VALUES (1)`);
      let waiterDone = false;
      const waiter = b.execute(`INSERT INTO ${t} VALUES (2)`).then(() => (waiterDone = true));
      let stolen;
      // Statements back to back, never idle; bounded, and ends as soon as the lock is taken back.
      for (let i = 0; i < 100_000 && !stolen; i++) {
        try {
          await tx.execute(`SELECT count(*) FROM ${t}`);
        } catch (e) {
          stolen = e;
        }
      }
      assert.ok(stolen, "the busy holder lost the lock");
      assert.ok(["TRANSACTION_TIMEOUT", "SQLITE_INTERRUPT"].includes(stolen.code), stolen.message);
      await waiter;
      assert.equal(waiterDone, true);
      tx.close();
      assert.deepEqual((await b.execute(`SELECT x FROM ${t}`)).rows.map((r) => Number(r.x)), [2]);
    });
  }
});

test("a shutdown with a WebSocket transaction open and a writer queued exits cleanly and keeps nothing of the transaction", async () => {
  const server = await startServer();
  const a = createClient({ url: urlOf(server, "ws") });
  const b = createClient({ url: urlOf(server, "ws") });
  await a.execute("CREATE TABLE shut(x)");
  await a.execute("INSERT INTO shut VALUES (1)");
  const tx = await a.transaction("write");
  await tx.execute("INSERT INTO shut VALUES (2)");
  const queued = b.execute("INSERT INTO shut VALUES (3)").catch((e) => e);
  await tx.execute("SELECT 1");
  assert.equal(await server.stop({ keepDir: true }), 0, `the server exits cleanly:\n${server.stderr}`);
  assert.ok((await queued) instanceof Error, "the queued write did not run");
  a.close();
  b.close();
  const again = await startServer({ dbPath: server.dir });
  try {
    const c = createClient({ url: again.url });
    assert.deepEqual((await c.execute("SELECT x FROM shut ORDER BY x")).rows.map((r) => Number(r.x)), [1]);
    c.close();
  } finally {
    assert.equal(await again.stop(), 0);
    rmSync(server.dir, { recursive: true, force: true });
  }
});

test("past --max-db-connections a request waits for a connection, and goes on when a transaction ends", async () => {
  const server = await startServer({ args: ["--max-db-connections", "2"] });
  const clients = Array.from({ length: 3 }, () => createClient({ url: server.url }));
  try {
    const [a, b, c] = clients;
    await a.execute("CREATE TABLE bound(x)");
    const t1 = await a.transaction("deferred");
    await t1.execute("SELECT count(*) FROM bound");  // holds a connection
    const t2 = await b.transaction("deferred");
    await t2.execute("SELECT count(*) FROM bound");  // holds the other one
    let done = false;
    const third = c.execute("SELECT 42 AS v").then((rs) => {
      done = true;
      return rs;
    });
    await t2.execute("SELECT 1");
    assert.equal(done, false, "no connection is free for the third client");
    await t1.commit();
    assert.equal(Number((await third).rows[0].v), 42);
    await t2.commit();
  } finally {
    for (const c of clients) c.close();
    assert.equal(await server.stop(), 0);
  }
});
