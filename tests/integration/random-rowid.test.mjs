// libSQL's RANDOM ROWID (issue #15, item 4): stock SQLite cannot parse a schema that holds it, so
// Litehouse refuses it, clearly, wherever it is met: CREATE TABLE over HTTP and WebSocket and in
// the shell; a file written by the real libSQL (npm `libsql`, local mode) that holds such a table,
// opened by `serve`, `shell` and `dump`; and a backup of such a file, restored. Every error names
// the table and the feature, never a bare parse error.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { startServer, BIN, tempDirMaker } from "./harness.mjs";

const require = createRequire(import.meta.url);
const Database = require("libsql");
const lz4 = require("lz4js");

const tempDir = tempDirMaker("litehouse-rr-");
const NAMED = /table "events" uses libSQL's RANDOM ROWID, which Litehouse does not support/;

// A database file written by libSQL itself, with one RANDOM ROWID table among ordinary ones.
function libsqlFile(dir) {
  const path = join(dir, "libsql.db");
  const db = new Database(path);
  db.exec("CREATE TABLE plain(x); INSERT INTO plain VALUES (1);");
  db.exec("CREATE TABLE events(id INTEGER, v TEXT) RANDOM ROWID; INSERT INTO events(v) VALUES ('a');");
  const rowid = db.prepare("SELECT rowid FROM events").get().rowid;
  assert.ok(rowid !== 1, "libSQL drew a random rowid");
  db.close();
  return path;
}

test("CREATE TABLE ... RANDOM ROWID is refused over HTTP and WebSocket, naming the table; nothing is created; other table options work", async () => {
  const server = await startServer();
  try {
    for (const url of [server.url, server.url.replace("http:", "ws:")]) {
      const c = createClient({ url });
      for (const sql of [
        "CREATE TABLE events(id INTEGER, v TEXT) RANDOM ROWID",
        "create table if not exists main.\"events\" (id, v) random rowid;",
        "CREATE TABLE events(id INTEGER, v TEXT) /* libSQL */ RANDOM   ROWID",
      ]) {
        await assert.rejects(c.execute(sql), (e) => NAMED.test(e.message), sql);
      }
      await assert.rejects(c.batch(["CREATE TABLE other(x)", "CREATE TABLE events(id) RANDOM ROWID"], "write"), (e) => NAMED.test(e.message));
      assert.equal((await c.execute("SELECT count(*) AS n FROM sqlite_schema WHERE name IN ('events', 'other')")).rows[0].n, 0);
      // Not confused with what SQLite has, or with names that look like it.
      await c.execute("CREATE TABLE IF NOT EXISTS wr(id INTEGER PRIMARY KEY, v) WITHOUT ROWID");
      await c.execute("CREATE TABLE IF NOT EXISTS random(rowid_copy, \"RANDOM ROWID\")");
      await c.execute("CREATE TABLE IF NOT EXISTS s(x INTEGER) STRICT");
      c.close();
    }
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

test("a file written by libSQL with a RANDOM ROWID table: serve, shell and dump refuse it, naming the table", () => {
  const dir = tempDir();
  const file = libsqlFile(dir);
  const data = join(dir, "served");
  mkdirSync(join(data, "dbs", "default"), { recursive: true });
  writeFileSync(join(data, "dbs", "default", "data"), readFileSync(file));
  const serve = spawnSync(BIN, ["serve", "--db-path", data, "--http-listen-addr", "127.0.0.1:0"], { encoding: "utf8", timeout: 20_000 });
  assert.equal(serve.status, 1, serve.stderr);
  assert.match(serve.stderr, NAMED);
  const shell = spawnSync(BIN, ["shell", file], { input: "SELECT * FROM plain;\n", encoding: "utf8", timeout: 20_000 });
  assert.notEqual(shell.status, 0);
  assert.match(shell.stderr, NAMED);
  const dump = spawnSync(BIN, ["dump", file], { encoding: "utf8", timeout: 20_000 });
  assert.notEqual(dump.status, 0);
  assert.match(dump.stderr, NAMED);
  // The file is left as it was: libSQL still opens it.
  const db = new Database(file);
  assert.equal(db.prepare("SELECT count(*) AS n FROM events").get().n, 1);
  db.close();
});

test("a backup of such a file does not restore: the error names the table, and no output is left", () => {
  const dir = tempDir();
  const file = libsqlFile(dir);
  const replica = join(dir, "replica");
  const snapshots = join(replica, "generations", "0123456789abcdef", "snapshots");
  mkdirSync(snapshots, { recursive: true });
  writeFileSync(join(snapshots, "00000000.snapshot.lz4"), Buffer.from(lz4.compress(readFileSync(file))));
  const out = join(dir, "restored.db");
  const r = spawnSync(BIN, ["restore", "-o", out, `file://${replica}`], { encoding: "utf8", timeout: 20_000 });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, NAMED);
  assert.ok(!existsSync(out) && !existsSync(`${out}.tmp`), "nothing half-restored");
});

test("a dump holding a RANDOM ROWID table, loaded with the shell, stops at that table with the reason", async () => {
  const server = await startServer();
  try {
    const dump = "CREATE TABLE plain(x);\nINSERT INTO plain VALUES(1);\nCREATE TABLE events(id INTEGER, v TEXT) RANDOM ROWID;\nINSERT INTO events VALUES(1, 'a');\n";
    const r = spawnSync(BIN, ["shell", server.url], { input: dump, encoding: "utf8", timeout: 20_000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, NAMED);
    assert.match(r.stderr, /line 3/);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});
