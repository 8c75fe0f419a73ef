// The database file while the server runs (--file-locking). By default the server holds it for
// itself: another process that opens it gets "database is locked", and a second server on the same
// --db-path refuses to start, so nothing can write behind the replication log and the backup. With
// --file-locking shared, other processes may open it, and the server keeps SQLite's lock on it the
// whole time: a process that opens and closes the file cannot checkpoint and delete the WAL under the
// server (which closing any other descriptor of the file, as the start of a replication history or a
// backup's first snapshot once did, would allow: POSIX drops a process's locks on a file at the close
// of any descriptor of it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { BIN, startServer, tempDirMaker } from "./harness.mjs";

const tempDir = tempDirMaker("litehouse-locking-");

const dbFile = (server) => join(server.dir, "dbs", "default", "data");
const sqlite3 = (file, sql) => spawnSync("sqlite3", [file, sql], { encoding: "utf8", timeout: 30_000 });

// A server with a replication log and a backup: both read the database file at start.
async function serverWithBackup(args = []) {
  const replica = tempDir("litehouse-locking-backup-");
  const server = await startServer({ args: ["--backup-url", `file://${replica}`, ...args] });
  const client = createClient({ url: server.url });
  await client.execute("CREATE TABLE t(x INTEGER)");
  await client.execute("INSERT INTO t VALUES (1), (2), (3)");
  return { server, client };
}

test("by default another process cannot open the database file while the server runs", async () => {
  const { server, client } = await serverWithBackup();
  try {
    const r = sqlite3(dbFile(server), "SELECT count(*) FROM t");
    assert.notEqual(r.status, 0, `sqlite3 read the file: ${r.stdout}`);
    assert.match(r.stderr, /database is locked/);
    // The server goes on serving, reads and writes.
    await client.execute("INSERT INTO t VALUES (4)");
    assert.equal((await client.execute("SELECT count(*) AS n FROM t")).rows[0].n, 4);
    assert.ok(!existsSync(`${dbFile(server)}-shm`), "the WAL index lives in the server's memory");
  } finally {
    client.close();
    assert.equal(await server.stop({ keepDir: true }), 0);
  }
  // Once it has stopped, the file is anyone's, with every commit in it.
  const r = sqlite3(dbFile(server), "SELECT count(*) FROM t");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), "4");
  rmSync(server.dir, { recursive: true, force: true });
});

test("a second server on the same --db-path refuses to start, and the first goes on", async () => {
  const { server, client } = await serverWithBackup();
  try {
    const second = spawnSync(BIN, ["serve", "--db-path", server.dir, "--http-listen-addr", "127.0.0.1:0"], {
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(second.status, 1, second.stderr);
    assert.match(second.stderr, /another process has the database file open/);
    assert.match(second.stderr, /--file-locking exclusive/);
    await client.execute("INSERT INTO t VALUES (4)");
    assert.equal((await client.execute("SELECT count(*) AS n FROM t")).rows[0].n, 4);
    assert.doesNotMatch(server.stderr, /not closed cleanly|does not match the database/);
  } finally {
    client.close();
    assert.equal(await server.stop(), 0);
  }
});

test("--file-locking shared: another process reads the file, and its close leaves the server's WAL alone", async () => {
  const { server, client } = await serverWithBackup(["--file-locking", "shared"]);
  const file = dbFile(server);
  try {
    assert.ok(existsSync(`${file}-wal`));
    // sqlite3 reads, then closes: as the last connection it believes it is, it would checkpoint and
    // delete the WAL if the server had lost its lock on the file.
    const r = sqlite3(file, "SELECT count(*) FROM t");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "3");
    assert.ok(existsSync(`${file}-wal`), "the server's WAL is still there");
    await client.execute("INSERT INTO t VALUES (4)");
    const again = sqlite3(file, "SELECT count(*) FROM t");
    assert.equal(again.stdout.trim(), "4", again.stderr);
  } finally {
    client.close();
    assert.equal(await server.stop({ keepDir: true }), 0);
  }
  // Every commit is in the file after a restart, the one after the other process's read included.
  const restarted = await startServer({ dbPath: server.dir, args: ["--file-locking", "shared"] });
  const c2 = createClient({ url: restarted.url });
  try {
    assert.equal((await c2.execute("SELECT count(*) AS n FROM t")).rows[0].n, 4);
  } finally {
    c2.close();
    assert.equal(await restarted.stop(), 0);
    rmSync(server.dir, { recursive: true, force: true });
  }
});

test("--file-locking takes only exclusive or shared", () => {
  const r = spawnSync(BIN, ["serve", "--db-path", tempDir(), "--file-locking", "none"], { encoding: "utf8", timeout: 30_000 });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--file-locking/);
});
