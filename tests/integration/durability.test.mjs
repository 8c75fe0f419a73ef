// --durability strong: every acknowledged commit is synced, and concurrent autocommit writes of many
// clients share one transaction and one sync (group commit). --durability relaxed (the default): the
// autocommit writes that the network thread reads in one turn of its event loop share one transaction
// too (no sync to share; each page is written once per group, not once per write). Each write keeps
// its own outcome: the engine's unit tests count the syncs and WAL writes per group
// (tests/unit/session_test.cc, on a VFS that counts them); here the real clients check, in both modes,
// that nothing is lost or mixed up between the members of a group, over HTTP and WebSocket, and that
// the writes a group cannot hold run alone.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createClient } from "@libsql/client";
import * as hrana from "@libsql/hrana-client";
import { BIN, startServer } from "./harness.mjs";

let server;
const clients = [];
const client = (scheme = "http") => {
  const c = createClient({ url: scheme === "http" ? server.url : `ws://127.0.0.1:${server.port}` });
  clients.push(c);
  return c;
};

const setUp = (durability) => async () => {
  server = await startServer({ args: ["--durability", durability, "--log-level", "debug"] });
  const c = client();
  await c.batch([
    "CREATE TABLE t(id INTEGER PRIMARY KEY, who TEXT, n INTEGER, UNIQUE(who, n))",
    "CREATE TABLE parent(id INTEGER PRIMARY KEY)",
    "CREATE TABLE child(pid REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)",
    "CREATE TABLE strict_child(pid REFERENCES parent(id))",
    "INSERT INTO parent VALUES (1)",
  ]);
};

const tearDown = async () => {
  for (const c of clients.splice(0)) c.close();
  assert.equal(await server.stop(), 0);
};
// Groups of more than one write the server committed so far (its debug log).
const groups = () => server.stderr.split("\n").filter((l) => /committed a group of [2-9]|committed a group of \d\d/.test(l)).length;

test("an unknown --durability is refused", () => {
  const r = spawnSync(BIN, ["serve", "--durability", "sometimes", "--http-listen-addr", "127.0.0.1:0"], { encoding: "utf8" });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /durability/);
});

for (const durability of ["strong", "relaxed"]) {
  describe(`--durability ${durability}`, () => {
    before(setUp(durability));
    after(tearDown);

    test("many clients' concurrent writes are all acknowledged, each with its own rowid, and all kept", async () => {
      const before = groups();
      const writers = [...Array.from({ length: 12 }, () => client("http")), ...Array.from({ length: 12 }, () => client("ws"))];
      const perWriter = 15;
      const acks = [];
      await Promise.all(
        writers.map(async (c, w) => {
          for (let n = 0; n < perWriter; n++) {
            const rs = await c.execute({ sql: "INSERT INTO t(who, n) VALUES (?, ?)", args: [`w${w}`, n] });
            assert.equal(rs.rowsAffected, 1);
            acks.push(Number(rs.lastInsertRowid));
          }
        }),
      );
      assert.equal(new Set(acks).size, writers.length * perWriter, "every acknowledged write has its own rowid");
      const check = client();
      const rows = (await check.execute("SELECT id FROM t WHERE who LIKE 'w%'")).rows.map((r) => Number(r.id));
      assert.deepEqual(rows.sort((a, b) => a - b), acks.sort((a, b) => a - b), "exactly the acknowledged rows are there");
      assert.ok(groups() > before, "some of the writes were committed in groups");
    });

    test("in a group, a failing write fails alone: a UNIQUE conflict, a deferred foreign key, OR ROLLBACK", async () => {
      const c = client();
      await c.execute("INSERT INTO t(who, n) VALUES ('dup', 1)");
      const writers = Array.from({ length: 8 }, () => client("ws"));
      const outcomes = await Promise.all(
        writers.map((w, i) => {
          const sql = [
            `INSERT INTO t(who, n) VALUES ('ok', ${i})`,
            "INSERT INTO t(who, n) VALUES ('dup', 1)",
            "INSERT INTO child VALUES (99)",
            "INSERT OR ROLLBACK INTO t(who, n) VALUES ('dup', 1)",
          ][i % 4];
          return w.execute(sql).then(
            () => "ok",
            (e) => e.code,
          );
        }),
      );
      assert.deepEqual(outcomes, ["ok", "SQLITE_CONSTRAINT", "SQLITE_CONSTRAINT", "SQLITE_CONSTRAINT", "ok", "SQLITE_CONSTRAINT", "SQLITE_CONSTRAINT", "SQLITE_CONSTRAINT"]);
      const ok = (await c.execute("SELECT n FROM t WHERE who = 'ok' ORDER BY n")).rows.map((r) => Number(r.n));
      assert.deepEqual(ok, [0, 4], "the writes that succeeded are kept, whatever their neighbours did");
      assert.equal(Number((await c.execute("SELECT count(*) AS k FROM child WHERE pid = 99")).rows[0].k), 0);
    });

    test("a stream with its own settings, and VACUUM, run alone beside grouped writes", async () => {
      const h = hrana.openWs(`ws://127.0.0.1:${server.port}`, undefined, 3);
      try {
        const s = h.openStream();
        await s.run("PRAGMA foreign_keys = OFF");
        const others = Array.from({ length: 6 }, (_, i) => client(i % 2 ? "ws" : "http"));
        const results = await Promise.all([
          s.run("INSERT INTO strict_child VALUES (12345)"),  // allowed: this stream turned foreign keys off
          client().execute("INSERT INTO strict_child VALUES (54321)").then(
            () => "ok",
            (e) => e.code,
          ),
          client().execute("VACUUM").then(() => "vacuumed"),
          ...others.map((c, i) => c.execute(`INSERT INTO t(who, n) VALUES ('beside', ${i})`).then(() => "ok")),
        ]);
        assert.equal(results[1], "SQLITE_CONSTRAINT", "other streams keep foreign keys on");
        assert.equal(results[2], "vacuumed");
        assert.deepEqual(results.slice(3), others.map(() => "ok"));
        assert.equal((await s.queryValue("SELECT count(*) FROM strict_child WHERE pid = 12345")).value, 1);
        assert.equal((await s.queryValue("SELECT count(*) FROM t WHERE who = 'beside'")).value, others.length);
        s.close();
      } finally {
        h.close();
      }
    });

    test("a BEGIN after an empty statement (; BEGIN IMMEDIATE) opens the stream's own transaction, never a group's", async () => {
      const h = hrana.openWs(`ws://127.0.0.1:${server.port}`, undefined, 3);
      try {
        await h.getVersion();
        const s = h.openStream();
        const beside = Array.from({ length: 4 }, () => client());
        // Sent together, so that the BEGIN may land in a turn with other writes; they wait for its
        // transaction to end.
        const begun = s.run("; BEGIN IMMEDIATE");
        const others = Promise.all(beside.map((c, i) => c.execute(`INSERT INTO t(who, n) VALUES ('next to begin', ${i})`)));
        await begun;
        assert.equal(await s.getAutocommit(), false, "the transaction is the stream's");
        await s.run("INSERT INTO t(who, n) VALUES ('undone', 1)");
        await s.run("ROLLBACK");
        await others;
        assert.equal((await s.queryValue("SELECT count(*) FROM t WHERE who = 'undone'")).value, 0, "its ROLLBACK undid its write");
        assert.equal((await s.queryValue("SELECT count(*) FROM t WHERE who = 'next to begin'")).value, beside.length);
        s.close();
      } finally {
        h.close();
      }
    });

    test("explicit transactions still work beside the groups", async () => {
      const a = client("ws");
      const tx = await a.transaction("write");
      await tx.execute("INSERT INTO t(who, n) VALUES ('tx', 1)");
      const grouped = Promise.all(Array.from({ length: 4 }, (_, i) => client().execute(`INSERT INTO t(who, n) VALUES ('after', ${i})`)));
      await tx.execute("INSERT INTO t(who, n) VALUES ('tx', 2)");
      await tx.commit();
      await grouped;
      const c = client();
      assert.equal(Number((await c.execute("SELECT count(*) AS k FROM t WHERE who IN ('tx', 'after')")).rows[0].k), 6);
    });
  });
}
