// The SQL surface every client gets, whatever its token: nothing reaches a file outside the database,
// nothing changes the engine's configuration, and limits refuse with clear errors, through the real
// @libsql/client, without hurting other clients.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createClient, LibsqlError } from "@libsql/client";
import { startServer, postJson } from "./harness.mjs";

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

async function refused(promise, code, pattern) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof LibsqlError, `${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

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
