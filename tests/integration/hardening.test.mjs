// The SQL surface every client gets, whatever its token: nothing reaches a file outside the database,
// nothing changes the engine's configuration, and limits refuse with clear errors, through the real
// @libsql/client, without hurting other clients.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { BIN, startServer, postJson, refused } from "./harness.mjs";

let server;
let db;

before(async () => {
  server = await startServer({
    args: ["--query-timeout-ms", "500", "--max-response-size", "64KB", "--max-sql-length", "8KB", "--max-streams", "20",
           "--max-streams-per-client", "100"],  // this file tests the server-wide bound
  });
  db = createClient({ url: server.url });
  await db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)");
});

after(async () => {
  db.close();
  assert.ok(server.alive());
  assert.equal(await server.stop(), 0);
});

test("ATTACH and VACUUM INTO cannot reach files outside the database", async () => {
  const outside = join(server.dir, "outside.db");
  await refused(db.execute(`ATTACH '${outside}' AS o`), "SQLITE_AUTH", /outside the database/);
  await refused(db.execute(`VACUUM INTO '${outside}'`), "SQLITE_AUTH", /outside the database/);
  await refused(db.execute("ATTACH ':memory:' AS m"), "SQLITE_AUTH");
  assert.equal(existsSync(outside), false, "no file was created");
  await db.execute("VACUUM");  // plain VACUUM stays a normal write
});

test("load_extension, sqlite_dbpage and temporary objects are refused", async () => {
  await refused(db.execute("SELECT load_extension('/lib/x86_64-linux-gnu/libm.so.6')"), "SQLITE_UNKNOWN", /not authorized/);
  await refused(db.execute("SELECT * FROM sqlite_dbpage"), "SQLITE_AUTH", /reserved to the server/);
  await refused(db.execute("CREATE TEMP TABLE tt(x)"), "SQLITE_AUTH", /temporary/);
});

test("FTS5 and R*Tree shadow tables are written only through their virtual table (DEFENSIVE)", async () => {
  await db.batch([
    "CREATE VIRTUAL TABLE docs USING fts5(title, body)",
    "INSERT INTO docs(rowid, title, body) VALUES (1, 'first', 'hello world'), (2, 'second', 'goodbye world')",
    "CREATE VIRTUAL TABLE boxes USING rtree(id, x0, x1, y0, y1)",
    "INSERT INTO boxes VALUES (1, 0, 10, 0, 10), (2, 20, 30, 20, 30)",
  ], "write");
  const before = await db.execute("SELECT id, block FROM docs_data ORDER BY id");
  // Every kind of write into every shadow table is refused, with SQLite's own message (SQLITE_ERROR,
  // which Hrana names SQLITE_UNKNOWN, as sqld does).
  for (const sql of [
    "INSERT INTO docs_data VALUES (999, X'00')",
    "UPDATE docs_data SET block = X'00' WHERE id = 10",
    "DELETE FROM docs_data",
    "INSERT INTO docs_content VALUES (3, 'forged', 'row')",
    "UPDATE docs_content SET c1 = 'forged'",
    "DELETE FROM docs_content",
    "INSERT INTO docs_config VALUES ('pgsz', 64)",
    "UPDATE docs_config SET v = 99",
    "DELETE FROM docs_config",
    "DELETE FROM docs_idx",
    "DELETE FROM docs_docsize",
    "INSERT INTO boxes_node VALUES (2, X'00')",
    "UPDATE boxes_node SET data = X'00'",
    "DELETE FROM boxes_rowid",
    "DELETE FROM boxes_parent",
  ]) {
    const table = sql.match(/(?:INTO|UPDATE|FROM) (\w+)/)[1];
    await refused(db.execute(sql), "SQLITE_UNKNOWN", new RegExp(`table ${table} may not be modified`));
  }
  await refused(db.execute("DROP TABLE docs_data"), "SQLITE_UNKNOWN", /may not be dropped/);
  await refused(db.execute("CREATE TABLE IF NOT EXISTS boxes_node(nodeno INTEGER PRIMARY KEY, data)"), "SQLITE_UNKNOWN", /reserved for internal use/);
  // Nothing changed, and reading them is fine.
  assert.deepEqual((await db.execute("SELECT id, block FROM docs_data ORDER BY id")).rows, before.rows);
  // The virtual tables themselves work as ever: writes, queries, FTS5's own commands.
  await db.execute("INSERT INTO docs(rowid, title, body) VALUES (3, 'third', 'hello again')");
  await db.execute("UPDATE docs SET body = 'farewell world' WHERE rowid = 2");
  await db.execute("DELETE FROM docs WHERE rowid = 1");
  const hits = await db.execute("SELECT rowid FROM docs WHERE docs MATCH 'hello OR farewell' ORDER BY rowid");
  assert.deepEqual(hits.rows.map((r) => r[0]), [2, 3]);
  await db.execute("INSERT INTO docs(docs, rank) VALUES ('pgsz', 4000)");
  await db.execute("INSERT INTO docs(docs) VALUES ('optimize')");
  await db.execute("INSERT INTO docs(docs) VALUES ('integrity-check')");
  await db.execute("UPDATE boxes SET x1 = 15 WHERE id = 1");
  const inside = await db.execute("SELECT id FROM boxes WHERE x0 <= 12 AND x1 >= 12 ORDER BY id");
  assert.deepEqual(inside.rows.map((r) => r[0]), [1]);
  // On the writer: a pooled reader's PRAGMA integrity_check judges FTS5 by the structure it cached at
  // its last query (SQLite's xIntegrity does not re-read it), and reports a mismatch that is not there.
  assert.equal((await db.batch(["PRAGMA integrity_check"], "write"))[0].rows[0][0], "ok");
  // Another client is served as before.
  const other = createClient({ url: server.url });
  assert.equal((await other.execute("SELECT count(*) FROM docs")).rows[0][0], 2);
  other.close();
});

test("a local file (litehouse shell FILE) refuses shadow-table writes too", () => {
  const dir = mkdtempSync(join(tmpdir(), "litehouse-hardening-"));
  try {
    const file = join(dir, "local.db");
    const shell = (input) => spawnSync(BIN, ["shell", file], { input, encoding: "utf8", timeout: 30_000 });
    const made = shell("CREATE VIRTUAL TABLE docs USING fts5(body);\nINSERT INTO docs VALUES ('kept');\n");
    assert.equal(made.status, 0, made.stderr);
    const forged = shell("INSERT INTO docs_content VALUES (9, 'forged');\n");
    assert.equal(forged.status, 1);
    assert.match(forged.stderr, /line 1: .*table docs_content may not be modified/);
    const read = shell("SELECT body FROM docs WHERE docs MATCH 'kept';\nSELECT count(*) FROM docs_content;\n");
    assert.equal(read.status, 0, read.stderr);
    assert.equal(read.stdout, "kept\n1\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("engine pragmas cannot be set; per-statement ones can, and do not leak to the next request", async () => {
  await refused(db.execute("PRAGMA journal_mode=DELETE"), "SQLITE_AUTH", /cannot be set/);
  await refused(db.execute("PRAGMA synchronous=OFF"), "SQLITE_AUTH");
  await refused(db.execute("PRAGMA wal_checkpoint(TRUNCATE)"), "SQLITE_AUTH", /checkpoints/);
  await refused(db.execute("PRAGMA query_only=0"), "SQLITE_AUTH");
  assert.equal((await db.execute("PRAGMA journal_mode")).rows[0][0], "wal");
  await db.batch(["PRAGMA foreign_keys=OFF", "SELECT 1"], "write");
  assert.equal((await db.execute("PRAGMA foreign_keys")).rows[0][0], 1, "the default is back");
});

test("a per-connection pragma lasts as long as its stream, across requests, and no longer (as on sqld)", async () => {
  await db.batch(["CREATE TABLE fk_parent(id INTEGER PRIMARY KEY)", "CREATE TABLE fk_child(p REFERENCES fk_parent(id))"], "write");
  const exec = (sql) => ({ type: "execute", stmt: { sql } });
  const first = await postJson(server, "/v2/pipeline", { baton: null, requests: [exec("PRAGMA foreign_keys=OFF")] });
  assert.equal(first.status, 200, first.text);
  assert.equal(first.body.results[0].type, "ok");
  // A later request of the same stream runs on whatever connection the server hands it, with the
  // stream's setting replayed: the orphan row goes in.
  const second = await postJson(server, "/v2/pipeline", {
    baton: first.body.baton,
    requests: [exec("INSERT INTO fk_child VALUES (42)"), exec("PRAGMA foreign_keys"), { type: "close" }],
  });
  assert.equal(second.status, 200, second.text);
  assert.equal(second.body.results[0].type, "ok", JSON.stringify(second.body.results[0]));
  assert.equal(second.body.results[1].response.result.rows[0][0].value, "0");
  // Another stream has the default: the same insert is refused.
  await refused(db.execute("INSERT INTO fk_child VALUES (43)"), "SQLITE_CONSTRAINT", /FOREIGN KEY/);
  assert.equal((await db.execute("PRAGMA foreign_keys")).rows[0][0], 1);
});

test("SQL longer than --max-sql-length is refused", async () => {
  await refused(db.execute(`SELECT '${"x".repeat(9000)}'`), "SQLITE_TOOBIG", /too long/);
});

test("a response larger than --max-response-size is refused; a smaller one passes", async () => {
  await db.execute("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c WHERE n < 200) INSERT INTO t(body) SELECT printf('%.1000c', 'x') FROM c");
  await refused(db.execute("SELECT body FROM t"), "RESPONSE_TOO_LARGE", /too large/);
  const some = await db.execute("SELECT body FROM t LIMIT 20");
  assert.equal(some.rows.length, 20);
});

test("a runaway query is interrupted while other clients carry on", async () => {
  const other = createClient({ url: server.url });
  const runaway = db.execute("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c) SELECT count(*) FROM c");
  // While it runs, another client is served.
  assert.equal((await other.execute("SELECT 40 + 2")).rows[0][0], 42);
  await refused(runaway, "SQLITE_INTERRUPT", /longer than the limit of 500 ms/);
  assert.equal((await db.execute("SELECT 1")).rows[0][0], 1, "the same client goes on");
  other.close();
});

test("streams beyond --max-streams are refused until others close", async () => {
  const batons = [];
  for (let i = 0; i < 20; i++) {
    const r = await postJson(server, "/v2/pipeline", { requests: [{ type: "execute", stmt: { sql: "SELECT 1" } }] });
    if (r.status !== 200) break;
    batons.push(r.body.baton);
  }
  assert.equal(batons.length, 20);
  const full = await postJson(server, "/v2/pipeline", { requests: [{ type: "execute", stmt: { sql: "SELECT 1" } }] });
  assert.equal(full.status, 503);
  assert.equal(full.body.code, "STREAMS_EXHAUSTED");
  for (const baton of batons) {
    const r = await postJson(server, "/v2/pipeline", { baton, requests: [{ type: "close" }] });
    assert.equal(r.status, 200);
  }
  assert.equal((await db.execute("SELECT 7")).rows[0][0], 7, "a stream is available again");
});
