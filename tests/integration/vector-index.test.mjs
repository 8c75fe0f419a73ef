// Vector indexes (issue #15, item 3) on the real server with @libsql/client over HTTP and WebSocket:
// CREATE INDEX ... libsql_vector_idx and vector_top_k joined on the table, kept current by INSERT,
// UPDATE and DELETE, undone by ROLLBACK; a read-only token queries but cannot create; a read replica
// answers the same query once it has caught up; errors in Hrana's shape with libSQL's messages; and
// files moved between libSQL (the `libsql` npm package, its own engine) and Litehouse both ways.
import { test, after, describe } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { createClient } from "@libsql/client";
import { BIN, startServer, refused, rng, tempDirMaker } from "./harness.mjs";
import { waitUntil } from "./raw-http.mjs";

const Database = createRequire(import.meta.url)("libsql");

const tempDir = tempDirMaker();

const randomVector = (rand, dims) => `[${Array.from({ length: dims }, () => (rand() * 2 - 1).toFixed(4)).join(",")}]`;

const ids = (rs) => rs.rows.map((r) => Number(r[0]));

// The nearest rows by exact search, for comparison.
async function exactTop(c, query, k) {
  return ids(await c.execute({ sql: "SELECT rowid FROM docs WHERE emb IS NOT NULL ORDER BY vector_distance_cos(emb, vector32(?)), rowid LIMIT ?", args: [query, k] }));
}

for (const [name, scheme] of [["http", "http"], ["ws", "ws"]]) {
  describe(`over ${name}`, () => {
    test("an index answers as exact search does, follows every write, and a rollback leaves it as it was", async () => {
      const server = await startServer();
      const c = createClient({ url: server.url.replace("http", scheme) });
      try {
        await c.execute("CREATE TABLE docs(title TEXT, emb F32_BLOB(8))");
        const rand = rng(11);
        const rows = Array.from({ length: 200 }, (_, i) => ({ sql: "INSERT INTO docs VALUES (?, vector32(?))", args: [`doc ${i + 1}`, randomVector(rand, 8)] }));
        await c.batch(rows.slice(0, 100), "write");
        await c.execute("CREATE INDEX docs_idx ON docs(libsql_vector_idx(emb, 'metric=cosine', 'max_neighbors=16'))");
        await c.batch(rows.slice(100), "write");
        for (let q = 0; q < 10; q++) {
          const query = randomVector(rand, 8);
          const rs = await c.execute({
            sql: "SELECT docs.rowid, title FROM vector_top_k('docs_idx', vector32(?), 10) JOIN docs ON docs.rowid = id",
            args: [query],
          });
          assert.equal(rs.rows.length, 10);
          assert.deepEqual(ids(rs), await exactTop(c, query, 10), "200 rows: the walk reaches every one");
          assert.equal(rs.rows[0].title, `doc ${rs.rows[0].rowid}`);
        }
        // UPDATE and DELETE.
        const target = randomVector(rand, 8);
        await c.execute({ sql: "UPDATE docs SET emb = vector32(?) WHERE rowid = 7", args: [target] });
        assert.deepEqual(ids(await c.execute({ sql: "SELECT id FROM vector_top_k('docs_idx', vector32(?), 1)", args: [target] })), [7]);
        await c.execute("DELETE FROM docs WHERE rowid = 7");
        const after = ids(await c.execute({ sql: "SELECT id FROM vector_top_k('docs_idx', vector32(?), 10)", args: [target] }));
        assert.ok(!after.includes(7), "a deleted row is never returned");
        assert.deepEqual(after, await exactTop(c, target, 10));
        // A transaction that rolls back: its rows were visible inside it, and are gone after.
        const tx = await c.transaction("write");
        await tx.execute({ sql: "INSERT INTO docs(rowid, title, emb) VALUES (1000, 'tmp', vector32(?))", args: [target] });
        assert.deepEqual(ids(await tx.execute({ sql: "SELECT id FROM vector_top_k('docs_idx', vector32(?), 1)", args: [target] })), [1000]);
        await tx.rollback();
        assert.deepEqual(ids(await c.execute({ sql: "SELECT id FROM vector_top_k('docs_idx', vector32(?), 10)", args: [target] })), after);
        assert.equal((await c.execute("PRAGMA integrity_check")).rows[0][0], "ok");
      } finally {
        c.close();
        await server.stop();
      }
    });

    test("errors come back in Hrana's error shape with libSQL's messages", async () => {
      const server = await startServer();
      const c = createClient({ url: server.url.replace("http", scheme) });
      try {
        await c.execute("CREATE TABLE t(a INTEGER, e FLOAT32(4))");
        await refused(c.execute("CREATE INDEX i ON t(libsql_vector_idx(a))"), "SQLITE_UNKNOWN", /SQLite error: vector index: unexpected vector column type: INTEGER$/);
        await refused(c.execute("CREATE INDEX i ON t(libsql_vector_idx(e, 'metric=unknown'))"), "SQLITE_UNKNOWN",
          /vector index: invalid vector index parameter 'metric=unknown': invalid parameter/);
        // SQLite's own prepare error, with its offset: sqld's SQL_INPUT_ERROR.
        await refused(c.execute("CREATE INDEX i ON t(libsql_vector_idx(nope))"), "SQL_INPUT_ERROR", /no such column: nope/);
        await c.execute("CREATE INDEX i ON t(libsql_vector_idx(e))");
        await refused(c.execute("INSERT INTO t VALUES (1, vector('[1]'))"), "SQLITE_UNKNOWN", /vector index\(insert\): dimensions are different: 1 != 4/);
        await refused(c.execute("SELECT * FROM vector_top_k('i', vector('[1,2]'), 2)"), "SQLITE_UNKNOWN",
          /vector index\(search\): dimensions are different: 2 != 4/);
        await refused(c.execute("SELECT * FROM vector_top_k('nope', vector('[1,2,3,4]'), 2)"), "SQLITE_UNKNOWN", /vector index\(search\): index not found/);
      } finally {
        c.close();
        await server.stop();
      }
    });
  });
}

test("a read-only token queries an index but cannot create or drop one", async () => {
  const keys = tempDir("litehouse-keys-");
  const cli = (args) => spawnSync(BIN, args, { encoding: "utf8", timeout: 10_000 });
  assert.equal(cli(["token", "keygen", "--dir", keys]).status, 0);
  const key = join(keys, "jwt_private.pem");
  const token = (ro) => cli(["token", "create", "--key", key, ...(ro ? ["--read-only"] : [])]).stdout.trim();
  const server = await startServer({ args: ["--auth-jwt-key-file", join(keys, "jwt_public.pem")] });
  const rw = createClient({ url: server.url, authToken: token(false) });
  const ro = createClient({ url: server.url.replace("http", "ws"), authToken: token(true) });
  try {
    await rw.execute("CREATE TABLE t(e F32_BLOB(2))");
    await rw.execute("INSERT INTO t VALUES (vector32('[1,0]')), (vector32('[0,1]'))");
    await rw.execute("CREATE INDEX i ON t(libsql_vector_idx(e))");
    assert.deepEqual(ids(await ro.execute("SELECT id FROM vector_top_k('i', vector32('[0.1,1]'), 2)")), [2, 1]);
    await assert.rejects(ro.execute("CREATE INDEX j ON t(libsql_vector_idx(e))"), (e) => e.code === "SQLITE_AUTH" || e.code === "SQLITE_READONLY");
    await assert.rejects(ro.execute("DROP INDEX i"), (e) => e.code === "SQLITE_AUTH" || e.code === "SQLITE_READONLY");
    await assert.rejects(ro.execute("INSERT INTO t VALUES (vector32('[1,1]'))"), (e) => e.code === "SQLITE_AUTH" || e.code === "SQLITE_READONLY");
    assert.equal((await rw.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'j'")).rows[0][0], 0);
  } finally {
    rw.close();
    ro.close();
    await server.stop();
  }
});

test("a read replica answers the same query once it has the primary's pages", async () => {
  const primary = await startServer();
  const replica = await startServer({ dbPath: tempDir("litehouse-replica-"), args: ["--primary-url", primary.url] });
  const p = createClient({ url: primary.url });
  const r = createClient({ url: replica.url.replace("http", "ws") });
  try {
    await p.execute("CREATE TABLE docs(emb F32_BLOB(4))");
    const rand = rng(5);
    await p.batch(Array.from({ length: 50 }, () => ({ sql: "INSERT INTO docs VALUES (vector32(?))", args: [randomVector(rand, 4)] })), "write");
    await p.execute("CREATE INDEX docs_idx ON docs(libsql_vector_idx(emb, 'metric=l2'))");
    await p.execute("DELETE FROM docs WHERE rowid % 5 = 0");
    const query = { sql: "SELECT id FROM vector_top_k('docs_idx', vector32('[0.1,0.2,0.3,0.4]'), 5)", args: [] };
    const expected = ids(await p.execute(query));
    assert.equal(expected.length, 5);
    let got = [];
    await waitUntil(async () => {
      try {
        got = ids(await r.execute(query));
      } catch {
        return false;
      }
      return JSON.stringify(got) === JSON.stringify(expected);
    }, "the replica answers as the primary");
    assert.deepEqual(got, expected);
  } finally {
    p.close();
    r.close();
    await replica.stop();
    await primary.stop();
  }
});

describe("moving files between libSQL and Litehouse", () => {
  test("a file libSQL wrote with a vector index: REINDEX builds it here, and integrity_check passes", async () => {
    const dir = tempDir("litehouse-from-libsql-");
    mkdirSync(join(dir, "dbs", "default"), { recursive: true });
    const file = join(dir, "dbs", "default", "data");
    const db = new Database(file);
    db.exec("CREATE TABLE docs(title TEXT, emb F32_BLOB(3))");
    db.exec("CREATE INDEX docs_idx ON docs(libsql_vector_idx(emb, 'metric=l2'))");
    const insert = db.prepare("INSERT INTO docs VALUES (?, vector32(?))");
    const rand = rng(3);
    for (let i = 0; i < 40; i++) insert.run([`d${i + 1}`, randomVector(rand, 3)]);
    const query = "SELECT id FROM vector_top_k('docs_idx', vector32('[0.5,-0.5,0.25]'), 5)";
    const libsqlTop = db.prepare(query).raw().all().map((r) => Number(r[0]));
    db.close();
    const server = await startServer({ dbPath: dir });
    const c = createClient({ url: server.url });
    try {
      await c.execute("REINDEX docs_idx");
      assert.deepEqual(ids(await c.execute(query)), libsqlTop, "the same 5 nearest rows as libSQL's index");
      assert.equal((await c.execute("PRAGMA integrity_check")).rows[0][0], "ok");
      await c.execute({ sql: "INSERT INTO docs VALUES ('new', vector32('[0.5,-0.5,0.25]'))", args: [] });
      assert.equal(ids(await c.execute(query))[0], 41);
    } finally {
      c.close();
      assert.equal(await server.stop({ keepDir: true }), 0);
    }
    // The shell, on the file itself: the index answers, follows a write, and REINDEX works there.
    const script = `${query};\nINSERT INTO docs VALUES ('shell', vector32('[0.5,-0.5,0.26]'));\n${query.replace(", 5)", ", 1)")};\nREINDEX docs_idx;\n${query.replace(", 5)", ", 2)")};\nPRAGMA integrity_check;\n`;
    const r = spawnSync(BIN, ["shell", file], { input: script, encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.deepEqual(lines.slice(0, 5).map(Number), [41, ...libsqlTop.slice(0, 4)], "the server's answer, in the shell");
    assert.deepEqual(lines.slice(5), ["41", "41", "42", "ok"]);
  });

  test("a Litehouse database goes to libSQL through its dump, and libSQL's index answers the same", async () => {
    const server = await startServer();
    const c = createClient({ url: server.url });
    const rand = rng(9);
    const query = "SELECT id FROM vector_top_k('docs_idx', vector32('[0.1,0.2,-0.3]'), 5)";
    let dump, ours;
    try {
      await c.execute("CREATE TABLE docs(id INTEGER PRIMARY KEY, emb F32_BLOB(3))");
      await c.batch(Array.from({ length: 40 }, (_, i) => ({ sql: "INSERT INTO docs VALUES (?, vector32(?))", args: [i + 1, randomVector(rand, 3)] })), "write");
      await c.execute("CREATE INDEX docs_idx ON docs(libsql_vector_idx(emb))");
      ours = ids(await c.execute(query));
      dump = await (await fetch(`${server.url}/dump`)).text();
    } finally {
      c.close();
      await server.stop();
    }
    assert.doesNotMatch(dump, /lh_graph|litehouse_vector_index|lh_insert/, "the index's own tables and triggers stay out of the dump");
    const db = new Database(":memory:");
    db.exec(dump);
    assert.deepEqual(db.prepare(query).raw().all().map((r) => Number(r[0])), ours);
    assert.equal(db.prepare("PRAGMA integrity_check").raw().get()[0], "ok");
    db.close();
  });
});
