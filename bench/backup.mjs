// Backup benchmark (issue #14): the real litehouse binary and the real Litestream 0.3.13 (npm
// @flydotio/litestream-linux-x64) in the same run, on loopback and local folders. Run from
// tests/integration (where the packages are):   node ../../bench/backup.mjs BIN [SECONDS]
// Prints RESULT lines:
//   lag_litehouse   single-row commits paced at 1,000/s (16 in flight) through @libsql/client (WebSocket) to a server
//                   with --backup-url file://... --backup-interval 10ms; a commit's lag is the time
//                   from its acknowledgement until a WAL segment holding it is in the backup folder
//   lag_litestream  the same commits to a local SQLite file (npm libsql) that Litestream replicates
//                   to a folder with monitor-interval and sync-interval 10ms
//   (lag method: each row carries a marker `mk%08d`; a watcher on the folder (inotify) decompresses
//    every new segment and notes the markers it holds: a commit is backed up when its marker is)
//   throughput      commits/s of 32 concurrent writers (@libsql/client, WebSocket) with the backup on
//                   (10 ms interval) and off, run one after the other
//   restore         a 100 MB database with a chain of segments behind its snapshot, backed up by
//                   litehouse to a folder and to s3rver: restored by `litehouse restore` and
//                   `litestream restore`. On S3 both restore through tests/integration's
//                   s3-listing-proxy.mjs, which answers s3rver's delimiter listings as S3 does
//                   (Litestream cannot list s3rver without it) and streams the objects.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync, rmSync, watch, readFileSync, statSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const require = createRequire(resolve(process.cwd(), "package.json"));
const { createClient } = require("@libsql/client");
const lz4 = require("lz4js");
const Database = require("libsql");
const S3rver = require("s3rver");
const LITESTREAM = resolve(process.cwd(), "node_modules/@flydotio/litestream-linux-x64/litestream");
const [BIN, secondsArg] = process.argv.slice(2);
const SECONDS = Number(secondsArg ?? 5);
const dirs = [];
const procs = [];
const tempDir = (p) => {
  const d = mkdtempSync(join(tmpdir(), `litehouse-bench-backup-${p}-`));
  dirs.push(d);
  return d;
};

async function serve(args, env = {}) {
  const dir = tempDir("db");
  const child = spawn(BIN, ["serve", "--db-path", dir, "--http-listen-addr", "127.0.0.1:0", ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, ...env },
  });
  procs.push(child);
  let err = "";
  const port = await new Promise((res, rej) => {
    child.stderr.on("data", (c) => {
      err += c;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(err);
      if (m) res(Number(m[1]));
    });
    child.on("exit", (code) => rej(new Error(`exited ${code}: ${err}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child, dir };
}
const stop = async (child) => {
  if (child.exitCode !== null) return;
  await new Promise((res) => {
    child.once("exit", res);
    child.kill("SIGTERM");
  });
};
const run = (cmd, args, env = {}) =>
  new Promise((res) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env } });
    let err = "";
    child.stderr.on("data", (c) => (err += c));
    child.on("exit", (code) => res({ code, ms: performance.now() - t0, err }));
  });
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};
const median = (xs) => pct(xs, 0.5);

// Watches a backup folder: every new WAL segment is decompressed and its markers noted with the time
// the segment appeared.
function watchMarkers(root) {
  const seenAt = new Map(); // marker -> ms
  const done = new Set();
  const watcher = watch(root, { recursive: true }, (_event, name) => {
    if (!name || !name.endsWith(".wal.lz4") || done.has(name)) return;
    const at = performance.now();
    const path = join(root, name);
    const scan = (tries) => {
      let bytes;
      try {
        bytes = Buffer.from(lz4.decompress(readFileSync(path)));
      } catch {
        if (tries > 0) setTimeout(() => scan(tries - 1), 2); // still being written
        return;
      }
      done.add(name);
      const text = bytes.toString("latin1");
      for (const m of text.matchAll(/mk(\d{8})/g)) {
        const k = Number(m[1]);
        if (!seenAt.has(k)) seenAt.set(k, at);
      }
    };
    if (existsSync(path)) scan(20);
  });
  return { seenAt, close: () => watcher.close() };
}

// Paced single-row commits, open loop: commit(i) is sent at t0 + i ms, by up to `writers` at once
// (one HTTP round trip takes longer than a millisecond); returns each commit's ack time.
async function paced(commit, total, writers) {
  const acked = new Map();
  const t0 = performance.now();
  let next = 1;
  const writer = async () => {
    for (;;) {
      const i = next++;
      if (i > total) return;
      const wait = t0 + i - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      await commit(i);
      acked.set(i, performance.now());
    }
  };
  await Promise.all(Array.from({ length: writers }, writer));
  return { acked, seconds: (performance.now() - t0) / 1000 };
}
async function lagsOf(seenAt, acked) {
  // Lets the last segments arrive (bounded).
  const until = performance.now() + 5000;
  while (performance.now() < until && [...acked.keys()].some((k) => !seenAt.has(k))) await new Promise((r) => setTimeout(r, 20));
  const lags = [];
  let missing = 0;
  for (const [k, t] of acked) {
    if (seenAt.has(k)) lags.push(Math.max(0, seenAt.get(k) - t));
    else missing++;
  }
  return { lags, missing };
}
const printLag = (name, { lags, missing }, seconds) =>
  console.log(
    `RESULT ${name} commits=${lags.length} missing=${missing} rate=${(lags.length / seconds).toFixed(0)} p50_ms=${pct(lags, 0.5).toFixed(1)} p99_ms=${pct(lags, 0.99).toFixed(1)}`,
  );

try {
  const total = 1000 * SECONDS;
  // ---- lag: litehouse ----
  {
    const folder = tempDir("replica");
    const server = await serve(["--backup-url", `file://${folder}`, "--backup-interval", "10ms"]);
    const client = createClient({ url: server.url.replace("http:", "ws:") });
    await client.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
    const w = watchMarkers(folder);
    const { acked, seconds } = await paced((i) => client.execute({ sql: "INSERT INTO t VALUES (?, printf('mk%08d', ?))", args: [i, i] }), total, 16);
    printLag("lag_litehouse", await lagsOf(w.seenAt, acked), seconds);
    w.close();
    client.close();
    await stop(server.child);
  }
  // ---- lag: litestream ----
  {
    const dir = tempDir("ls");
    const folder = join(dir, "replica");
    const dbPath = join(dir, "app.db");
    const db = new Database(dbPath);
    // Litestream takes SQLite's locks for its checkpoints: the app waits for them, as Litestream asks.
    db.exec("PRAGMA busy_timeout=5000; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
    const config = join(dir, "litestream.yml");
    writeFileSync(config, `dbs:\n  - path: ${dbPath}\n    monitor-interval: 10ms\n    replicas:\n      - path: ${folder}\n        sync-interval: 10ms\n`);
    const ls = spawn(LITESTREAM, ["replicate", "-config", config], { stdio: ["ignore", "ignore", "pipe"] });
    procs.push(ls);
    let lsErr = "";
    ls.stderr.on("data", (c) => (lsErr += c));
    const until = performance.now() + 10_000;
    while (!existsSync(join(folder, "generations")) && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
    const w = watchMarkers(folder);
    const insert = db.prepare("INSERT INTO t VALUES (?, printf('mk%08d', ?))");
    const { acked, seconds } = await paced(async (i) => insert.run(i, i), total, 1);
    printLag("lag_litestream", await lagsOf(w.seenAt, acked), seconds);
    w.close();
    await stop(ls);
    db.close();
  }
  // ---- throughput with the backup on and off ----
  for (const mode of ["off", "on"]) {
    const args = mode === "on" ? ["--backup-url", `file://${tempDir("tp")}`, "--backup-interval", "10ms"] : [];
    const server = await serve(args);
    const setup = createClient({ url: server.url });
    await setup.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
    setup.close();
    const clients = Array.from({ length: 32 }, () => createClient({ url: server.url.replace("http:", "ws:") }));
    let commits = 0;
    const end = performance.now() + SECONDS * 1000;
    await Promise.all(
      clients.map(async (c) => {
        while (performance.now() < end) {
          await c.execute({ sql: "INSERT INTO t(v) VALUES (?)", args: ["x".repeat(100)] });
          commits++;
        }
      }),
    );
    for (const c of clients) c.close();
    console.log(`RESULT throughput backup=${mode} commits_per_s=${(commits / SECONDS).toFixed(0)}`);
    await stop(server.child);
  }
  // ---- restore: 100 MB, then a chain of small commits ----
  const s3dir = tempDir("s3rver");
  const s3 = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory: s3dir, configureBuckets: [{ name: "bench" }] });
  const { port: s3port } = await s3.run();
  const { s3ListingProxy } = await import(pathToFileURL(resolve(process.cwd(), "s3-listing-proxy.mjs")).href);
  const proxy = await s3ListingProxy(s3port);
  const keys = { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" };
  // Litestream names an S3 endpoint in its config file only.
  const litestreamConfig = join(tempDir("cfg"), "litestream.yml");
  writeFileSync(
    litestreamConfig,
    `dbs:\n  - path: /data/db.sqlite\n    replicas:\n      - type: s3\n        bucket: bench\n        path: db\n        endpoint: http://127.0.0.1:${proxy.address().port}\n` +
      `        region: us-east-1\n        force-path-style: true\n        access-key-id: S3RVER\n        secret-access-key: S3RVER\n`,
  );
  try {
    const folder = tempDir("restore");
    const s3url = `s3://bench/db?endpoint=127.0.0.1:${s3port}&region=us-east-1&forcePathStyle=true`;
    for (const url of [`file://${folder}`, s3url]) {
      const server = await serve(["--backup-url", url, "--backup-interval", "10ms"], keys);
      const client = createClient({ url: server.url });
      await client.execute("CREATE TABLE big(id INTEGER PRIMARY KEY, v BLOB)");
      for (let i = 0; i < 10; i++) {
        await client.execute("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 10000) INSERT INTO big(v) SELECT randomblob(1000) FROM c");
      }
      for (let i = 0; i < 2000; i++) await client.execute({ sql: "INSERT INTO big(v) VALUES (?)", args: ["chain"] });
      client.close();
      await stop(server.child);
      const size = statSync(join(server.dir, "dbs", "default", "data")).size;
      const viaProxy = `s3://bench/db?endpoint=127.0.0.1:${proxy.address().port}&region=us-east-1&forcePathStyle=true`;
      const tools = url.startsWith("file:")
        ? [["litehouse", BIN, [url]], ["litestream", LITESTREAM, [url]]]
        : [["litehouse", BIN, [viaProxy]], ["litestream", LITESTREAM, ["-config", litestreamConfig, "/data/db.sqlite"]]];
      const wal = await new Promise((res) => {
        const c = spawn(BIN, ["backup", "wal", url], { env: { ...process.env, ...keys } });
        let out = "";
        c.stdout.on("data", (d) => (out += d));
        c.on("exit", () => res(out.trim().split("\n").length - 1));
      });
      for (const [name, bin, source] of tools) {
        const times = [];
        for (let r = 0; r < 3; r++) {
          const out = join(tempDir("out"), "r.db");
          const res = await run(bin, ["restore", "-o", out, ...source], keys);
          if (res.code !== 0) throw new Error(`${name} restore of ${url}: ${res.err}`);
          times.push(res.ms);
        }
        const ms = median(times);
        console.log(`RESULT restore store=${url.startsWith("file:") ? "folder" : "s3rver"} tool=${name} bytes=${size} segments=${wal} ms=${ms.toFixed(0)} mb_per_s=${(size / 1e6 / (ms / 1000)).toFixed(0)}`);
      }
    }
  } finally {
    proxy.close();
    await s3.close();
  }
} finally {
  for (const c of procs) c.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
