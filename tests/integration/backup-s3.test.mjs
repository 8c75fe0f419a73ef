// Backup to S3 (issue #14) against a local S3 server (npm s3rver): our backup restored by
// `litehouse restore`, Litestream 0.3.13's own S3 backup restored by `litehouse restore`, and the
// refusals of bad credentials. `litestream restore` reads our S3 backups too, through a proxy that
// answers s3rver's listings with a delimiter as S3 does (s3rver leaves out the common prefixes of
// nested keys, so Litestream alone would find no generation there).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import net from "node:net";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import S3rver from "s3rver";
import { createClient } from "@libsql/client";
import { startServer, BIN, backupStatus } from "./harness.mjs";
import { s3ListingProxy } from "./s3-listing-proxy.mjs";
import { waitUntil } from "./raw-http.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const LITESTREAM = resolve(here, "node_modules/@flydotio/litestream-linux-x64/litestream");
const KEYS = { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" };
const tempDirs = [];
const tempDir = (prefix = "litehouse-s3-") => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
};
let s3, endpoint, s3port, s3dir;
const startS3 = async (port = 0) => {
  // serviceEndpoint "localhost": s3rver takes the bucket from a Host of BUCKET.s3.localhost (virtual-hosted).
  s3 = new S3rver({ port, address: "127.0.0.1", silent: true, directory: s3dir, serviceEndpoint: "localhost", configureBuckets: [{ name: "backups" }] });
  ({ port: s3port } = await s3.run());
  endpoint = `127.0.0.1:${s3port}`;
};
before(async () => {
  s3dir = tempDir("litehouse-s3rver-");
  await startS3();
});
after(async () => {
  await s3?.close();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

// Asynchronous: s3rver runs in this process, so a synchronous spawn would keep it from answering.
const run = (cmd, args, env = {}) =>
  new Promise((resolvePromise) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("exit", (status) => {
      clearTimeout(timer);
      resolvePromise({ status, stdout, stderr });
    });
  });
const sqlite = (db, sql) => {
  const r = spawnSync("sqlite3", [db, sql], { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
};
const STATE = "SELECT count(*) || ':' || coalesce(sum(x), 0) || ':' || coalesce(hex(sha3(group_concat(hex(y), ','))), '') FROM t";
const restore = async (url, env = KEYS) => {
  const out = join(tempDir("litehouse-restored-"), "r.db");
  const r = await run(BIN, ["restore", "-o", out, url], env);
  return r.status === 0 ? sqlite(out, STATE) : `exit ${r.status}: ${r.stderr}`;
};

test("our backup to S3 restores with litehouse restore, across WAL restarts", async () => {
  const url = `s3://backups/ours/app?endpoint=${endpoint}&region=us-east-1&forcePathStyle=true`;
  const server = await startServer({ args: ["--backup-url", url, "--backup-interval", "50ms"], env: KEYS });
  const client = createClient({ url: server.url });
  try {
    await client.execute("CREATE TABLE t(x INTEGER, y BLOB)");
    // ~4,800 pages: past the engine's checkpoint_overdue_frames (4,000), so the WAL restarts.
    for (let i = 0; i < 12; i++) {
      await client.execute({
        sql: "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 400) INSERT INTO t SELECT n + ?, randomblob(2500) FROM c",
        args: [i * 1000],
      });
    }
  } finally {
    client.close();
  }
  assert.equal(await server.stop({ keepDir: true }), 0);
  const primary = sqlite(join(server.dir, "dbs", "default", "data"), STATE);
  const wal = await run(BIN, ["backup", "wal", url], KEYS);
  assert.equal(wal.status, 0, wal.stderr);
  const indexes = new Set(wal.stdout.trim().split("\n").slice(1).map((line) => line.trim().split(/\s+/)[2]));
  assert.ok(indexes.size >= 2, `the WAL restarted during the run: indexes ${[...indexes]}`);
  assert.equal(await restore(url), primary);
  rmSync(server.dir, { recursive: true, force: true });
});

test("Litestream's own S3 backup restores with litehouse restore", async () => {
  const dir = tempDir();
  const db = join(dir, "app.db");
  sqlite(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x INTEGER, y BLOB);");
  const config = join(dir, "litestream.yml");
  writeFileSync(
    config,
    `dbs:\n  - path: ${db}\n    replicas:\n      - type: s3\n        bucket: backups\n        path: litestream/app\n        endpoint: http://${endpoint}\n        region: us-east-1\n        force-path-style: true\n        access-key-id: S3RVER\n        secret-access-key: S3RVER\n`,
  );
  const ls = spawn(LITESTREAM, ["replicate", "-config", config], { stdio: ["ignore", "ignore", "pipe"] });
  try {
    for (let i = 0; i < 10; i++) {
      sqlite(db, `INSERT INTO t SELECT value + ${i * 100}, randomblob(300) FROM (WITH RECURSIVE c(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM c WHERE value < 100) SELECT value FROM c);`);
    }
    const expected = sqlite(db, STATE);
    const url = `s3://backups/litestream/app?endpoint=${endpoint}`;
    let got = "";
    // Litestream ships every second: restore until all it shipped is there (bounded).
    const deadline = Date.now() + 30_000;
    while ((got = await restore(url)) !== expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 300));
    assert.equal(got, expected);
  } finally {
    ls.kill("SIGTERM");
    await new Promise((r) => ls.once("exit", r));
  }
});

test("S3 refusals: no credentials, an unknown key, no such bucket", async () => {
  const url = `s3://backups/refusals?endpoint=${endpoint}`;
  let r = await run(BIN, ["restore", "-o", join(tempDir(), "x.db"), url], { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "", LITESTREAM_ACCESS_KEY_ID: "", LITESTREAM_SECRET_ACCESS_KEY: "" });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /S3 needs credentials: set AWS_ACCESS_KEY_ID/);
  // (s3rver does not check SigV4 signatures, so a wrong secret cannot be tested here; the signer is
  // checked against AWS's published example in the unit tests. An unknown key id is refused.)
  r = await run(BIN, ["restore", "-o", join(tempDir(), "x.db"), url], { AWS_ACCESS_KEY_ID: "NOBODY", AWS_SECRET_ACCESS_KEY: "x" });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /HTTP 403.*InvalidAccessKeyId/s);
  // A server whose backup cannot start says why and exits 1, before serving.
  const serve = await run(BIN, ["serve", "--db-path", tempDir(), "--http-listen-addr", "127.0.0.1:0", "--backup-url", `s3://no-such-bucket/x?endpoint=${endpoint}`], KEYS);
  assert.equal(serve.status, 1);
  assert.match(serve.stderr, /cannot read the backup at s3:\/\/no-such-bucket.*HTTP 404.*NoSuchBucket/s);
});

test("S3 down, then back: the backlog is shipped in order and nothing is lost", async () => {
  const url = `s3://backups/outage/app?endpoint=${endpoint}`;
  const server = await startServer({ args: ["--backup-url", url, "--backup-interval", "50ms"], env: KEYS });
  const client = createClient({ url: server.url });
  try {
    await client.execute("CREATE TABLE t(x INTEGER, y BLOB)");
    await client.execute("INSERT INTO t VALUES (1, x'01')");
    const status = async () => (await backupStatus(server))[0];
    await waitUntil(async () => (await status()).lag_transactions === 0, "the first commits are shipped", 20_000);
    await s3.close();
    // Commits go on while the store is down; the server says its uploads fail and keeps them, and
    // its status says by how much it lags.
    for (let i = 2; i <= 50; i++) await client.execute({ sql: "INSERT INTO t VALUES (?, randomblob(100))", args: [i] });
    await waitUntil(() => /backup upload of .* failed, retrying/.test(server.stderr), "an upload fails", 20_000);
    await waitUntil(async () => (await status()).lagging, "the status says the backup lags", 20_000);
    const down = await status();
    assert.equal(down.ok, false);
    assert.match(down.last_error, /S3|connect|refused/i);
    assert.equal(down.lag_transactions, 49, JSON.stringify(down));
    assert.ok(down.lag_bytes > 49 * 100 && down.lag_ms > 0, JSON.stringify(down));
    await startS3(s3port);
    for (let i = 51; i <= 60; i++) await client.execute({ sql: "INSERT INTO t VALUES (?, randomblob(100))", args: [i] });
    await waitUntil(async () => (await status()).lag_transactions === 0, "the backlog is shipped", 20_000);
    const up = await status();
    assert.equal(up.ok, true, JSON.stringify(up));
    assert.equal(up.lagging, false);
    assert.equal(up.lag_ms, 0);
    assert.equal(up.generations_started, 1, "the same generation goes on");
  } finally {
    client.close();
  }
  assert.equal(await server.stop({ keepDir: true }), 0);
  const primary = sqlite(join(server.dir, "dbs", "default", "data"), STATE);
  assert.match(primary, /^60:1830:/);
  assert.equal(await restore(url), primary);
  rmSync(server.dir, { recursive: true, force: true });
});

test("a store that accepts and never answers is a timeout, not a hang", async () => {
  const silent = net.createServer(() => {}); // accepts, reads nothing, answers nothing
  await new Promise((r) => silent.listen(0, "127.0.0.1", r));
  try {
    const r = await run(BIN, ["restore", "-o", join(tempDir(), "x.db"), `s3://backups/x?endpoint=127.0.0.1:${silent.address().port}`], KEYS);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /S3 request to 127\.0\.0\.1:\d+ failed: .*(timeout|timed out)/i);
  } finally {
    silent.close();
  }
});

test("a litestream.yml with an S3 replica (endpoint, keys in the file, no environment keys): serve backs up with it, and the seed's `restore -config FILE s3://BUCKET/PATH` restores", async () => {
  const dir = tempDir();
  const config = join(dir, "litestream.yml");
  writeFileSync(
    config,
    `access-key-id: S3RVER\nsecret-access-key: S3RVER\ndbs:\n  - path: /data/db.sqlite\n    replicas:\n      - type: s3\n        bucket: backups\n        path: cfg/app\n        endpoint: http://${endpoint}\n        region: us-east-1\n        sync-interval: 50ms\n`,
  );
  const noKeys = { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "", LITESTREAM_ACCESS_KEY_ID: "", LITESTREAM_SECRET_ACCESS_KEY: "" };
  const server = await startServer({ args: ["--backup-config", config], env: noKeys });
  const client = createClient({ url: server.url });
  try {
    await client.execute("CREATE TABLE t(x INTEGER, y BLOB)");
    await client.execute("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 300) INSERT INTO t SELECT n, randomblob(100) FROM c");
  } finally {
    client.close();
  }
  assert.equal(await server.stop({ keepDir: true }), 0);
  assert.doesNotMatch(server.stderr, /upload of .* failed/);
  const primary = sqlite(join(server.dir, "dbs", "default", "data"), STATE);
  const out = join(tempDir("litehouse-restored-"), "local-restore.db");
  const r = await run(BIN, ["restore", "-o", out, "-config", config, "s3://backups/cfg/app"], noKeys);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(sqlite(out, STATE), primary);
  // Without the file, the URL alone has neither the endpoint nor the keys.
  const bare = await run(BIN, ["restore", "-o", join(dir, "bare.db"), "s3://backups/cfg/app"], noKeys);
  assert.notEqual(bare.status, 0);
  rmSync(server.dir, { recursive: true, force: true });
});

test("S3 requests that fail at first (a connection reset, an HTTP 503) are tried again within the request", async () => {
  // A proxy before s3rver: its first connection is reset, its second answered 503, the rest passed on.
  let connections = 0;
  const proxy = net.createServer((sock) => {
    const n = ++connections;
    if (n === 1) return sock.resetAndDestroy();
    if (n === 2) {
      sock.once("data", () => sock.end("HTTP/1.1 503 Slow Down\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"));
      return;
    }
    const up = net.connect(s3port, "127.0.0.1");
    sock.pipe(up).pipe(sock);
    up.on("error", () => sock.destroy());
    sock.on("error", () => up.destroy());
  });
  await new Promise((r) => proxy.listen(0, "127.0.0.1", r));
  try {
    const url = `s3://backups/retried/app?endpoint=127.0.0.1:${proxy.address().port}&region=us-east-1&forcePathStyle=true`;
    const server = await startServer({ args: ["--backup-url", url, "--backup-interval", "50ms"], env: KEYS });
    const client = createClient({ url: server.url });
    try {
      await client.execute("CREATE TABLE t(x INTEGER, y BLOB)");
      await client.execute("INSERT INTO t VALUES (1, x'01')");
    } finally {
      client.close();
    }
    assert.equal(await server.stop({ keepDir: true }), 0);
    assert.doesNotMatch(server.stderr, /failed/, "no upload failed: each was tried again");
    assert.ok(connections >= 3, `${connections} connections`);
    const primary = sqlite(join(server.dir, "dbs", "default", "data"), STATE);
    connections = 0; // the restore's first two requests fail the same way
    assert.equal(await restore(url), primary);
    assert.ok(connections >= 3);
    rmSync(server.dir, { recursive: true, force: true });
  } finally {
    proxy.close();
  }
});

// A server backing up to `url` without coalescing (a merged object would carry the merge's time):
// `first` (SQL) committed and shipped, then a moment, then one more row committed and shipped, a
// second on each side of the moment (S3 keeps the upload's time, to the millisecond in s3rver's
// listing, to the second in AWS's and in Litestream's reading). Returns the stopped server (its
// directory kept) and the moment.
async function writesAroundAMoment(url, first) {
  const server = await startServer({ args: ["--backup-url", url, "--backup-interval", "20ms", "--backup-coalesce", "0"], env: KEYS });
  const client = createClient({ url: server.url });
  const shipped = async (what) => waitUntil(async () => (await backupStatus(server))[0].lag_transactions === 0, what, 20_000);
  let middle;
  try {
    await client.execute("CREATE TABLE t(x INTEGER, y BLOB)");
    await client.execute(first);
    await shipped("the first writes are shipped");
    await new Promise((r) => setTimeout(r, 1100));
    middle = new Date();
    await new Promise((r) => setTimeout(r, 1100));
    await client.execute("INSERT INTO t VALUES (1000000, x'00')");
    await shipped("the second write is shipped");
  } finally {
    client.close();
  }
  assert.equal(await server.stop({ keepDir: true }), 0);
  return { server, middle };
}

test("point in time on S3: a timestamp between two writes restores the first only (S3's LastModified, as Litestream reads it)", async () => {
  const url = `s3://backups/pit/app?endpoint=${endpoint}&region=us-east-1&forcePathStyle=true`;
  const { server, middle } = await writesAroundAMoment(url, "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 100) INSERT INTO t SELECT n, x'00' FROM c");
  rmSync(server.dir, { recursive: true, force: true });
  const out = join(tempDir("litehouse-restored-"), "pit.db");
  const r = await run(BIN, ["restore", "-o", out, "-timestamp", middle.toISOString(), url], KEYS);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(sqlite(out, "SELECT count(*) || ':' || sum(x) FROM t"), "100:5050");
  assert.match(await restore(url), /^101:/, "the latest has both");
});


// A proxy before s3rver that notes each request line (every request is a connection of its own),
// and answers HTTP 500 itself to the requests `fail` picks.
const recordingProxy = async (fail = () => false) => {
  const requests = [];
  const proxy = net.createServer((sock) => {
    sock.on("error", () => {});
    sock.once("data", (first) => {
      const line = first.toString("latin1").split("\r\n")[0];
      requests.push(line);
      if (fail(line)) return sock.end("HTTP/1.1 500 Internal Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
      const up = net.connect(s3port, "127.0.0.1");
      up.write(first);
      sock.pipe(up).pipe(sock);
      up.on("error", () => sock.destroy());
      sock.on("error", () => up.destroy());
    });
  });
  await new Promise((r) => proxy.listen(0, "127.0.0.1", r));
  return { proxy, requests };
};

test("a snapshot larger than a part goes up as a multipart upload (parts at once, then completed), and restores", async () => {
  // A 20 MB database of random bytes before the server starts: its first snapshot is ~20 MB of LZ4
  // that does not shrink, three 8 MiB parts.
  const dir = tempDir();
  mkdirSync(join(dir, "dbs", "default"), { recursive: true });
  const db = join(dir, "dbs", "default", "data");
  sqlite(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x INTEGER, y BLOB); WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 5000) INSERT INTO t SELECT n, randomblob(4000) FROM c;");
  const primary = sqlite(db, STATE);
  const { proxy, requests } = await recordingProxy();
  try {
    const url = `s3://backups/multipart/app?endpoint=127.0.0.1:${proxy.address().port}&region=us-east-1&forcePathStyle=true`;
    const server = await startServer({ dbPath: dir, args: ["--backup-url", url, "--backup-interval", "50ms"], env: KEYS });
    try {
      await waitUntil(async () => (await backupStatus(server))[0].snapshots >= 1, "the first snapshot is uploaded", 60_000);
    } finally {
      assert.equal(await server.stop({ keepDir: true }), 0);
    }
    const snapshot = (line) => /\/backups\/multipart\/app\/generations\/[0-9a-f]{16}\/snapshots\/00000000\.snapshot\.lz4\?/.test(line);
    const mine = requests.filter(snapshot);
    assert.equal(mine.filter((l) => /^POST \S+\?uploads=/.test(l)).length, 1, mine.join("\n"));
    const parts = mine.filter((l) => /^PUT \S+\?partNumber=\d+&uploadId=/.test(l)).map((l) => Number(/partNumber=(\d+)/.exec(l)[1]));
    assert.deepEqual(parts.sort(), [1, 2, 3], mine.join("\n"));
    assert.equal(mine.filter((l) => /^POST \S+\?uploadId=/.test(l)).length, 1, "completed once");
    assert.equal(mine.filter((l) => /^DELETE /.test(l)).length, 0, "not aborted");
    assert.doesNotMatch(server.stderr, /failed/);
    assert.equal(await restore(url), primary);
  } finally {
    proxy.close();
  }
});

test("a virtual-hosted URL (forcePathStyle=false) addresses BUCKET.HOST; *.localhost is the loopback, as RFC 6761 and curl have it", async () => {
  const vhost = `s3://backups/vhost/app?endpoint=s3.localhost:${s3port}&region=us-east-1&forcePathStyle=false`;
  const pathStyle = `s3://backups/vhost/app?endpoint=${endpoint}&region=us-east-1&forcePathStyle=true`;
  const server = await startServer({ args: ["--backup-url", vhost, "--backup-interval", "50ms"], env: KEYS });
  const client = createClient({ url: server.url });
  try {
    await client.execute("CREATE TABLE t(x INTEGER, y BLOB)");
    await client.execute("INSERT INTO t VALUES (1, x'01'), (2, x'02')");
  } finally {
    client.close();
  }
  assert.equal(await server.stop({ keepDir: true }), 0);
  assert.doesNotMatch(server.stderr, /failed/);
  const primary = sqlite(join(server.dir, "dbs", "default", "data"), STATE);
  assert.match(primary, /^2:3:/);
  assert.equal(await restore(vhost), primary);
  // The same objects, in bucket "backups" under vhost/app, read path-style.
  assert.equal(await restore(pathStyle), primary);
  rmSync(server.dir, { recursive: true, force: true });
});

test("a multipart upload whose part fails is aborted (no orphan parts), and the snapshot is tried again", async () => {
  const dir = tempDir();
  mkdirSync(join(dir, "dbs", "default"), { recursive: true });
  const db = join(dir, "dbs", "default", "data");
  sqlite(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x INTEGER, y BLOB); WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 3000) INSERT INTO t SELECT n, randomblob(4000) FROM c;");
  const primary = sqlite(db, STATE);
  // Part 2 fails every time it is tried within the first upload (4 tries), then passes.
  let failures = 0;
  const { proxy, requests } = await recordingProxy((line) => /^PUT \S+\?partNumber=2&/.test(line) && failures++ < 4);
  try {
    const url = `s3://backups/aborted/app?endpoint=127.0.0.1:${proxy.address().port}&region=us-east-1&forcePathStyle=true`;
    const server = await startServer({ dbPath: dir, args: ["--backup-url", url, "--backup-interval", "50ms"], env: KEYS });
    try {
      await waitUntil(async () => (await backupStatus(server))[0].snapshots >= 1, "the snapshot is uploaded at the second try", 120_000);
    } finally {
      assert.equal(await server.stop({ keepDir: true }), 0);
    }
    assert.equal(failures, 5, "part 2 was refused 4 times, then asked once more");
    const aborts = requests.filter((l) => /^DELETE \S+snapshot\.lz4\?uploadId=/.test(l));
    assert.equal(aborts.length, 1, requests.join("\n"));
    assert.equal(requests.filter((l) => /^POST \S+\?uploads=/.test(l)).length, 2, "a second upload");
    assert.match(server.stderr, /part 2: HTTP 500/, "the failure is said");
    assert.equal(await restore(url), primary);
  } finally {
    proxy.close();
  }
});

test("a read replica on an empty volume boots from the primary's S3 backup (the recipe across machines), then tails the primary", async () => {
  const url = `s3://backups/boot/app?endpoint=${endpoint}&region=us-east-1&forcePathStyle=true`;
  const primary = await startServer({ args: ["--backup-url", url, "--backup-interval", "50ms"], env: KEYS });
  const p = createClient({ url: primary.url });
  let replica;
  try {
    await p.execute("CREATE TABLE t(x INTEGER, y BLOB)");
    await p.execute("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 500) INSERT INTO t SELECT n, randomblob(1000) FROM c");
    // The position is stored right after the first snapshot and then at most every 5 s: wait for
    // one that names the last write.
    const { frame_no } = await (await fetch(`${primary.url}/replication/status`)).json();
    // s3rver keeps each object in a file of its own (KEY._S3rver_object): the position is read there.
    const positionNames = (frame) => {
      const generations = join(s3dir, "backups", "boot", "app", "generations");
      const found = existsSync(generations) ? readdirSync(generations) : [];
      return found.some((g) => {
        const file = join(generations, g, "litehouse-position._S3rver_object");
        return existsSync(file) && new RegExp(`^frame_no ${frame}$`, "m").test(readFileSync(file, "utf8"));
      });
    };
    await waitUntil(() => positionNames(frame_no + 1), "the backup stores the position of the last write", 20_000);
    await p.execute("INSERT INTO t VALUES (100000, x'00')");
    replica = await startServer({ args: ["--primary-url", primary.url, "--backup-url", url], env: KEYS });
    assert.match(replica.stderr, /replica boot: restored .* from the backup at s3:\/\//);
    const r = createClient({ url: replica.url });
    await waitUntil(async () => Number((await r.execute("SELECT count(*) AS n FROM t")).rows[0].n) === 501, "the replica has every row");
    r.close();
    assert.doesNotMatch(replica.stderr, /bootstrapped/);
  } finally {
    p.close();
    if (replica) await replica.stop();
    assert.equal(await primary.stop(), 0);
  }
});

test("litestream restore reads our S3 backup (latest and -timestamp), the same database as litehouse restore (.sha3sum)", async () => {
  const url = `s3://backups/for-litestream/app?endpoint=${endpoint}&region=us-east-1&forcePathStyle=true`;
  const { server, middle } = await writesAroundAMoment(url, "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 300) INSERT INTO t SELECT n, randomblob(700) FROM c");
  const primary = sqlite(join(server.dir, "dbs", "default", "data"), STATE);
  const proxy = await s3ListingProxy(s3port);
  try {
    const dir = tempDir("litehouse-restored-");
    const config = join(dir, "litestream.yml");
    writeFileSync(
      config,
      `dbs:\n  - path: /data/db.sqlite\n    replicas:\n      - type: s3\n        bucket: backups\n        path: for-litestream/app\n        endpoint: http://127.0.0.1:${proxy.address().port}\n        region: us-east-1\n        force-path-style: true\n        access-key-id: S3RVER\n        secret-access-key: S3RVER\n`,
    );
    const theirs = join(dir, "theirs.db"), ours = join(dir, "ours.db"), theirsPit = join(dir, "theirs-pit.db"), oursPit = join(dir, "ours-pit.db");
    let r = await run(LITESTREAM, ["restore", "-config", config, "-o", theirs, "/data/db.sqlite"]);
    assert.equal(r.status, 0, r.stderr);
    r = await run(BIN, ["restore", "-o", ours, url], KEYS);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(sqlite(theirs, STATE), primary);
    assert.equal(sqlite(theirs, ".sha3sum"), sqlite(ours, ".sha3sum"));
    r = await run(LITESTREAM, ["restore", "-config", config, "-o", theirsPit, "-timestamp", middle.toISOString().replace(/\.\d+Z$/, "Z"), "/data/db.sqlite"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(sqlite(theirsPit, "SELECT count(*) || ':' || sum(x) FROM t"), "300:45150", "the state before the second write");
    r = await run(BIN, ["restore", "-o", oursPit, "-timestamp", middle.toISOString(), url], KEYS);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(sqlite(oursPit, ".sha3sum"), sqlite(theirsPit, ".sha3sum"));
  } finally {
    proxy.close();
  }
  rmSync(server.dir, { recursive: true, force: true });
});
