// Litestream 0.5's LTX backups restored by `litehouse restore` (issue #14, item 2). No 0.5 CLI ships
// on npm, but its VFS extension does (litestream-vfs-linux-amd64@0.5.17): with LITESTREAM_WRITE_ENABLED
// it writes a database as real LTX files (one level-0 file per sync, here one per sqlite3 session),
// with Litestream's own file client (ltx/0/…) and S3 client (<path>/0000/…, here into s3rver). Each
// state is read back through the VFS itself, whose hydration writes the database file as
// Litestream 0.5's restore does; `litehouse restore` must give the same rows and the same bytes, at
// the latest TXID, at each -txid and at a -timestamp. LTX files in the older page
// encoding (one LZ4 frame per page, ltx 0.5.0/0.5.1), which 0.5.17 no longer writes, are made here
// by a small independent encoder and checked by opening them with the real VFS first. Corrupt and
// missing files are refused, naming the file, and leave no output behind.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import S3rver from "s3rver";
import lz4 from "lz4js";
import xxh32 from "lz4js/xxh32.js";
import { createClient } from "@libsql/client";
import { BIN, startServer } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const VFS = resolve(here, "node_modules/litestream-vfs-linux-amd64/litestream-vfs.so");
const KEYS = { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" };
const tempDirs = [];
const tempDir = (prefix = "litehouse-ltx-") => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
};
let s3, endpoint, s3dir;
before(async () => {
  s3dir = tempDir("litehouse-ltx-s3rver-");
  s3 = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory: s3dir, configureBuckets: [{ name: "backups" }] });
  const { port } = await s3.run();
  endpoint = `127.0.0.1:${port}`;
});
after(async () => {
  await s3?.close();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

// Asynchronous: s3rver runs in this process, so a synchronous spawn would keep it from answering.
const run = (cmd, args, { env = {}, input, cwd } = {}) =>
  new Promise((resolvePromise) => {
    const e = { ...process.env, ...env };
    delete e.AWS_CA_BUNDLE;  // the VFS's AWS SDK refuses a CA bundle with its HTTP client
    const child = spawn(cmd, args, { env: e, cwd, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("exit", (status, signal) => {
      clearTimeout(timer);
      resolvePromise({ status, signal, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
  });

// The rows of t: their number, the sum of x and a hash of every y.
const STATE = "SELECT count(*) || ':' || coalesce(sum(x), 0) || ':' || coalesce(hex(sha3(group_concat(hex(y), ','))), '') FROM t;";
const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");

// One sqlite3 session on the database the VFS keeps at `url`: write mode makes one LTX file per
// session (the sync interval is longer than any session; the VFS syncs when it closes).
const vfs = async (url, sql, { write = false, env: extra = {} } = {}) => {
  const env = { ...KEYS, LITESTREAM_REPLICA_URL: url, LITESTREAM_SYNC_INTERVAL: "1h", ...extra };
  if (write) env.LITESTREAM_WRITE_ENABLED = "true";
  const r = await run("sqlite3", ["-bail"], { env, cwd: tempDir("litehouse-ltx-vfs-"), input: `.load ${VFS}\n.open file:app.db?vfs=litestream\n${sql}\n` });
  const lines = r.stdout.split("\n").filter((l) => l && !l.startsWith("time="));  // the VFS logs on stdout
  assert.equal(r.status, 0, `sqlite3 on the VFS failed: ${r.stderr}${r.stdout}`);
  assert.doesNotMatch(r.stderr, /Error/i, r.stderr);
  return lines;
};
// What Litestream itself makes of the replica at its latest TXID: the TXID and the rows read through
// the VFS, and the database file that the VFS "hydrates" (restores in the background with Litestream
// 0.5's own restore: its compactor and DecodeDatabaseTo), its rows and integrity_check, to compare
// ours with byte for byte. (integrity_check through the VFS itself is not asked: after a VACUUM
// shrank the database, 0.5.17's VFS still reports the old size and SQLite calls the pages past the
// new end "never used"; the LTX files and the hydrated file have the new size.) The hydrated file is
// kept at close only once whole (its .meta file then says the TXID); a session that ends before it
// is tried again.
const litestreamState = async (url) => {
  for (let attempt = 0; attempt < 10; attempt++) {
    const dir = tempDir("litehouse-ltx-hydrated-");
    const file = join(dir, "h.db");
    const env = { LITESTREAM_HYDRATION_ENABLED: "true", LITESTREAM_HYDRATION_PATH: file };
    const [txid, vfsRows] = await vfs(url, `SELECT litestream_txid(); ${STATE}`, { env });
    if (!existsSync(`${file}.meta`)) continue;
    assert.equal(Number(readFileSync(`${file}.meta`, "utf8")), parseInt(txid, 16), "hydrated at the TXID read");
    const q = await run("sqlite3", [file, `${STATE} PRAGMA integrity_check;`]);
    assert.equal(q.status, 0, q.stderr);
    const [rows, integrity] = q.stdout.trim().split("\n");
    assert.equal(rows, vfsRows, "the VFS and its hydrated file have the same rows");
    return { txid, rows, integrity, pages: sha256(readFileSync(file)) };
  }
  assert.fail("the VFS never finished hydrating the database in 10 sessions");
};

// `litehouse restore`: the restored database's rows, pages and integrity, or the failure.
const restore = async (url, flags = []) => {
  const out = join(tempDir("litehouse-ltx-restored-"), "r.db");
  const r = await run(BIN, ["restore", "-o", out, ...flags, url], { env: KEYS });
  if (r.status !== 0) return { status: r.status, stderr: r.stderr, out };
  assert.deepEqual(readdirSync(dirname(out)), ["r.db"], "nothing beside the database (no .tmp, -wal, -shm)");
  const q = await run("sqlite3", [out, `${STATE} PRAGMA integrity_check;`]);
  assert.equal(q.status, 0, q.stderr);
  const [rows, integrity] = q.stdout.trim().split("\n");
  return { status: 0, stderr: r.stderr, rows, integrity, pages: sha256(readFileSync(out)) };
};
const assertRestores = async (url, flags, expected) => {
  const got = await restore(url, flags);
  assert.equal(got.status, 0, got.stderr);
  assert.equal(got.integrity, "ok");
  assert.equal(got.rows, expected.rows, `rows after ${flags.join(" ") || "latest"}`);
  assert.equal(got.pages, expected.pages, `pages after ${flags.join(" ") || "latest"}`);
  if (expected.txid) assert.match(got.stderr, new RegExp(`to TXID ${expected.txid} from \\d+ LTX files`));
};

const WRITES = [
  "CREATE TABLE t(x INTEGER, y BLOB); INSERT INTO t SELECT value, randomblob(300) FROM generate_series(1, 200);",
  "INSERT INTO t SELECT value, randomblob(3000) FROM generate_series(1000, 1100);",  // overflow pages
  "UPDATE t SET y = randomblob(100) WHERE x % 3 = 0; DELETE FROM t WHERE x BETWEEN 20 AND 60;",
  "DELETE FROM t WHERE x >= 1050; VACUUM;",  // the database shrinks
];
// The database written through the VFS session by session; the state at each TXID as the VFS reads it.
const writeThroughVfs = async (url) => {
  const states = [];
  for (const sql of WRITES) {
    await vfs(url, sql, { write: true });
    states.push(await litestreamState(url));
  }
  assert.deepEqual(states.map((s) => s.txid), ["0000000000000001", "0000000000000002", "0000000000000003", "0000000000000004"]);
  for (const s of states) assert.equal(s.integrity, "ok");
  return states;
};
const ltxTimestamp = (file) => Number(readFileSync(file).readBigUInt64BE(32));

test("real LTX files from Litestream 0.5.17's VFS (file://) restore to the same rows and pages, at each TXID and time", async () => {
  const replica = join(tempDir(), "replica");
  const url = `file://${replica}`;
  const states = await writeThroughVfs(url);
  const files = readdirSync(join(replica, "ltx/0")).sort();
  assert.deepEqual(files, [1, 2, 3, 4].map((n) => `000000000000000${n}-000000000000000${n}.ltx`));
  assert.ok(states[3].rows !== states[1].rows);

  await assertRestores(url, [], states[3]);
  for (let n = 1; n <= 4; n++) await assertRestores(url, ["-txid", `${n}`], states[n - 1]);
  // A time: the header's timestamp, the file's time as Litestream writes it; at a file's very time
  // its state, after the last write the latest.
  const t2 = ltxTimestamp(join(replica, "ltx/0", files[1]));
  await assertRestores(url, ["-timestamp", new Date(t2).toISOString()], states[1]);
  await assertRestores(url, ["-timestamp", new Date(Date.now() + 3600_000).toISOString()], states[3]);
  const early = await restore(url, ["-timestamp", "2001-01-01T00:00:00Z"]);
  assert.equal(early.status, 1);
  assert.match(early.stderr, /no matching backups found/);
  const beyond = await restore(url, ["-txid", "9"]);
  assert.equal(beyond.status, 1);
  assert.match(beyond.stderr, /TXID 0000000000000009 is not in the backup \(its files end at TXID 0000000000000004\)/);
  const bad = await restore(url, ["-txid", "xyz"]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--txid xyz is not a hexadecimal TXID/);
});

test("real LTX files written by the VFS's S3 client into s3rver (<path>/0000/…) restore from s3://", async () => {
  const url = `s3://backups/vfs/app?endpoint=${endpoint}&region=us-east-1&forcePathStyle=true`;
  const states = await writeThroughVfs(`s3://backups/vfs/app?endpoint=http://${endpoint}&region=us-east-1&forcePathStyle=true`);
  assert.ok(existsSync(join(s3dir, "backups/vfs/app/0000/0000000000000004-0000000000000004.ltx._S3rver_object")), "S3's layout");
  await assertRestores(url, [], states[3]);
  await assertRestores(url, ["-txid", "2"], states[1]);
});

test("a corrupt LTX file or a missing one is refused, naming it, and no output is left behind", async () => {
  const replica = join(tempDir(), "replica");
  await writeThroughVfs(`file://${replica}`);
  const copy = (name) => {
    const d = join(tempDir(), name);
    cpSync(replica, d, { recursive: true });
    return d;
  };
  const noOutput = (r) => {
    assert.ok(!existsSync(r.out), "no database");
    assert.ok(!existsSync(`${r.out}.tmp`), "no temporary file");
  };
  // One byte flipped in the third file: the last byte of its first page's LZ4 block, always a
  // literal (LZ4 ends a block with literals), so the page decodes, different, and only the file
  // checksum can tell.
  const corrupt = copy("corrupt");
  const third = join(corrupt, "ltx/0/0000000000000003-0000000000000003.ltx");
  const bytes = readFileSync(third);
  assert.equal(bytes.readUInt16BE(104), 1, "the block encoding (0.5.17)");
  bytes[110 + bytes.readUInt32BE(106) - 1] ^= 0x55;
  writeFileSync(third, bytes);
  let r = await restore(`file://${corrupt}`);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /ltx\/0\/0000000000000003-0000000000000003\.ltx: file checksum mismatch/);
  noOutput(r);
  // Up to before it restores.
  assert.equal((await restore(`file://${corrupt}`, ["-txid", "2"])).status, 0);

  // The second file missing: a gap, named, for the latest state and for a TXID past it.
  const gap = copy("gap");
  rmSync(join(gap, "ltx/0/0000000000000002-0000000000000002.ltx"));
  for (const flags of [[], ["-txid", "4"]]) {
    r = await restore(`file://${gap}`, flags);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /non-contiguous LTX files: the chain ends at TXID 0000000000000001, but the next file, ltx\/0\/0000000000000003-0000000000000003\.ltx, begins at TXID 0000000000000003/);
    noOutput(r);
  }
});

test("a server booting on an empty volume restores an LTX backup; once it has backed up in 0.3's layout, that is newest, and -txid still reads LTX", async () => {
  const replica = join(tempDir(), "replica");
  const url = `file://${replica}`;
  const states = await writeThroughVfs(url);
  const server = await startServer({ args: ["--backup-url", url, "--backup-interval", "50ms"] });
  const client = createClient({ url: server.url });
  try {
    const rs = await client.execute("SELECT count(*) || ':' || coalesce(sum(x), 0) AS s FROM t");  // (no sha3 in the server)
    assert.equal(rs.rows[0].s, states[3].rows.split(":").slice(0, 2).join(":"));
    assert.match(server.stderr, /restored .* from the backup at file:.* \(Litestream 0\.5's LTX files: 4, up to TXID 0000000000000004\)/);
  } finally {
    client.close();
  }
  assert.equal(await server.stop(), 0);
  assert.ok(readdirSync(join(replica, "generations")).length === 1, "the server backs up in 0.3's layout beside the LTX files");
  const latest = await restore(url);
  assert.equal(latest.status, 0, latest.stderr);
  assert.match(latest.stderr, /from generation [0-9a-f]{16}/, "0.3's layout was written last");
  assert.equal(latest.rows, states[3].rows);
  await assertRestores(url, ["-txid", "3"], states[2]);
});

// --- LTX files in ltx 0.5.0's page encoding, made by an encoder written here from the format ---

const CRC_TABLE = (() => {
  const poly = 0xd800000000000000n;
  return Array.from({ length: 256 }, (_, i) => {
    let c = BigInt(i);
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    return c;
  });
})();
const crc64 = (crc, buf) => {
  crc = ~crc & 0xffffffffffffffffn;
  for (const b of buf) crc = CRC_TABLE[Number((crc ^ BigInt(b)) & 0xffn)] ^ (crc >> 8n);
  return ~crc & 0xffffffffffffffffn;
};
const uvarint = (v) => {
  const out = [];
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
};
// One LZ4 frame of `page` as ltx 0.5.0 wrote it (its Go decoder insists): with the content checksum,
// so that the frame ends with the end mark and that checksum. lz4js writes no content checksum: its
// frame's flag is set, its header checksum redone, the content's xxh32 appended.
const lz4Frame = (page) => {
  const plain = Buffer.from(lz4.compress(page));
  plain[4] |= 0x04;  // FLG: content checksum
  plain[6] = (xxh32.hash(0, plain, 4, 2) >>> 8) & 0xff;  // HC: the descriptor's checksum
  const sum = Buffer.alloc(4);
  sum.writeUInt32LE(xxh32.hash(0, page, 0, page.length) >>> 0);
  return Buffer.concat([plain, sum]);
};
// An LTX file of `pages` (Map pgno -> Buffer), each page one LZ4 frame (flags 0), NoChecksum.
const encodeFrameLtx = ({ pageSize, commit, minTxid, maxTxid, timestamp }, pages) => {
  const header = Buffer.alloc(100);
  header.write("LTX1", 0);
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(pageSize, 8);
  header.writeUInt32BE(commit, 12);
  header.writeBigUInt64BE(BigInt(minTxid), 16);
  header.writeBigUInt64BE(BigInt(maxTxid), 24);
  header.writeBigUInt64BE(BigInt(timestamp), 32);
  const parts = [header];
  let crc = crc64(0n, header), offset = 100;
  const index = [];
  for (const [pgno, page] of [...pages].sort((a, b) => a[0] - b[0])) {
    const h = Buffer.alloc(6);
    h.writeUInt32BE(pgno, 0);
    const frame = lz4Frame(page);
    crc = crc64(crc64(crc, h), page);
    parts.push(h, frame);
    index.push(uvarint(pgno), uvarint(offset), uvarint(6 + frame.length));
    offset += 6 + frame.length;
  }
  const tail = Buffer.concat([Buffer.alloc(6), ...index, uvarint(0)]);
  const indexLength = Buffer.alloc(8);
  indexLength.writeBigUInt64BE(BigInt(tail.length - 6));
  const postApply = Buffer.alloc(8);
  crc = crc64(crc, Buffer.concat([tail, indexLength, postApply]));
  const checksum = Buffer.alloc(8);
  checksum.writeBigUInt64BE(crc | (1n << 63n));
  return Buffer.concat([...parts, tail, indexLength, postApply, checksum]);
};

test("LTX files in the older page encoding (an LZ4 frame per page), checked by the real VFS, restore to the same database", async () => {
  // A database made by sqlite3 (1024-byte pages, WAL mode as Litestream's), then a change to it.
  const work = tempDir();
  const db = join(work, "source.db");
  const sqlite = async (sql) => {
    const r = await run("sqlite3", [db, sql]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  await sqlite("PRAGMA page_size=1024; PRAGMA journal_mode=WAL; CREATE TABLE t(x INTEGER, y BLOB); INSERT INTO t SELECT value, randomblob(200) FROM generate_series(1, 100); PRAGMA wal_checkpoint(TRUNCATE);");
  const pagesOf = (buf) => new Map(Array.from({ length: buf.length / 1024 }, (_, i) => [i + 1, buf.subarray(i * 1024, (i + 1) * 1024)]));
  const before = readFileSync(db);
  await sqlite("UPDATE t SET y = randomblob(50) WHERE x <= 40; INSERT INTO t SELECT value, randomblob(900) FROM generate_series(500, 530); PRAGMA wal_checkpoint(TRUNCATE);");
  const after = readFileSync(db);
  const changed = new Map([...pagesOf(after)].filter(([pgno, page]) => pgno > before.length / 1024 || !page.equals(before.subarray((pgno - 1) * 1024, pgno * 1024))));
  assert.ok(changed.size > 1 && changed.size < after.length / 1024, `${changed.size} pages changed`);

  const replica = join(work, "replica");
  mkdirSync(join(replica, "ltx/9"), { recursive: true });
  mkdirSync(join(replica, "ltx/0"), { recursive: true });
  const now = Date.now();
  writeFileSync(join(replica, "ltx/9/0000000000000001-0000000000000001.ltx"),
    encodeFrameLtx({ pageSize: 1024, commit: before.length / 1024, minTxid: 1, maxTxid: 1, timestamp: now - 1000 }, pagesOf(before)));
  writeFileSync(join(replica, "ltx/0/0000000000000002-0000000000000002.ltx"),
    encodeFrameLtx({ pageSize: 1024, commit: after.length / 1024, minTxid: 2, maxTxid: 2, timestamp: now }, changed));

  // The real VFS reads them: the same rows and the same pages as the source.
  const url = `file://${replica}`;
  const read = await litestreamState(url);
  assert.equal(read.txid, "0000000000000002");
  assert.equal(read.integrity, "ok");
  assert.equal(read.rows, await sqlite(STATE.slice(0, -1)));
  assert.equal(read.pages, sha256(after));
  // And so does litehouse restore.
  await assertRestores(url, [], { ...read, txid: "0000000000000002" });
  const beforeDb = join(work, "before.db");
  writeFileSync(beforeDb, before);
  const beforeRows = await run("sqlite3", [beforeDb, STATE]);
  await assertRestores(url, ["-txid", "1"], { rows: beforeRows.stdout.trim(), pages: sha256(before) });
});
