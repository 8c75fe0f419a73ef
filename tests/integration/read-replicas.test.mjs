// Read replicas (issue #13): `litehouse serve --primary-url` against a real primary, all real
// processes on loopback, driven by the real @libsql/client over HTTP and WebSocket. A replica
// bootstraps from the primary's log, tails it, applies each transaction atomically, relays writes and
// transactions to the primary with the client's credential, and reads its own writes.
import { test, after, describe } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, readFileSync, existsSync, readdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { startServer, BIN, refused, postJson, tempDirMaker } from "./harness.mjs";
import { waitUntil } from "./raw-http.mjs";

const tempDir = tempDirMaker();

const replicaOf = (primaryUrl, { dbPath, args = [], env } = {}) =>
  startServer({ dbPath: dbPath ?? tempDir("litehouse-replica-"), args: ["--primary-url", primaryUrl, ...args], env });

const status = async (server, token) => {
  const res = await fetch(`${server.url}/replication/status`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  assert.equal(res.status, 200);
  return res.json();
};

// Waits until `replica` has applied everything the primary has committed.
async function caughtUp(primary, replica, token) {
  const p = await status(primary, token);
  await waitUntil(async () => {
    const r = await status(replica, token);
    return r.log_id === p.log_id && r.frame_no !== null && r.frame_no >= p.frame_no;
  }, `the replica at ${replica.url} reaches frame ${p.frame_no}`);
}

const count = async (client, table = "t") => Number((await client.execute(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);

// The database file of a stopped server, with its WAL folded in (the last connection's close
// checkpoints it). Page 1's change counter (bytes 24-27 and 92-95) is masked: SQLite sets it at each
// commit from what the committing connection last read, so two files never agree on it (replica.h).
function settledFile(dir) {
  const path = join(dir, "dbs", "default", "data");
  const r = spawnSync(BIN, ["shell", path], { input: "SELECT count(*) FROM sqlite_schema;\n", encoding: "utf8", timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!existsSync(path + "-wal") || readFileSync(path + "-wal").length === 0, "the WAL was folded into the file");
  const bytes = readFileSync(path);
  bytes.fill(0, 24, 28);
  bytes.fill(0, 92, 96);
  return bytes;
}

function assertSameFiles(a, b) {
  const fa = settledFile(a);
  const fb = settledFile(b);
  assert.equal(fa.length, fb.length, "same size");
  assert.ok(fa.equals(fb), "the replica's pages equal the primary's");
}

// A TCP proxy on loopback that can cut every connection and refuse new ones, then come back on the
// same port, to `target` (which may change meanwhile: a primary restarted on another port).
async function tcpProxy(targetPort) {
  const sockets = new Set();
  let server;
  let port = 0;
  const listen = () =>
    new Promise((res) => {
      server = net.createServer((client) => {
        const upstream = net.connect(proxy.target, "127.0.0.1");
        sockets.add(client);
        sockets.add(upstream);
        client.pipe(upstream).pipe(client);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on("error", drop).on("close", drop);
        upstream.on("error", drop).on("close", drop);
      });
      server.listen(port, "127.0.0.1", () => {
        port = server.address().port;
        res();
      });
    });
  const proxy = {
    target: targetPort,
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    async cut() {
      await new Promise((res) => {
        server.close(res);
        for (const s of sockets) s.destroy();
        sockets.clear();
      });
    },
    restore: listen,
    async close() {
      await this.cut();
    },
  };
  await listen();
  return proxy;
}

describe("a primary and two read replicas", () => {
  test("writes through every node, over HTTP and WebSocket, reach every node; each replica equals the primary page for page", async () => {
    const primary = await startServer();
    const clients = [];
    let r1, r2;
    try {
      const p = createClient({ url: primary.url });
      clients.push(p);
      await p.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, node TEXT, payload BLOB)");
      await p.execute("INSERT INTO t(node, payload) VALUES ('primary', randomblob(5000))");
      r1 = await replicaOf(primary.url);
      r2 = await replicaOf(primary.url);
      const c1 = createClient({ url: r1.url.replace("http", "ws") });
      const c2 = createClient({ url: r2.url });
      clients.push(c1, c2);
      // The bootstrap copied what was there.
      assert.equal(await count(c1), 1);
      assert.equal(await count(c2), 1);

      // Writes through each node; each node reads its own write at once (read-your-writes).
      for (let i = 0; i < 20; i++) {
        for (const [name, c] of [["primary", p], ["r1", c1], ["r2", c2]]) {
          const rs = await c.execute({ sql: "INSERT INTO t(node, payload) VALUES (?, randomblob(?))", args: [name, 100 + i * 50] });
          assert.equal(rs.rowsAffected, 1);
          const mine = await c.execute({ sql: "SELECT count(*) AS n FROM t WHERE id = ?", args: [rs.lastInsertRowid] });
          assert.equal(Number(mine.rows[0].n), 1, `${name} reads its own write ${rs.lastInsertRowid}`);
        }
      }
      // A batch and an interactive transaction through a replica run on the primary, whole.
      await c2.batch(["INSERT INTO t(node) VALUES ('batch-a')", "INSERT INTO t(node) VALUES ('batch-b')"], "write");
      const tx = await c1.transaction("write");
      await tx.execute("INSERT INTO t(node) VALUES ('tx')");
      assert.equal(Number((await tx.execute("SELECT count(*) AS n FROM t WHERE node = 'tx'")).rows[0].n), 1,
                   "the transaction reads its own uncommitted write (it runs on the primary)");
      assert.equal(Number((await p.execute("SELECT count(*) AS n FROM t WHERE node = 'tx'")).rows[0].n), 0,
                   "uncommitted on the primary");
      await tx.commit();
      const rolled = await c2.transaction("write");
      await rolled.execute("INSERT INTO t(node) VALUES ('rolled back')");
      await rolled.rollback();
      // A read transaction runs on the replica's snapshot.
      const rtx = await c2.transaction("read");
      const seen = await count(rtx);
      await rtx.commit();
      assert.ok(seen >= 61);

      const total = 1 + 60 + 2 + 1;
      await caughtUp(primary, r1);
      await caughtUp(primary, r2);
      for (const c of [p, c1, c2]) assert.equal(await count(c), total);
      assert.equal(Number((await c1.execute("SELECT count(*) AS n FROM t WHERE node = 'rolled back'")).rows[0].n), 0);

      const ps = await status(primary);
      assert.equal(ps.role, "primary");
      assert.equal(ps.replicas.length, 2, JSON.stringify(ps));
      for (const rep of ps.replicas) assert.match(rep.name, /^replica 127\.0\.0\.1:/);
      const rs1 = await status(r1);
      assert.equal(rs1.role, "replica");
      assert.equal(rs1.primary_url, primary.url);
      assert.equal(rs1.log_id, ps.log_id);
      assert.equal(rs1.lag_frames, 0);
      assert.equal(rs1.connected, true);
    } finally {
      for (const c of clients) c.close();
      await r1?.stop({ keepDir: true });
      await r2?.stop({ keepDir: true });
      await primary.stop({ keepDir: true });
    }
    assertSameFiles(primary.dir, r1.dir);
    assertSameFiles(primary.dir, r2.dir);
    rmSync(primary.dir, { recursive: true, force: true });
  });

  test("a replica's readers see only whole transactions while it applies them", async () => {
    const primary = await startServer();
    const replica = await replicaOf(primary.url);
    const p = createClient({ url: primary.url });
    const r = createClient({ url: replica.url });
    try {
      await p.execute("CREATE TABLE acct(id INTEGER PRIMARY KEY, balance INTEGER)");
      await p.batch(Array.from({ length: 10 }, (_, i) => `INSERT INTO acct VALUES (${i}, 100)`), "write");
      // Transfers that keep the sum at 1000, each a transaction of two updates, while the replica's
      // readers check the sum.
      let stop = false;
      const reads = (async () => {
        let checks = 0;
        while (!stop || checks < 50) {
          const rs = await r.execute("SELECT coalesce(sum(balance), 1000) AS s, count(*) AS n FROM acct");
          if (Number(rs.rows[0].n) === 10) assert.equal(Number(rs.rows[0].s), 1000, "a reader saw half a transfer");
          checks++;
        }
        return checks;
      })();
      for (let i = 0; i < 150; i++) {
        const from = i % 10;
        const to = (i * 7 + 3) % 10;
        await p.batch([
          { sql: "UPDATE acct SET balance = balance - 5 WHERE id = ?", args: [from] },
          { sql: "UPDATE acct SET balance = balance + 5 WHERE id = ?", args: [to] },
        ], "write");
      }
      stop = true;
      assert.ok((await reads) >= 50);
      await caughtUp(primary, replica);
      assert.equal(Number((await r.execute("SELECT sum(balance) AS s FROM acct")).rows[0].s), 1000);
    } finally {
      p.close();
      r.close();
      await replica.stop();
      await primary.stop();
    }
  });
});

describe("what a replica applies", () => {
  test("a VACUUM that shrinks the primary shrinks the replica; schema changes apply", async () => {
    const primary = await startServer();
    const replica = await replicaOf(primary.url);
    const p = createClient({ url: primary.url });
    const r = createClient({ url: replica.url });
    try {
      await p.execute("CREATE TABLE big(x)");
      for (let i = 0; i < 20; i++) await p.execute("INSERT INTO big VALUES (randomblob(20000))");
      await p.execute("CREATE INDEX big_x ON big(x)");
      await caughtUp(primary, replica);
      assert.equal(await count(r, "big"), 20);
      await p.execute("DELETE FROM big");
      await p.execute("DROP INDEX big_x");
      await p.execute("ALTER TABLE big ADD COLUMN y TEXT DEFAULT 'z'");
      await p.execute("VACUUM");
      await caughtUp(primary, replica);
      assert.equal(await count(r, "big"), 0);
      const cols = await r.execute("SELECT name FROM pragma_table_info('big') ORDER BY cid");
      assert.deepEqual(cols.rows.map((row) => row.name), ["x", "y"]);
      const idx = await r.execute("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'index'");
      assert.equal(Number(idx.rows[0].n), 0);
      const pages = async (c) => Number((await c.execute("PRAGMA page_count")).rows[0].page_count);
      assert.equal(await pages(r), await pages(p));
      assert.ok((await pages(r)) < 10, "the file was cut to the vacuumed size");
    } finally {
      p.close();
      r.close();
      await replica.stop({ keepDir: true });
      await primary.stop({ keepDir: true });
    }
    assertSameFiles(primary.dir, replica.dir);
  });
});

describe("waiting for an index on a replica", () => {
  test("a request's replication_index waits until the replica has it; one it never reaches fails REPLICATION_TIMEOUT, bounded", async () => {
    const primary = await startServer();
    const replica = await replicaOf(primary.url, { args: ["--replica-read-wait-ms", "300"] });
    const p = createClient({ url: primary.url });
    const pipeline = async (server, requests) => {
      const res = await fetch(`${server.url}/v3/pipeline`, { method: "POST", body: JSON.stringify({ baton: null, requests }) });
      assert.equal(res.status, 200);
      return (await res.json()).results;
    };
    try {
      await p.execute("CREATE TABLE t(x)");
      await caughtUp(primary, replica);
      for (let i = 0; i < 20; i++) {
        // Written on the primary, read at once on the replica with the index the write returned.
        const [w] = await pipeline(primary, [{ type: "execute", stmt: { sql: `INSERT INTO t VALUES (${i})` } }]);
        const index = w.response.result.replication_index;
        assert.match(index, /^\d+$/);
        const [exec, batch] = await pipeline(replica, [
          { type: "execute", stmt: { sql: "SELECT count(*) FROM t", replication_index: index } },
          { type: "batch", batch: { steps: [{ stmt: { sql: "SELECT max(x) FROM t" } }], replication_index: index } },
        ]);
        assert.equal(exec.type, "ok", JSON.stringify(exec));
        assert.equal(exec.response.result.rows[0][0].value, String(i + 1));
        assert.ok(BigInt(exec.response.result.replication_index) >= BigInt(index), "a replica's read reports what it had applied");
        assert.equal(batch.response.result.step_results[0].rows[0][0].value, String(i));
      }
      const started = Date.now();
      const [late] = await pipeline(replica, [{ type: "execute", stmt: { sql: "SELECT 1", replication_index: "999999999" } }]);
      assert.equal(late.type, "error");
      assert.equal(late.error.code, "REPLICATION_TIMEOUT");
      assert.match(late.error.message, /has not applied the primary's frame 999999999 within 300 ms/);
      assert.ok(Date.now() - started < 5000);
      const [bad] = await pipeline(replica, [{ type: "execute", stmt: { sql: "SELECT 1", replication_index: "x1" } }]).catch(() => [null]);
      assert.equal(bad, null, "a malformed replication_index is a protocol error (400)");
    } finally {
      p.close();
      await replica.stop();
      await primary.stop();
    }
  });
});

describe("routing on a replica", () => {
  test("a script that opens a transaction runs on the primary until its COMMIT, whatever words follow its BEGIN", async () => {
    const primary = await startServer();
    const replica = await replicaOf(primary.url);
    const p = createClient({ url: primary.url });
    const pipeline = async (baton, requests) => {
      const res = await fetch(`${replica.url}/v3/pipeline`, { method: "POST", body: JSON.stringify({ baton, requests }) });
      assert.equal(res.status, 200);
      return res.json();
    };
    try {
      await p.execute("CREATE TABLE t(x TEXT)");
      await caughtUp(primary, replica);
      // A Hrana `sequence` that opens a transaction; the word READONLY later in it must not keep it here.
      const first = await pipeline(null, [{ type: "sequence", sql: "BEGIN; INSERT INTO t VALUES ('READONLY is only a word here');" }]);
      assert.equal(first.results[0].type, "ok", JSON.stringify(first));
      assert.equal(await count(p), 0, "still inside the transaction on the primary");
      const second = await pipeline(first.baton, [
        { type: "execute", stmt: { sql: "SELECT count(*) FROM t" } },
        { type: "execute", stmt: { sql: "COMMIT" } },
        { type: "close" },
      ]);
      assert.equal(second.results[0].response.result.rows[0][0].value, "1", "the transaction reads its own write");
      assert.equal(second.results[1].type, "ok", JSON.stringify(second));
      assert.equal(await count(p), 1);
    } finally {
      p.close();
      await replica.stop();
      await primary.stop();
    }
  });
});

describe("a replica under load", () => {
  test("40 clients at once, over HTTP and WebSocket, each writing through the replica and reading its writes back; the replica's stream limit refuses past it", async () => {
    const primary = await startServer();
    const replica = await replicaOf(primary.url, { args: ["--max-streams-per-client", "60"] });
    const p = createClient({ url: primary.url });
    const clients = [];
    try {
      await p.execute("CREATE TABLE t(client INTEGER, i INTEGER)");
      await caughtUp(primary, replica);
      for (let c = 0; c < 40; c++) clients.push(createClient({ url: c % 2 ? replica.url : replica.url.replace("http", "ws") }));
      const perClient = 15;
      await Promise.all(clients.map(async (client, c) => {
        for (let i = 0; i < perClient; i++) {
          await client.execute({ sql: "INSERT INTO t VALUES (?, ?)", args: [c, i] });
          const mine = await client.execute({ sql: "SELECT count(*) AS n FROM t WHERE client = ?", args: [c] });
          assert.equal(Number(mine.rows[0].n), i + 1, `client ${c} reads its ${i + 1} writes`);
        }
        // A transaction and a batch of each client, all at once.
        const tx = await client.transaction("write");
        await tx.execute({ sql: "INSERT INTO t VALUES (?, -1)", args: [c] });
        await tx.commit();
        await client.batch([{ sql: "INSERT INTO t VALUES (?, -2)", args: [c] }], "write");
      }));
      await caughtUp(primary, replica);
      assert.equal(await count(p), 40 * (perClient + 2));
      const r = createClient({ url: replica.url });
      assert.equal(await count(r), 40 * (perClient + 2));
      r.close();

      // Past the replica's own per-client stream limit (60): refused there, as on a primary.
      const held = [];
      let refusedStreams = 0;
      for (let i = 0; i < 65; i++) {
        const res = await fetch(`${replica.url}/v3/pipeline`, {
          method: "POST",
          body: JSON.stringify({ baton: null, requests: [{ type: "execute", stmt: { sql: "SELECT 1" } }] }),
        });
        const body = await res.json();
        if (res.status === 429) {
          assert.equal(body.code, "STREAMS_EXHAUSTED");
          refusedStreams++;
        } else {
          held.push(body.baton);
        }
      }
      assert.equal(held.length, 60);
      assert.equal(refusedStreams, 5);
    } finally {
      for (const c of clients) c.close();
      p.close();
      await replica.stop();
      await primary.stop();
    }
  });
});

describe("credentials through a replica", () => {
  test("the client's token goes to the primary: a read-only token stays read-only, a bad one is refused, the replica's own token reads the log", async () => {
    const keys = tempDir("litehouse-keys-");
    const cli = (args) => spawnSync(BIN, args, { encoding: "utf8", timeout: 10_000 });
    assert.equal(cli(["token", "keygen", "--dir", keys]).status, 0);
    const key = join(keys, "jwt_private.pem");
    const token = (ro) => cli(["token", "create", "--key", key, ...(ro ? ["--read-only"] : [])]).stdout.trim();
    const rw = token(false);
    const ro = token(true);
    const auth = ["--auth-jwt-key-file", join(keys, "jwt_public.pem")];
    const primary = await startServer({ args: auth });
    // Without --primary-auth-token the primary refuses the replica: it says so, and retries.
    const dir = tempDir("litehouse-replica-");
    const refusedReplica = spawnSync(BIN, ["serve", "--db-path", dir, "--http-listen-addr", "127.0.0.1:0", "--primary-url", primary.url, ...auth],
                                     { encoding: "utf8", timeout: 1500, killSignal: "SIGKILL" });
    assert.match(refusedReplica.stderr, /refused the replica's token/);
    const replica = await replicaOf(primary.url, { args: [...auth, "--primary-auth-token", rw] });
    const w = createClient({ url: replica.url, authToken: rw });
    const rdr = createClient({ url: replica.url.replace("http", "ws"), authToken: ro });
    const none = createClient({ url: replica.url });
    try {
      await w.execute("CREATE TABLE t(x)");
      await w.execute("INSERT INTO t VALUES (1)");
      assert.equal(await count(w), 1);
      assert.equal(await count(rdr), 1, "a read-only token reads");
      // Refused as the primary refuses a read-only token's write (auth.test.mjs).
      const writeRefused = (e) => ["SQLITE_AUTH", "SQLITE_READONLY"].includes(e.code);
      await assert.rejects(rdr.execute("INSERT INTO t VALUES (2)"), writeRefused);
      await assert.rejects(rdr.batch(["INSERT INTO t VALUES (3)"], "write"), writeRefused);
      await assert.rejects(none.execute("SELECT 1"), /401|Unauthorized|AUTH/i);
      const statusRefused = await fetch(`${replica.url}/replication/status`);
      assert.equal(statusRefused.status, 401, "the status needs a token too");
      await caughtUp(primary, replica, ro);
      assert.equal(await count(w), 1, "nothing the read-only token sent was written");
    } finally {
      w.close();
      rdr.close();
      none.close();
      await replica.stop();
      await primary.stop();
    }
  });
});

describe("per-client limits through a replica", () => {
  // A replica relays a client's transaction to the primary on a stream of the primary's. It names the
  // client in X-Forwarded-For, so a primary that trusts its replicas (--trusted-proxy) charges each
  // client for its own streams, not the replica for everyone's. Clients are told apart here by the
  // Fly-Client-IP header the replica trusts (--trusted-proxy 127.0.0.1 on both).
  test("a primary trusting its replica keys relayed streams by the client the replica names", async () => {
    const primary = await startServer({ args: ["--trusted-proxy", "127.0.0.1", "--max-streams-per-client", "1"] });
    const replica = await replicaOf(primary.url, { args: ["--trusted-proxy", "127.0.0.1"] });
    const exec = (sql) => ({ type: "execute", stmt: { sql } });
    const pipeline = (ip, baton, requests) => postJson(replica, "/v3/pipeline", { baton, requests }, { "Fly-Client-IP": ip });
    try {
      assert.equal((await postJson(primary, "/v3/pipeline", { baton: null, requests: [exec("CREATE TABLE t(x)"), { type: "close" }] })).status, 200);
      await caughtUp(primary, replica);
      // Client A opens a transaction through the replica: one stream on the primary, A's only one.
      const a = await pipeline("203.0.113.1", null, [exec("BEGIN"), exec("INSERT INTO t VALUES (1)")]);
      assert.equal(a.status, 200, a.text);
      assert.ok(a.body.results.every((r) => r.type === "ok"), a.text);
      // Client B opens one (a read: A holds the write lock): the primary counts it apart from A
      // (without the header, B would be the replica's address again, and refused).
      const b = await pipeline("203.0.113.2", null, [exec("BEGIN"), exec("SELECT count(*) FROM t")]);
      assert.equal(b.status, 200, b.text);
      assert.ok(b.body.results.every((r) => r.type === "ok"), b.text);
      // A second transaction of A's is past A's own limit on the primary.
      const a2 = await pipeline("203.0.113.1", null, [exec("BEGIN"), exec("SELECT count(*) FROM t")]);
      const a2error = a2.body.results?.find((r) => r.type === "error")?.error ?? a2.body;
      assert.equal(a2error.code, "STREAMS_EXHAUSTED", a2.text);
      // Both transactions commit.
      for (const [ip, first] of [["203.0.113.1", a], ["203.0.113.2", b]]) {
        const done = await pipeline(ip, first.body.baton, [exec("COMMIT"), { type: "close" }]);
        assert.equal(done.status, 200, done.text);
        assert.ok(done.body.results.every((r) => r.type === "ok"), done.text);
      }
      const rows = await postJson(primary, "/v3/pipeline", { baton: null, requests: [exec("SELECT x FROM t ORDER BY x"), { type: "close" }] });
      assert.deepEqual(rows.body.results[0].response.result.rows.map((r) => r[0].value), ["1"]);
    } finally {
      await replica.stop();
      await primary.stop();
    }
  });
});

describe("failures and restarts", () => {
  test("kill -9 of a replica during writes, then a restart: it resumes from its position and catches up", async () => {
    const primary = await startServer();
    const dir = tempDir("litehouse-replica-");
    let replica = await replicaOf(primary.url, { dbPath: dir });
    const p = createClient({ url: primary.url });
    try {
      await p.execute("CREATE TABLE t(x)");
      let written = 0;
      const writer = (async () => {
        for (let i = 0; i < 400; i++) {
          await p.execute({ sql: "INSERT INTO t VALUES (?)", args: [i] });
          written++;
        }
      })();
      await waitUntil(async () => written >= 100, "100 writes");
      replica.child.kill("SIGKILL");
      await new Promise((res) => replica.child.once("exit", res));
      await writer;
      const position = readFileSync(join(dir, "dbs", "default", "replica-position"), "utf8");
      assert.match(position, /^litehouse-replica 1\n[0-9a-f-]{36}\n\d+\n$/);
      replica = await replicaOf(primary.url, { dbPath: dir });
      assert.match(replica.stderr, /resuming history/);
      await caughtUp(primary, replica);
      const r = createClient({ url: replica.url });
      assert.equal(await count(r), 400);
      r.close();
    } finally {
      p.close();
      await replica.stop({ keepDir: true });
      await primary.stop({ keepDir: true });
    }
    assertSameFiles(primary.dir, dir);
    rmSync(primary.dir, { recursive: true, force: true });
  });

  test("a restart of the primary: the replica reconnects, and relays writes again", async () => {
    const pdir = tempDir("litehouse-primary-");
    let primary = await startServer({ dbPath: pdir });
    const proxy = await tcpProxy(primary.port);  // the primary's address, the proxy's, stays across its restart
    const replica = await replicaOf(proxy.url);
    const r = createClient({ url: replica.url });
    try {
      await r.execute("CREATE TABLE t(x)");
      await r.execute("INSERT INTO t VALUES (1)");
      await caughtUp(primary, replica);
      await primary.stop();
      // While the primary is down: reads go on, writes fail with a clear error.
      assert.equal(await count(r), 1);
      await refused(r.execute("INSERT INTO t VALUES (2)"), "PRIMARY_UNAVAILABLE", /could not reach its primary/);
      await waitUntil(async () => (await status(replica)).connected === false, "the replica notices");
      primary = await startServer({ dbPath: pdir });
      await proxy.cut();
      proxy.target = primary.port;
      await proxy.restore();
      await waitUntil(async () => (await status(replica)).connected === true, "the replica reconnects", 15_000);
      await r.execute("INSERT INTO t VALUES (3)");
      assert.equal(await count(r), 2);
      const ps = await status(primary);
      const rs = await status(replica);
      assert.equal(rs.log_id, ps.log_id, "a clean restart keeps the history");
    } finally {
      r.close();
      await replica.stop();
      await proxy.close();
      await primary.stop();
    }
  });

  test("a link cut and restored: the replica falls behind, says so, and catches up", async () => {
    const primary = await startServer();
    const proxy = await tcpProxy(primary.port);
    const replica = await replicaOf(proxy.url);
    const p = createClient({ url: primary.url });
    const r = createClient({ url: replica.url });
    try {
      await p.execute("CREATE TABLE t(x)");
      await caughtUp(primary, replica);
      await proxy.cut();
      for (let i = 0; i < 50; i++) await p.execute({ sql: "INSERT INTO t VALUES (?)", args: [i] });
      await waitUntil(async () => (await status(replica)).connected === false, "the replica notices the cut");
      assert.equal(await count(r), 0, "the replica serves what it has");
      const st = await status(replica);
      assert.ok(st.last_error.length > 0);
      await proxy.restore();
      await caughtUp(primary, replica);
      assert.equal(await count(r), 50);
    } finally {
      p.close();
      r.close();
      await replica.stop();
      await proxy.close();
      await primary.stop();
    }
  });

  test("a primary that lost its history (kill -9): the replica follows the new log_id", async () => {
    const pdir = tempDir("litehouse-primary-");
    let primary = await startServer({ dbPath: pdir });
    const proxy = await tcpProxy(primary.port);
    const replica = await replicaOf(proxy.url);
    const r = createClient({ url: replica.url });
    let p = createClient({ url: primary.url });
    try {
      await p.execute("CREATE TABLE t(x)");
      await p.execute("INSERT INTO t VALUES (1)");
      await caughtUp(primary, replica);
      const before = (await status(replica)).log_id;
      p.close();
      primary.child.kill("SIGKILL");
      await new Promise((res) => primary.child.once("exit", res));
      await proxy.cut();
      primary = await startServer({ dbPath: pdir });
      p = createClient({ url: primary.url });
      await p.execute("INSERT INTO t VALUES (2)");
      proxy.target = primary.port;
      await proxy.restore();
      await caughtUp(primary, replica);
      const after = await status(replica);
      assert.notEqual(after.log_id, before, "a new history after an unclean stop");
      assert.equal(await count(r), 2);
    } finally {
      p.close();
      r.close();
      await replica.stop();
      await proxy.close();
      await primary.stop({ keepDir: true });
    }
  });

  test("compaction, then a new replica bootstraps from the snapshot; one behind the compaction catches up", async () => {
    // 1 MB of log: compacted every ~240 frames.
    const primary = await startServer({ args: ["--max-log-size", "1"] });
    const p = createClient({ url: primary.url });
    let late, early;
    try {
      await p.execute("CREATE TABLE t(x)");
      early = await replicaOf(primary.url);
      await caughtUp(primary, early);
      // Stop `early` (kept), and compact the log past it.
      await early.stop({ keepDir: true });
      for (let i = 0; i < 60; i++) await p.execute({ sql: "INSERT INTO t VALUES (randomblob(8000))" });
      await waitUntil(() => {
        const snaps = spawnSync("ls", [join(primary.dir, "dbs", "default", "snapshots")], { encoding: "utf8" }).stdout;
        return snaps.trim().length > 0;
      }, "a snapshot");
      late = await replicaOf(primary.url);
      await caughtUp(primary, late);
      const lc = createClient({ url: late.url });
      assert.equal(await count(lc), 60);
      lc.close();
      early = await replicaOf(primary.url, { dbPath: early.dir });
      await caughtUp(primary, early);
      const ec = createClient({ url: early.url });
      assert.equal(await count(ec), 60);
      ec.close();
    } finally {
      p.close();
      await late?.stop();
      await early?.stop();
      await primary.stop();
    }
  });
});

describe("promotion", () => {
  test("litehouse promote: a replica becomes the primary with a new log_id; replicas pointed at it follow, the old primary comes back as its replica", async () => {
    const pdir = tempDir("litehouse-primary-");
    let primary = await startServer({ dbPath: pdir });
    const r1dir = tempDir("litehouse-replica-");
    let r1 = await replicaOf(primary.url, { dbPath: r1dir });
    const r2 = await replicaOf(r1.url);  // a replica of a replica: the log comes from the primary through r1
    let p = createClient({ url: primary.url });
    const c1 = createClient({ url: r1.url });
    const c2 = createClient({ url: r2.url.replace("http", "ws") });
    let oldPrimaryAsReplica;
    try {
      await p.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, who TEXT)");
      await p.execute("INSERT INTO t(who) VALUES ('before')");
      await c2.execute("INSERT INTO t(who) VALUES ('through r2')");
      await caughtUp(primary, r1);
      await caughtUp(primary, r2);
      const before = await status(primary);

      // A primary is not promoted.
      const notReplica = await fetch(`${primary.url}/replication/promote`, { method: "POST" });
      assert.equal(notReplica.status, 409);
      assert.equal((await notReplica.json()).code, "PROMOTION_REFUSED");

      const promoted = spawnSync(BIN, ["promote", r1.url], { encoding: "utf8", timeout: 30_000 });
      assert.equal(promoted.status, 0, promoted.stderr);
      const after = JSON.parse(promoted.stdout);
      assert.equal(after.role, "primary");
      assert.notEqual(after.log_id, before.log_id);
      assert.ok(existsSync(join(r1dir, "dbs", "default", "promoted")));
      // The old primary is stopped: the new one takes writes, itself and through its replica.
      p.close();
      await primary.stop({ keepDir: true });
      await c1.execute("INSERT INTO t(who) VALUES ('r1 as primary')");
      await c2.execute("INSERT INTO t(who) VALUES ('through r2, to the new primary')");
      await caughtUp(r1, r2);
      assert.equal((await status(r2)).log_id, after.log_id, "r2 follows the new history");
      assert.equal(await count(c2), 4);
      const again = await fetch(`${r1.url}/replication/promote`, { method: "POST" });
      assert.equal(again.status, 409);

      // The old primary comes back as a replica of the new one: it bootstraps anew.
      oldPrimaryAsReplica = await replicaOf(r1.url, { dbPath: pdir });
      assert.match(oldPrimaryAsReplica.stderr, /replaced by a copy of the primary's database/);
      await caughtUp(r1, oldPrimaryAsReplica);
      p = createClient({ url: oldPrimaryAsReplica.url });
      assert.deepEqual((await p.execute("SELECT who FROM t ORDER BY id")).rows.map((r) => r.who),
                       ["before", "through r2", "r1 as primary", "through r2, to the new primary"]);
      await p.execute("INSERT INTO t(who) VALUES ('through the old primary')");
      assert.equal(await count(p), 5);
      await caughtUp(r1, r2);
    } finally {
      p.close();
      c1.close();
      c2.close();
      await oldPrimaryAsReplica?.stop({ keepDir: true });
      await r2.stop({ keepDir: true });
      await r1.stop({ keepDir: true });
    }
    assertSameFiles(r1dir, pdir);
    assertSameFiles(r1dir, r2.dir);
    // Restarted with its old configuration, the promoted node refuses to become a replica again.
    const refusedStart = spawnSync(BIN, ["serve", "--db-path", r1dir, "--http-listen-addr", "127.0.0.1:0", "--primary-url", "http://127.0.0.1:1"],
                                   { encoding: "utf8", timeout: 10_000 });
    assert.equal(refusedStart.status, 1);
    assert.match(refusedStart.stderr, /was promoted to primary/);
    r1 = await startServer({ dbPath: r1dir });
    const c = createClient({ url: r1.url });
    assert.equal(await count(c), 5, "started as the primary, it serves what it had");
    c.close();
    await r1.stop({ keepDir: true });
    assert.ok(!existsSync(join(r1dir, "dbs", "default", "promoted")));
  });
});

describe("serving a replica", () => {
  test("--grpc-listen-addr: a replica pointed at the primary's second port, as sqld deployments do", async () => {
    const grpcPort = await new Promise((res) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const port = s.address().port;
        s.close(() => res(port));
      });
    });
    const primary = await startServer({ args: ["--grpc-listen-addr", `127.0.0.1:${grpcPort}`] });
    let replica, r;
    try {
      assert.match(primary.stderr, new RegExp(`serving replication also on http://127\\.0\\.0\\.1:${grpcPort}`));
      replica = await replicaOf(`http://127.0.0.1:${grpcPort}`);
      r = createClient({ url: replica.url });
      await r.execute("CREATE TABLE t(x)");
      await r.execute("INSERT INTO t VALUES (42)");
      assert.equal(Number((await r.execute("SELECT x FROM t")).rows[0].x), 42);
    } finally {
      r?.close();
      await replica?.stop();
      await primary.stop();
    }
  });

  test("an embedded replica (@libsql/client syncUrl) syncing from a read replica", async () => {
    const primary = await startServer();
    const replica = await replicaOf(primary.url);
    const dir = tempDir("litehouse-embedded-");
    const p = createClient({ url: primary.url });
    const local = createClient({ url: `file:${join(dir, "local.db")}`, syncUrl: replica.url });
    try {
      await p.execute("CREATE TABLE t(x)");
      await p.execute("INSERT INTO t VALUES (1)");
      await local.sync();
      assert.equal(await count(local), 1);
      await local.execute("INSERT INTO t VALUES (2)");  // delegated, through the replica, to the primary
      assert.equal(await count(local), 2, "read-your-writes");
      assert.equal(await count(p), 2);
      const tx = await local.transaction("write");
      await tx.execute("INSERT INTO t VALUES (3)");
      await tx.commit();
      await local.sync();
      assert.equal(await count(local), 3);
    } finally {
      local.close();
      p.close();
      await replica.stop();
      await primary.stop();
    }
  });

  test("bad --primary-url values are refused at start", () => {
    for (const [url, pattern] of [
      ["https://example.com", /https is not supported/],
      ["ftp://x", /expected http:\/\/HOST:PORT/],
      ["http://:80", /no host|expected/],
    ]) {
      const r = spawnSync(BIN, ["serve", "--db-path", tempDir("litehouse-bad-"), "--http-listen-addr", "127.0.0.1:0", "--primary-url", url],
                          { encoding: "utf8", timeout: 10_000 });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, pattern);
    }
  });
});

// Boot from backup (issue #14, item 3): a replica on an empty volume restores the primary's backup
// at the position the backup stored beside it (generations/GEN/litehouse-position), then tails the
// primary from that frame: the database does not cross the network from the primary.
describe("a replica that boots from the backup", () => {
  // A TCP proxy to `port` that counts the bytes the upstream sent back.
  async function countingProxy(port) {
    const proxy = { received: 0 };
    proxy.server = net.createServer((client) => {
      const upstream = net.connect(port, "127.0.0.1");
      upstream.on("data", (chunk) => (proxy.received += chunk.length));
      client.pipe(upstream).pipe(client);
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
    });
    await new Promise((res) => proxy.server.listen(0, "127.0.0.1", res));
    proxy.url = `http://127.0.0.1:${proxy.server.address().port}`;
    return proxy;
  }
  const positionFiles = (replica) =>
    (existsSync(join(replica, "generations")) ? readdirSync(join(replica, "generations")) : [])
      .map((g) => join(replica, "generations", g, "litehouse-position"))
      .filter((f) => existsSync(f));
  const positionOf = (file) => Object.fromEntries(readFileSync(file, "utf8").trim().split("\n").slice(1).map((l) => l.split(" ")));

  // A primary backing up to a folder, ~8 MB written, and the backup's stored position caught up
  // with them; then a few more writes that only the primary's log has for sure.
  async function primaryWithBackup() {
    const backupDir = tempDir("litehouse-boot-backup-");
    const primary = await startServer({ dbPath: tempDir("litehouse-primary-"), args: ["--backup-url", `file://${backupDir}`, "--backup-interval", "50ms"] });
    const client = createClient({ url: primary.url });
    await client.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB)");
    await client.execute("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 2000) INSERT INTO t SELECT n, randomblob(4000) FROM c");
    const { frame_no, log_id } = await status(primary);
    // The position is stored at most every 5 s after an upload: wait for one that has every write.
    await waitUntil(
      () => positionFiles(backupDir).some((f) => positionOf(f).log_id === log_id && Number(positionOf(f).frame_no) === frame_no + 1),
      "the backup stores the position of the last write",
      20_000,
    );
    await client.execute("WITH RECURSIVE c(n) AS (SELECT 2001 UNION ALL SELECT n + 1 FROM c WHERE n < 2010) INSERT INTO t SELECT n, randomblob(100) FROM c");
    return { primary, client, backupDir };
  }

  test("it restores the backup at its stored position and tails only what came after from the primary; it writes nothing to the backup", async () => {
    const { primary, client, backupDir } = await primaryWithBackup();
    const generations = readdirSync(join(backupDir, "generations")).sort();
    const proxy = await countingProxy(primary.port);
    const replica = await replicaOf(proxy.url, { args: ["--backup-url", `file://${backupDir}`] });
    try {
      await caughtUp(primary, replica);
      const r = createClient({ url: replica.url });
      assert.equal(await count(r), 2010);
      r.close();
      assert.match(replica.stderr, /replica boot: restored .* from the backup at file:\/\/.*history [0-9a-f-]+ at frame \d+/);
      assert.doesNotMatch(replica.stderr, /bootstrapped/);
      // The database is ~8 MB; from the primary came the 10 rows after the position, and the talk.
      assert.ok(proxy.received < 1_000_000, `${proxy.received} bytes from the primary`);
      assert.deepEqual(readdirSync(join(backupDir, "generations")).sort(), generations, "no generation of the replica's");
      // Writes through the replica reach it as before.
      const w = createClient({ url: replica.url });
      await w.execute("INSERT INTO t VALUES (3000, x'00')");
      w.close();
      await caughtUp(primary, replica);
    } finally {
      client.close();
      await replica.stop({ keepDir: true });
      await primary.stop({ keepDir: true });
      proxy.server.close();
    }
    assertSameFiles(primary.dir, replica.dir);
  });

  // The backup's stored position changed by `edit` (the text of each position file), a replica
  // booted from it, caught up, and checked by `check(replica)`; its file equals the primary's.
  async function bootAfter(edit, check) {
    const { primary, client, backupDir: live } = await primaryWithBackup();
    // A copy of the backup is edited and booted from: the primary goes on rewriting its own
    // position (every 5 s), which would undo the edit under a slow start.
    const backupDir = tempDir("litehouse-boot-copy-");
    cpSync(live, backupDir, { recursive: true });
    for (const f of positionFiles(backupDir)) {
      const text = edit(readFileSync(f, "utf8"));
      if (text === null) rmSync(f);
      else writeFileSync(f, text);
    }
    const replica = await replicaOf(primary.url, { args: ["--backup-url", `file://${backupDir}`] });
    try {
      await caughtUp(primary, replica);
      await check(replica);
    } finally {
      client.close();
      await replica.stop({ keepDir: true });
      await primary.stop({ keepDir: true });
    }
    assertSameFiles(primary.dir, replica.dir);
  }

  test("without a stored position (a Litestream backup, or none yet) it bootstraps from the primary", () =>
    bootAfter(
      () => null,
      (replica) => {
        assert.match(replica.stderr, /no backup says which frame .* bootstrapping from the primary/);
        assert.match(replica.stderr, /bootstrapped/);
      },
    ));

  test("a position of a history the primary no longer has: restored, then caught up from the primary's snapshot", () =>
    bootAfter(
      (text) => text.replace(/^log_id .*$/m, "log_id 00000000-0000-4000-8000-000000000000"),
      async (replica) => {
        assert.match(replica.stderr, /replica boot: restored/);
        assert.match(replica.stderr, /new history/);
        const r = createClient({ url: replica.url });
        assert.equal(await count(r), 2010);
        r.close();
      },
    ));

  test("a position the backup does not reach (a segment gone): nothing half-restored is served, it bootstraps from the primary", () =>
    bootAfter(
      (text) => text.replace(/^offset .*$/m, "offset 999999999"),
      (replica) => {
        assert.match(replica.stderr, /does not restore to its stored position.*bootstrapping from the primary/);
        assert.match(replica.stderr, /bootstrapped/);
      },
    ));
});
