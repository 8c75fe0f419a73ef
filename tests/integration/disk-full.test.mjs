// A full disk (issue #14, item 6): the database's disk, then the backup's. The fault is injected
// into the real server by an LD_PRELOAD library (tests/support/disk_full_preload.c): while
// DIR/.disk-full exists, every write under DIR fails with ENOSPC, as on a full disk. The test
// fills and frees the disk by creating and removing that file.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createClient } from "@libsql/client";
import { startServer, BIN, backupStatus, tempDirMaker } from "./harness.mjs";
import { waitUntil } from "./raw-http.mjs";

const PRELOAD = join(dirname(BIN), "libdisk_full_preload.so");
const tempDir = tempDirMaker("litehouse-full-");
const sqlite = (db, sql) => {
  const r = spawnSync("sqlite3", [db, sql], { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
};
const STATE = "SELECT count(*) || ':' || coalesce(sum(x), 0) FROM t";
const restore = (url) => {
  const out = join(tempDir("litehouse-restored-"), "r.db");
  const r = spawnSync(BIN, ["restore", "-o", out, url], { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(sqlite(out, "PRAGMA integrity_check"), "ok");
  return sqlite(out, STATE);
};
const fill = (dir) => writeFileSync(join(dir, ".disk-full"), "");
const free = (dir) => unlinkSync(join(dir, ".disk-full"));

test("the preload library is built beside the binary", () => {
  assert.ok(existsSync(PRELOAD), PRELOAD);
});

test("the database's disk fills up: writes fail with SQLITE_FULL over both transports, reads go on, nothing acknowledged is lost, and writes work again once there is room", async () => {
  const dataDir = tempDir();
  const replica = tempDir("litehouse-full-replica-");
  const server = await startServer({
    dbPath: dataDir,
    args: ["--backup-url", `file://${replica}`, "--backup-interval", "50ms"],
    env: { LD_PRELOAD: PRELOAD, DISK_FULL_DIR: dataDir },
  });
  const http = createClient({ url: server.url });
  const ws = createClient({ url: server.url.replace("http:", "ws:") });
  try {
    await http.execute("CREATE TABLE t(x INTEGER PRIMARY KEY, y BLOB)");
    await http.execute("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 200) INSERT INTO t SELECT n, randomblob(3000) FROM c");
    fill(dataDir);
    for (const [name, client] of [["http", http], ["ws", ws]]) {
      await assert.rejects(
        client.execute("WITH RECURSIVE c(n) AS (SELECT 1000 UNION ALL SELECT n + 1 FROM c WHERE n < 1200) INSERT INTO t SELECT n, randomblob(3000) FROM c"),
        (e) => e.code === "SQLITE_FULL" && /full/i.test(e.message),
        `${name}: a write fails as a full disk fails`,
      );
      // In an interactive transaction the pages reach the disk at the commit (or when the cache
      // spills): one of the two fails, and the transaction leaves nothing behind.
      const tx = await client.transaction("write");
      let failed;
      try {
        await tx.execute("WITH RECURSIVE c(n) AS (SELECT 2000 UNION ALL SELECT n + 1 FROM c WHERE n < 2200) INSERT INTO t SELECT n, randomblob(3000) FROM c");
        await tx.commit();
      } catch (e) {
        failed = e;
      }
      tx.close();
      assert.equal(failed?.code, "SQLITE_FULL", `${name}: ${failed}`);
      assert.equal((await client.execute("SELECT count(*) AS n, sum(x) AS s FROM t")).rows[0].n, 200, `${name}: reads go on`);
    }
    const health = await fetch(`${server.url}/health`);
    assert.equal(health.status, 200);
    free(dataDir);
    await http.execute("WITH RECURSIVE c(n) AS (SELECT 201 UNION ALL SELECT n + 1 FROM c WHERE n < 300) INSERT INTO t SELECT n, randomblob(3000) FROM c");
    await ws.execute("INSERT INTO t VALUES (301, x'01')");
    assert.equal((await http.execute("SELECT count(*) AS n FROM t")).rows[0].n, 301);
    await waitUntil(async () => (await backupStatus(server))[0].lag_transactions === 0, "the backup catches up", 20_000);
  } finally {
    http.close();
    ws.close();
    assert.equal(await server.stop({ keepDir: true }), 0, server.stderr);
  }
  const primary = sqlite(join(dataDir, "dbs", "default", "data"), STATE);
  assert.equal(primary, `301:${(300 * 301) / 2 + 301}`);
  assert.equal(sqlite(join(dataDir, "dbs", "default", "data"), "PRAGMA integrity_check"), "ok");
  assert.equal(restore(`file://${replica}`), primary, "the backup has every transaction: continuity held");
});

test("the backup's disk fills up: the database serves on, the status says the backup lags and why, and once there is room the backlog is shipped", async () => {
  const replica = tempDir("litehouse-full-replica-");
  const server = await startServer({
    args: ["--backup-url", `file://${replica}`, "--backup-interval", "50ms"],
    env: { LD_PRELOAD: PRELOAD, DISK_FULL_DIR: replica },
  });
  const client = createClient({ url: server.url });
  const status = async () => (await backupStatus(server))[0];
  try {
    await client.execute("CREATE TABLE t(x INTEGER PRIMARY KEY, y BLOB)");
    await waitUntil(async () => (await status()).lag_transactions === 0, "the first write is shipped", 20_000);
    fill(replica);
    for (let i = 1; i <= 20; i++) await client.execute({ sql: "INSERT INTO t VALUES (?, randomblob(100))", args: [i] });
    await waitUntil(async () => !(await status()).ok, "the failure is seen", 20_000);
    const s = await status();
    assert.equal(s.lag_transactions, 20);
    assert.equal(s.lagging, true);
    assert.match(s.last_error, /No space left on device/);
    await waitUntil(() => /backup upload of .* failed.*No space left on device/.test(server.stderr), "the failure is logged", 20_000);
    assert.equal((await client.execute("SELECT count(*) AS n FROM t")).rows[0].n, 20, "the database serves on");
    free(replica);
    await waitUntil(async () => (await status()).lag_transactions === 0, "the backlog is shipped", 20_000);
    assert.equal((await status()).ok, true);
  } finally {
    client.close();
    assert.equal(await server.stop({ keepDir: true }), 0, server.stderr);
  }
  const primary = sqlite(join(server.dir, "dbs", "default", "data"), STATE);
  assert.equal(primary, `20:210`);
  assert.equal(restore(`file://${replica}`), primary);
  rmSync(server.dir, { recursive: true, force: true });
});
