// Continuous backup in Litestream 0.3's layout and restore (issue #14), against the real Litestream
// 0.3.13 binary from npm (@flydotio/litestream-linux-x64): our backup restored by `litestream
// restore` and by `litehouse restore`, point in time included; Litestream's own backup restored by
// `litehouse restore`; and each refusal.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, readdirSync, existsSync, unlinkSync, readFileSync, writeFileSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@libsql/client";
import { startServer, BIN, backupStatus, tempDirMaker } from "./harness.mjs";
import { waitUntil } from "./raw-http.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const LITESTREAM = resolve(here, "node_modules/@flydotio/litestream-linux-x64/litestream");
const tempDir = tempDirMaker("litehouse-backup-");

const run = (cmd, args) => spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
const sqlite = (db, sql) => {
  const r = run("sqlite3", [db, sql]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
};
// What a database holds, as one line: rows, their sum and a hash of every payload.
const STATE = "SELECT count(*) || ':' || coalesce(sum(x), 0) || ':' || coalesce(hex(sha3(group_concat(hex(y), ','))), '') FROM t";
const walFiles = (replica) => {
  const gens = existsSync(join(replica, "generations")) ? readdirSync(join(replica, "generations")) : [];
  return gens.flatMap((g) => (existsSync(join(replica, "generations", g, "wal")) ? readdirSync(join(replica, "generations", g, "wal")) : []));
};
const restoreBoth = (url, extra = []) => {
  const dir = tempDir("litehouse-restored-");
  const ours = join(dir, "ours.db"), theirs = join(dir, "theirs.db");
  // The same arguments for both: ours takes Litestream's Go-style single-dash flags.
  const a = run(BIN, ["restore", "-o", ours, ...extra, url]);
  assert.equal(a.status, 0, `litehouse restore: ${a.stderr}`);
  const b = run(LITESTREAM, ["restore", "-o", theirs, ...extra, url]);
  assert.equal(b.status, 0, `litestream restore: ${b.stderr}`);
  // The same database, by the sqlite3 shell's own content hash.
  assert.equal(sqlite(ours, ".sha3sum"), sqlite(theirs, ".sha3sum"), "litehouse and litestream restore the same database (.sha3sum)");
  return { ours: sqlite(ours, STATE), theirs: sqlite(theirs, STATE), oursPath: ours };
};

async function insert(client, rows, size) {
  await client.execute("CREATE TABLE IF NOT EXISTS t(x INTEGER, y BLOB)");
  await client.execute({
    sql: "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < ?) INSERT INTO t SELECT n, randomblob(?) FROM c",
    args: [rows, size],
  });
}

test("our backup restores with litestream restore and litehouse restore, across WAL restarts, to the primary's state", async () => {
  const replica = tempDir();
  const server = await startServer({ args: ["--backup-url", `file://${replica}`, "--backup-interval", "50ms"] });
  const client = createClient({ url: server.url });
  try {
    // ~4,500 pages. The engine checkpoints past 3,000 WAL frames, beside the next writer; if those
    // checkpoints keep losing the race with these back-to-back inserts, the writer checkpoints itself
    // past 4,000 (checkpoint_overdue_frames): either way the WAL restarts during the run.
    for (let i = 0; i < 18; i++) await insert(client, 500, 2000);
    await client.execute("DELETE FROM t WHERE x % 10 = 0");
    await client.execute("UPDATE t SET y = randomblob(50) WHERE x % 7 = 0");
  } finally {
    client.close();
  }
  assert.equal(await server.stop({ keepDir: true }), 0);
  const primary = sqlite(join(server.dir, "dbs", "default", "data"), STATE);
  const indexes = new Set(walFiles(replica).map((f) => f.slice(0, 8)));
  assert.ok(indexes.size >= 2, `the WAL restarted during the run: indexes ${[...indexes]}`);
  const { ours, theirs, oursPath } = restoreBoth(`file://${replica}`);
  assert.equal(ours, primary);
  assert.equal(theirs, primary);
  assert.equal(sqlite(oursPath, "PRAGMA integrity_check"), "ok");
  // `litehouse backup generations|snapshots|wal` lists what `litestream generations|snapshots|wal` do.
  const rows = (cmd, args, columns) => {
    const r = run(cmd, args);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim().split("\n").slice(1).map((line) => columns.map((i) => line.trim().split(/\s+/)[i]).join(" ")).sort();
  };
  const url = `file://${replica}`;
  assert.deepEqual(rows(BIN, ["backup", "generations", url], [1]), rows(LITESTREAM, ["generations", url], [1]));
  assert.deepEqual(rows(BIN, ["backup", "snapshots", url], [1, 2, 3]), rows(LITESTREAM, ["snapshots", url], [1, 2, 3]));
  const ourWal = rows(BIN, ["backup", "wal", url], [1, 2, 3, 4]);
  assert.deepEqual(ourWal, rows(LITESTREAM, ["wal", url], [1, 2, 3, 4]));
  assert.equal(ourWal.length, walFiles(replica).length);
  // -generation G -index I: the state at the end of WAL index I, as Litestream gives it; fetched one
  // segment at a time or eight.
  const generation = readdirSync(join(replica, "generations"))[0];
  const atIndex0 = restoreBoth(url, ["-generation", generation, "-index", "00000000", "-parallelism", "1"]);
  assert.equal(atIndex0.ours, atIndex0.theirs);
  assert.notEqual(atIndex0.ours, primary, "index 0 is not the end");
  assert.equal(restoreBoth(url, ["-generation", generation, "-index", [...indexes].sort().at(-1), "-parallelism", "8"]).ours, primary);
  for (const [args, message] of [
    [["-index", "00000000"], /--index needs --generation/],
    [["-generation", generation, "-index", "zz"], /not a hexadecimal WAL index/],
    [["-generation", generation, "-index", "0", "-timestamp", "2026-01-01T00:00:00Z"], /give one of them/],
    [["-parallelism", "0"], /parallelism/],
  ]) {
    const r = run(BIN, ["restore", "-o", join(tempDir(), "x.db"), ...args, url]);
    assert.equal(r.status, 2, `${args}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  // Progress on a terminal (a pseudo-terminal from script(1)), none in a pipe.
  const onTty = run("script", ["-qec", `${BIN} restore -o ${join(tempDir(), "tty.db")} ${url}`, "/dev/null"]);
  assert.equal(onTty.status, 0, onTty.stderr);
  assert.match(onTty.stdout, /\rrestoring: (\d+)\/\1 WAL segments, [\d.]+ MB written/);
  const piped = run(BIN, ["restore", "-o", join(tempDir(), "piped.db"), url]);
  assert.equal(piped.status, 0);
  assert.doesNotMatch(piped.stderr, /restoring:/);
  const none = run(BIN, ["restore", "-o", join(tempDir(), "x.db"), "-generation", generation, "-index", "ffff", url]);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /holds no WAL index 65535/);
  rmSync(server.dir, { recursive: true, force: true });
});

test("periodic snapshots begin new WAL indexes, retention deletes what is past it, and both tools restore the latest state", async () => {
  const replica = tempDir();
  const args = ["--backup-url", `file://${replica}`, "--backup-interval", "20ms", "--backup-snapshot-interval", "100ms", "--backup-retention", "2s"];
  const server = await startServer({ args });
  const client = createClient({ url: server.url });
  let generation;
  try {
    await insert(client, 50, 500);
    generation = readdirSync(join(replica, "generations"))[0];
    // A generation of an earlier server, three days old: past the retention.
    const old = join(replica, "generations", "00000000000000aa");
    mkdirSync(join(old, "snapshots"), { recursive: true });
    writeFileSync(join(old, "snapshots", "00000000.snapshot.lz4"), "old");
    const threeDaysAgo = new Date(Date.now() - 3 * 86400_000);
    utimesSync(join(old, "snapshots", "00000000.snapshot.lz4"), threeDaysAgo, threeDaysAgo);
    const snapshots = () => readdirSync(join(replica, "generations", generation, "snapshots")).sort();
    // Writes until retention has dropped snapshot 0: each snapshot begins a WAL index, and the
    // oldest kept is within the last 2 s. Bounded: 600 writes, 60 s.
    const until = Date.now() + 60_000;
    for (let i = 0; i < 600 && Date.now() < until && snapshots().includes("00000000.snapshot.lz4"); i++) {
      await insert(client, 20, 500);
      await new Promise((r) => setTimeout(r, 20)); // lets the 100 ms snapshot interval pass between writes
    }
    assert.ok(!snapshots().includes("00000000.snapshot.lz4"), `snapshot 0 is past retention: ${snapshots()}`);
    assert.ok(snapshots().length >= 1);
    await waitUntil(() => !existsSync(old), "the old generation is deleted", 20_000);
    // Nothing below the oldest snapshot kept is left.
    const oldest = snapshots()[0].slice(0, 8);
    for (const f of walFiles(replica)) assert.ok(f.slice(0, 8) >= oldest, `${f} is below snapshot ${oldest}`);
  } finally {
    client.close();
  }
  assert.equal(await server.stop({ keepDir: true }), 0);
  assert.deepEqual(readdirSync(join(replica, "generations")), [generation], "one generation left");
  const primary = sqlite(join(server.dir, "dbs", "default", "data"), STATE);
  const { ours, theirs, oursPath } = restoreBoth(`file://${replica}`);
  assert.equal(ours, primary);
  assert.equal(theirs, primary);
  assert.equal(sqlite(oursPath, "PRAGMA integrity_check"), "ok");
  rmSync(server.dir, { recursive: true, force: true });
});

test("bad snapshot intervals and retentions are refused at start", () => {
  for (const [flag, value] of [["--backup-snapshot-interval", "soon"], ["--backup-snapshot-interval", "1ms"], ["--backup-retention", "-1h"], ["--backup-retention", "10ms"], ["--backup-coalesce", "5ms"], ["--backup-coalesce", "never"]]) {
    const r = run(BIN, ["serve", "--db-path", tempDir(), "--backup-url", `file://${tempDir()}`, flag, value]);
    assert.equal(r.status, 2, `${flag} ${value}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`error: ${flag} ${value}: expected a duration`));
  }
});

test("point in time: a timestamp between two writes restores the first only, with both tools", async () => {
  const replica = tempDir();
  // No coalescing: a minute's end between the two writes and the stop would merge their segments.
  const server = await startServer({ args: ["--backup-url", `file://${replica}`, "--backup-interval", "50ms", "--backup-coalesce", "0"] });
  const client = createClient({ url: server.url });
  let middle;
  try {
    await insert(client, 100, 100);
    // Once the first write is shipped, a time after it and before the second.
    await waitUntil(() => walFiles(replica).length > 0, "the first write shipped", 20_000);
    await new Promise((r) => setTimeout(r, 20)); // distinct file times on both sides of `middle`, not a wait for the server
    middle = new Date();
    await new Promise((r) => setTimeout(r, 20));
    await client.execute("INSERT INTO t VALUES (1000000, x'00')");
  } finally {
    client.close();
  }
  assert.equal(await server.stop(), 0);
  const stamp = middle.toISOString();
  const { ours, theirs } = restoreBoth(`file://${replica}`, ["-timestamp", stamp]);
  assert.match(ours, /^100:5050:/, "the first write only");
  assert.equal(theirs, ours);
  const latest = restoreBoth(`file://${replica}`);
  assert.match(latest.ours, /^101:1005050:/);
  assert.equal(latest.theirs, latest.ours);
  // Later than the last write: Litestream 0.3 finds nothing; we restore the latest state.
  const future = new Date(Date.now() + 3600_000).toISOString();
  const dir = tempDir("litehouse-restored-");
  const r = run(BIN, ["restore", "-o", join(dir, "future.db"), "--timestamp", future, `file://${replica}`]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(sqlite(join(dir, "future.db"), STATE), latest.ours);
});

test("Litestream's own backup of a database restores with litehouse restore", async () => {
  const dir = tempDir();
  const db = join(dir, "app.db");
  const replica = join(dir, "replica");
  sqlite(db, "PRAGMA journal_mode=WAL; CREATE TABLE t(x INTEGER, y BLOB);");
  const ls = spawn(LITESTREAM, ["replicate", db, `file://${replica}`], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  ls.stderr.on("data", (c) => (log += c));
  try {
    await waitUntil(() => walFiles(replica).length > 0 || /initialized db/.test(log), "litestream started", 20_000);
    for (let i = 0; i < 20; i++) sqlite(db, `INSERT INTO t SELECT value + ${i * 50}, randomblob(500) FROM (WITH RECURSIVE c(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM c WHERE value < 50) SELECT value FROM c);`);
    const expected = sqlite(db, STATE);
    // Litestream ships every second: restore until what it shipped is all there (bounded).
    let got = "";
    await waitUntil(
      () => {
        const out = join(tempDir("litehouse-restored-"), "r.db");
        const r = run(BIN, ["restore", "-o", out, `file://${replica}`]);
        got = r.status === 0 ? sqlite(out, STATE) : r.stderr;
        return got === expected;
      },
      "litehouse restore of Litestream's replica matches the database",
      30_000,
      300,
    );
    assert.equal(got, expected);
    // Litestream restores the same database from its own backup (.sha3sum).
    const ours = join(tempDir("litehouse-restored-"), "ours.db"), theirs = join(tempDir("litehouse-restored-"), "theirs.db");
    assert.equal(run(BIN, ["restore", "-o", ours, `file://${replica}`]).status, 0);
    assert.equal(run(LITESTREAM, ["restore", "-o", theirs, `file://${replica}`]).status, 0);
    assert.equal(sqlite(ours, ".sha3sum"), sqlite(theirs, ".sha3sum"));
  } finally {
    ls.kill("SIGTERM");
    await new Promise((r) => ls.once("exit", r));
  }
});

test("refusals: an existing output, an empty or missing backup, a bad URL or timestamp, a gap in the WAL", async () => {
  const empty = tempDir();
  const out = join(tempDir("litehouse-restored-"), "x.db");
  let r = run(BIN, ["restore", "-o", out, `file://${empty}`]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no matching backups found/);
  r = run(BIN, ["restore", "--if-replica-exists", "-o", out, `file://${empty}`]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!existsSync(out));
  r = run(BIN, ["restore", "-o", out, "gs://bucket/path"]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unsupported backup URL/);
  r = run(BIN, ["restore", "-o", out, "--timestamp", "yesterday", `file://${empty}`]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /RFC 3339/);
  const badServe = run(BIN, ["serve", "--db-path", tempDir(), "--http-listen-addr", "127.0.0.1:0", "--backup-url", "ftp://x"]);
  assert.equal(badServe.status, 2);
  assert.match(badServe.stderr, /unsupported backup URL/);
  const badInterval = run(BIN, ["serve", "--db-path", tempDir(), "--http-listen-addr", "127.0.0.1:0", "--backup-interval", "1ms"]);
  assert.equal(badInterval.status, 2);

  // A backup with a gap: the middle segment of an index removed.
  const replica = tempDir();
  const server = await startServer({ args: ["--backup-url", `file://${replica}`, "--backup-interval", "10ms"] });
  const client = createClient({ url: server.url });
  try {
    for (let i = 0; i < 3; i++) {
      const before = walFiles(replica).length;
      await insert(client, 10, 10);
      await waitUntil(() => walFiles(replica).length > before, "a segment per write", 20_000);
    }
  } finally {
    client.close();
  }
  assert.equal(await server.stop(), 0);
  const gen = readdirSync(join(replica, "generations"))[0];
  const segs = readdirSync(join(replica, "generations", gen, "wal")).sort();
  assert.ok(segs.length >= 3, segs.join(" "));
  const existing = join(tempDir("litehouse-restored-"), "existing.db");
  sqlite(existing, "CREATE TABLE keep(x)");
  r = run(BIN, ["restore", "-o", existing, `file://${replica}`]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /already exists/);
  r = run(BIN, ["restore", "-if-db-not-exists", "-o", existing, `file://${replica}`]);
  assert.equal(r.status, 0);
  assert.equal(sqlite(existing, "SELECT name FROM sqlite_master"), "keep", "untouched");
  // A corrupt file (a byte of it flipped) is refused, naming it.
  const victim = join(replica, "generations", gen, "wal", segs[2]);
  const original = readFileSync(victim);
  const flipped = Buffer.from(original);
  flipped[flipped.length - 1] ^= 0xff;
  writeFileSync(victim, flipped);
  r = run(BIN, ["restore", "-o", out, `file://${replica}`]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`${segs[2].replace(/\./g, "\\.")}: not a valid LZ4 frame`));
  assert.ok(!existsSync(out));
  writeFileSync(victim, original);
  unlinkSync(join(replica, "generations", gen, "wal", segs[1]));
  r = run(BIN, ["restore", "-o", out, `file://${replica}`]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /a segment is missing/);
  assert.ok(!existsSync(out) && !existsSync(out + ".tmp"), "nothing half-restored is left");
});

test("boot from backup: a server on an empty data directory restores the backup before it serves; an existing database is kept", async () => {
  const replica = tempDir();
  const url = `file://${replica}`;
  const first = await startServer({ args: ["--backup-url", url, "--backup-interval", "50ms"] });
  let client = createClient({ url: first.url });
  try {
    await insert(client, 300, 200);
  } finally {
    client.close();
  }
  assert.equal(await first.stop({ keepDir: true }), 0);
  const expected = sqlite(join(first.dir, "dbs", "default", "data"), STATE);

  // A new machine: an empty volume, the same backup.
  const second = await startServer({ args: ["--backup-url", url] });
  client = createClient({ url: second.url });
  try {
    const rs = await client.execute("SELECT count(*) AS n FROM t");
    assert.equal(Number(rs.rows[0].n), 300);
    assert.match(second.stderr, /restored .* from the backup/);
  } finally {
    client.close();
  }
  assert.equal(await second.stop({ keepDir: true }), 0);
  assert.equal(sqlite(join(second.dir, "dbs", "default", "data"), STATE), expected);

  // A restart on a volume that has its database: nothing is restored over it.
  const third = await startServer({ dbPath: first.dir, args: ["--backup-url", url] });
  client = createClient({ url: third.url });
  try {
    await client.execute("DELETE FROM t WHERE x > 100");
    assert.equal(Number((await client.execute("SELECT count(*) AS n FROM t")).rows[0].n), 100);
  } finally {
    client.close();
  }
  assert.equal(await third.stop(), 0);
  assert.doesNotMatch(third.stderr, /restored .* from the backup/);
  rmSync(second.dir, { recursive: true, force: true });
});

// A Litestream config file, as the seed's deployment writes it: its one entry names the database
// by the path Litestream saw (/data/db.sqlite), not the server's.
const litestreamYml = (dir, body) => {
  const file = join(dir, "litestream.yml");
  writeFileSync(file, body);
  return file;
};
const runEnv = (cmd, args, env) => spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000, env: { ...process.env, ...env } });

test("--backup-config: a litestream.yml's only entry backs up the served database to each replica, $VARs expanded; both tools restore it with -config", async () => {
  const dir = tempDir();
  const env = { BACKUP_DIR: dir };
  const config = litestreamYml(
    dir,
    "dbs:\n  - path: /data/db.sqlite\n    replicas:\n      - name: near\n        type: file\n        path: ${BACKUP_DIR}/near\n        sync-interval: 50ms\n      - name: far\n        url: file://$BACKUP_DIR/far\n        retention: 72h\n",
  );
  const server = await startServer({ args: ["--backup-config", config], env });
  const client = createClient({ url: server.url });
  try {
    await insert(client, 200, 300);
    await client.execute("DELETE FROM t WHERE x % 3 = 0");
  } finally {
    client.close();
  }
  assert.equal(await server.stop({ keepDir: true }), 0);
  assert.match(server.stderr, /as .*litestream\.yml says \(its entry for \/data\/db\.sqlite, 2 replicas\)/);
  const primary = sqlite(join(server.dir, "dbs", "default", "data"), STATE);
  assert.match(primary, /^134:/);
  for (const name of ["near", "far"]) assert.equal(walFiles(join(dir, name)).length > 0, true, `${name} holds WAL segments`);
  // `litestream restore -config FILE DB_PATH`, and ours with the same arguments: the replica with the
  // latest backup, or the one named.
  const out = tempDir("litehouse-restored-");
  for (const [tool, extra] of [[BIN, []], [LITESTREAM, []], [BIN, ["-replica", "far"]], [LITESTREAM, ["-replica", "near"]]]) {
    const o = join(out, `${tool === BIN ? "ours" : "theirs"}-${extra.join("")}.db`);
    const r = runEnv(tool, ["restore", "-config", config, "-o", o, ...extra, "/data/db.sqlite"], env);
    assert.equal(r.status, 0, `${tool} ${extra}: ${r.stderr}`);
    assert.equal(sqlite(o, STATE), primary, `${tool} ${extra}`);
  }
  // $LITESTREAM_CONFIG names the file when the flag does not.
  const again = await startServer({ dbPath: server.dir, env: { ...env, LITESTREAM_CONFIG: config } });
  try {
    assert.match(again.stderr, /litestream\.yml says/);
  } finally {
    assert.equal(await again.stop(), 0);
  }
  // Without -o, the restore writes the path the config names; here, one that does not exist yet.
  const named = join(tempDir(), "app.db");
  const own = litestreamYml(tempDir(), `dbs:\n  - path: ${named}\n    replicas:\n      - path: ${join(dir, "near")}\n`);
  const r = run(BIN, ["restore", "-config", own, named]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(sqlite(named, STATE), primary);
});

test("--backup-config refusals: no entry for the database among several, an unknown replica type, a bad duration, with --backup-url; restore of a database the file does not name", () => {
  const dir = tempDir();
  const cases = [
    ["dbs:\n  - path: /a.db\n    replicas:\n      - path: /tmp/x\n  - path: /b.db\n    replicas:\n      - path: /tmp/y\n", /database not found in config .*litestream\.yml: .*\/data .*\(it names \/a\.db, \/b\.db\)/],
    ["dbs:\n  - path: /a.db\n    replicas:\n      - type: gcs\n        bucket: b\n", /replica type gcs is not supported here \(file and s3 are\)/],
    ["dbs:\n  - path: /a.db\n    replicas:\n      - path: /tmp/x\n        retention: forever\n", /retention forever is not a duration/],
    ["dbs:\n  - path: /a.db\n    replicas:\n      - path: /tmp/x\n        sync-interval: 1ms\n", /sync-interval must be from 10ms to 1h/],
    ["dbs:\n  - path: /a.db\n", /no replica/],
    ["dbs: [unclosed\n", /litestream\.yml: /],
  ];
  for (const [body, message] of cases) {
    const config = litestreamYml(tempDir(), body);
    const r = run(BIN, ["serve", "--db-path", tempDir(), "--backup-config", config]);
    assert.equal(r.status, 2, `${body}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  const config = litestreamYml(dir, "dbs:\n  - path: /a.db\n    replicas:\n      - path: /tmp/x\n");
  let r = run(BIN, ["serve", "--db-path", tempDir(), "--backup-config", config, "--backup-url", `file://${dir}`]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--backup-url and --backup-config: give one of them/);
  r = run(BIN, ["serve", "--db-path", tempDir(), "--backup-config", join(dir, "missing.yml")]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /config file not found: .*missing\.yml/);
  r = run(BIN, ["restore", "-config", config, "-o", join(dir, "o.db"), "/b.db"]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /database not found in config .*: \/b\.db/);
  r = run(BIN, ["restore", "-config", config, "-o", join(dir, "o.db"), "-replica", "nope", "/a.db"]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /no replica named nope for \/a\.db/);
});

test("GET /backup/status: none without a backup; with one, what waits to be shipped and what was; other methods refused", async () => {
  const plain = await startServer();
  try {
    const r = await fetch(`${plain.url}/backup/status`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { backups: [] });
  } finally {
    assert.equal(await plain.stop(), 0);
  }
  const replica = tempDir();
  const server = await startServer({ args: ["--backup-url", `file://${replica}`, "--backup-interval", "20ms"] });
  const client = createClient({ url: server.url });
  try {
    await insert(client, 10, 10);
    const status = () => backupStatus(server);
    await waitUntil(async () => (await status())[0].transactions_shipped >= 2, "two transactions shipped", 20_000);
    const [b] = await status();
    assert.equal(b.url, `file://${replica}`);
    assert.match(b.generation, /^[0-9a-f]{16}$/);
    assert.equal(readdirSync(join(replica, "generations"))[0], b.generation);
    assert.equal(b.ok, true);
    assert.equal(b.last_error, null);
    assert.equal(b.lagging, false);
    assert.equal(b.lag_transactions, 0);
    assert.equal(b.snapshots, 1);
    assert.equal(b.generations_started, 1);
    assert.ok(b.last_shipped_ms_ago >= 0);
    const post = await fetch(`${server.url}/backup/status`, { method: "POST" });
    assert.equal(post.status, 405);
  } finally {
    client.close();
    assert.equal(await server.stop(), 0);
  }
});

test("kill -9 during writes: a restore holds every transaction shipped before it; the restarted server goes on in a new generation", async () => {
  const replica = tempDir();
  const args = ["--backup-url", `file://${replica}`, "--backup-interval", "20ms"];
  const server = await startServer({ args });
  const client = createClient({ url: server.url });
  const status = async (s) => (await backupStatus(s))[0];
  let shipped = 0;
  let acked = 0;
  try {
    await client.execute("CREATE TABLE t(x INTEGER PRIMARY KEY, y BLOB)");
    // One row per transaction, until the backup says it shipped a few hundred (bounded: 5,000 rows).
    for (let i = 1; i <= 5000 && shipped < 300; i++) {
      await client.execute({ sql: "INSERT INTO t VALUES (?, randomblob(200))", args: [i] });
      acked = i;
      if (i % 25 === 0) shipped = (await status(server)).transactions_shipped;
    }
    assert.ok(shipped >= 300, `shipped ${shipped}`);
    // More writes in flight, then the kill.
    const inflight = [];
    for (let i = acked + 1; i <= acked + 50; i++) inflight.push(client.execute({ sql: "INSERT INTO t VALUES (?, x'00')", args: [i] }).catch(() => null));
    server.child.kill("SIGKILL");
    await Promise.all(inflight);
  } finally {
    client.close();
  }
  await server.stop({ keepDir: true });
  // The transactions shipped before the status was read (the CREATE TABLE among them) are there,
  // in commit order, with nothing torn; both restorers agree.
  const { ours, theirs, oursPath } = restoreBoth(`file://${replica}`);
  assert.equal(ours, theirs);
  const rows = Number(sqlite(oursPath, "SELECT count(*) FROM t"));
  assert.ok(rows >= shipped - 1, `${rows} rows restored, ${shipped} transactions were shipped`);
  assert.equal(sqlite(oursPath, "SELECT max(x) FROM t"), String(rows), "a prefix of the commits");
  assert.equal(sqlite(oursPath, "PRAGMA integrity_check"), "ok");

  // The restart: the database has every acknowledged commit; its backup is a new generation that
  // begins from it.
  const again = await startServer({ dbPath: server.dir, args });
  const c2 = createClient({ url: again.url });
  try {
    const n = Number((await c2.execute("SELECT count(*) AS n FROM t")).rows[0].n);
    assert.ok(n >= acked, `${n} rows after the restart, ${acked} were acknowledged`);
    await c2.execute({ sql: "INSERT INTO t VALUES (?, x'01')", args: [100000] });
    assert.equal((await status(again)).generations_started, 1);
  } finally {
    c2.close();
    assert.equal(await again.stop(), 0);
  }
  assert.equal(readdirSync(join(replica, "generations")).length, 2, "one generation per start");
  const latest = restoreBoth(`file://${replica}`);
  assert.equal(latest.ours, latest.theirs);
  assert.equal(sqlite(latest.oursPath, "SELECT count(*) > " + acked + " AND max(x) = 100000 FROM t"), "1");
  rmSync(server.dir, { recursive: true, force: true });
});

test("--backup-coalesce: the segments of a window that is over become one per WAL index; both tools restore the same database", async () => {
  const replica = tempDir();
  const server = await startServer({ args: ["--backup-url", `file://${replica}`, "--backup-interval", "10ms", "--backup-coalesce", "300ms"] });
  const client = createClient({ url: server.url });
  let most = 0;
  try {
    await client.execute("CREATE TABLE t(x INTEGER, y BLOB)");
    // Single-row commits, a segment each, until windows have been merged: the folder then holds
    // fewer segments than it had (bounded: 400 commits, 30 s).
    const until = Date.now() + 30_000;
    for (let i = 1; i <= 400 && Date.now() < until; i++) {
      await client.execute({ sql: "INSERT INTO t VALUES (?, randomblob(300))", args: [i] });
      await new Promise((r) => setTimeout(r, 15)); // a tick between commits: one segment each
      const n = walFiles(replica).length;
      most = Math.max(most, n);
      if (i >= 60 && n <= most / 2) break;
    }
    assert.ok(walFiles(replica).length <= most / 2, `${walFiles(replica).length} segments left of ${most}`);
  } finally {
    client.close();
  }
  assert.equal(await server.stop({ keepDir: true }), 0);
  const primary = sqlite(join(server.dir, "dbs", "default", "data"), STATE);
  const { ours, theirs, oursPath } = restoreBoth(`file://${replica}`);
  assert.equal(ours, primary);
  assert.equal(theirs, primary);
  assert.equal(sqlite(oursPath, "PRAGMA integrity_check"), "ok");
  rmSync(server.dir, { recursive: true, force: true });
});


test("under load: 40 clients at once over HTTP and WebSocket (statements, batches, interactive transactions) with a 10 ms backup, coalescing and 300 ms snapshots on (here 9-10 snapshots are taken during it); both tools restore every acknowledged transaction", async () => {
  const replica = tempDir();
  const server = await startServer({
    args: ["--backup-url", `file://${replica}`, "--backup-interval", "10ms", "--backup-coalesce", "200ms", "--backup-snapshot-interval", "300ms"],
  });
  const setup = createClient({ url: server.url });
  await setup.execute("CREATE TABLE t(x INTEGER PRIMARY KEY, y BLOB)");
  const clients = Array.from({ length: 40 }, (_, i) => createClient({ url: i % 2 ? server.url.replace("http:", "ws:") : server.url }));
  let acked = 0;
  let sum = 0;
  try {
    // Each client 30 rounds (bounded: 1,200 transactions in all), each round one of three shapes.
    await Promise.all(
      clients.map(async (c, n) => {
        for (let round = 0; round < 30; round++) {
          const x = n * 1000 + round * 3;
          if (round % 3 === 0) {
            await c.execute({ sql: "INSERT INTO t VALUES (?, randomblob(300))", args: [x] });
            sum += x;
          } else if (round % 3 === 1) {
            await c.batch([{ sql: "INSERT INTO t VALUES (?, randomblob(300))", args: [x] }, { sql: "INSERT INTO t VALUES (?, randomblob(300))", args: [x + 1] }], "write");
            sum += 2 * x + 1;
          } else {
            const tx = await c.transaction("write");
            try {
              await tx.execute({ sql: "INSERT INTO t VALUES (?, randomblob(300))", args: [x] });
              await tx.execute({ sql: "UPDATE t SET y = randomblob(100) WHERE x = ?", args: [x] });
              await tx.commit();
            } finally {
              tx.close();
            }
            sum += x;
          }
          acked++;
        }
      }),
    );
    assert.equal(acked, 1200);
    await waitUntil(async () => (await backupStatus(server))[0].lag_transactions === 0, "everything is shipped", 30_000);
    const s = (await backupStatus(server))[0];
    assert.ok(s.ok, s.last_error);
    // The 800 batches and interactive transactions, and the CREATE TABLE, commit alone; the 400
    // single INSERTs may share commits with those read in the same turn (relaxed group commit).
    assert.ok(s.transactions_shipped >= 802, `${s.transactions_shipped} shipped`);
  } finally {
    for (const c of clients) c.close();
    setup.close();
  }
  assert.equal(await server.stop({ keepDir: true }), 0);
  const primary = sqlite(join(server.dir, "dbs", "default", "data"), STATE);
  assert.match(primary, new RegExp(`^1600:${sum}:`));
  const { ours, theirs, oursPath } = restoreBoth(`file://${replica}`);
  assert.equal(ours, primary);
  assert.equal(theirs, primary);
  assert.equal(sqlite(oursPath, "PRAGMA integrity_check"), "ok");
  rmSync(server.dir, { recursive: true, force: true });
});
