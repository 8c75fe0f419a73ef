// Replication from the primary (issue #13): the frame log captured at commit, served as sqld serves
// it to embedded replicas (gRPC-web `wal_log.ReplicationLog` on the HTTP port), driven by the real
// @libsql/client with `syncUrl` and by raw gRPC-web requests where the wire itself is the point.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, readFileSync, mkdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { startServer, BIN, tempDirMaker } from "./harness.mjs";
import { waitUntil } from "./raw-http.mjs";

const tempDir = tempDirMaker();

// ---- a little protobuf and gRPC-web, for the raw calls ----

const varint = (n) => {
  const out = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
};
// Decodes a message into {field: [values]}: varints as BigInt, length-delimited as Buffer.
function decodePb(buf) {
  const fields = {};
  let i = 0;
  const readVarint = () => {
    let v = 0n, shift = 0n;
    while (true) {
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(readVarint());
    const field = key >> 3, wire = key & 7;
    let value;
    if (wire === 0) value = readVarint();
    else if (wire === 2) {
      const n = Number(readVarint());
      value = buf.subarray(i, i + n);
      i += n;
    } else if (wire === 1) {
      value = buf.subarray(i, i + 8);
      i += 8;
    } else throw new Error(`wire type ${wire}`);
    (fields[field] ??= []).push(value);
  }
  return fields;
}
// One gRPC-web call: resolves to {status, message, messages: [Buffer]} (grpc-status from the trailer).
async function grpc(server, method, body, headers = {}) {
  const payload = Buffer.from(body);
  const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), payload]);
  framed.writeUInt32BE(payload.length, 1);
  const res = await fetch(`${server.url}/wal_log.ReplicationLog/${method}`, {
    method: "POST",
    headers: { "content-type": "application/grpc-web", "x-namespace-bin": "MTI3", ...headers },
    body: framed,
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/grpc-web+proto");
  const buf = Buffer.from(await res.arrayBuffer());
  const messages = [];
  let trailer = "";
  for (let i = 0; i < buf.length; ) {
    const flag = buf[i], n = buf.readUInt32BE(i + 1);
    const data = buf.subarray(i + 5, i + 5 + n);
    if (flag & 0x80) trailer = data.toString();
    else messages.push(data);
    i += 5 + n;
  }
  const status = Number(/grpc-status:(\d+)/.exec(trailer)?.[1]);
  const message = decodeURIComponent(/grpc-message:([^\r]*)/.exec(trailer)?.[1] ?? "");
  return { status, message, messages };
}
const hello = async (server, headers) => {
  const r = await grpc(server, "Hello", [0x08, 0x01], headers);
  if (r.status !== 0) return r;
  const f = decodePb(r.messages[0]);
  return {
    ...r,
    logId: f[3]?.[0]?.toString(),
    sessionToken: f[4]?.[0]?.toString(),
    index: f[5] ? Number(f[5][0]) : undefined,
  };
};
const logOffset = (n) => (n === 0 ? [] : [0x08, ...varint(n)]);
// The frames of a BatchLogEntries answer: [{frameNo, pageNo, sizeAfter, page}].
const framesOf = (r) =>
  (decodePb(r.messages[0])[1] ?? []).map((frameMsg) => {
    const data = decodePb(frameMsg)[1][0];
    assert.equal(data.length, 4120, "a frame is a 24-byte header and a 4096-byte page");
    return { frameNo: Number(data.readBigUInt64LE(0)), pageNo: data.readUInt32LE(16), sizeAfter: data.readUInt32LE(20), page: data.subarray(24) };
  });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// The SHA-256 of a database file after its WAL is checkpointed into it (sqlite3's CLI).
function checkpointedHash(path) {
  const r = spawnSync("sqlite3", [path, "PRAGMA wal_checkpoint(TRUNCATE);"], { encoding: "utf8", timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

async function fill(client, from, count, tag = "row") {
  await client.execute("CREATE TABLE IF NOT EXISTS items(id INTEGER PRIMARY KEY, label TEXT, pad BLOB)");
  const stmts = [];
  for (let i = from; i < from + count; i++) stmts.push({ sql: "INSERT INTO items VALUES (?, ?, randomblob(300))", args: [i, `${tag} ${i}`] });
  for (let i = 0; i < stmts.length; i += 50) await client.batch(stmts.slice(i, i + 50), "write");
}
const summary = async (client) => (await client.execute("SELECT count(*) AS n, sum(id) AS s, group_concat(label) AS labels FROM items")).rows[0];

describe("an embedded replica (@libsql/client syncUrl) against the primary", () => {
  let server, remote;
  before(async () => {
    server = await startServer();
    remote = createClient({ url: server.url });
  });
  after(async () => {
    remote?.close();
    if (server) assert.equal(await server.stop(), 0);
  });

  test("bootstraps, reads locally, and syncs what the primary commits next; the files are identical", async () => {
    await fill(remote, 0, 200);
    const dir = tempDir("litehouse-replica-");
    const local = createClient({ url: `file:${join(dir, "local.db")}`, syncUrl: server.url });
    try {
      const first = await local.sync();
      assert.ok(first.frames_synced > 0, JSON.stringify(first));
      assert.deepEqual(await summary(local), await summary(remote));
      await fill(remote, 200, 100, "later");
      await remote.execute("UPDATE items SET label = 'changed' WHERE id % 7 = 0");
      await remote.execute("DELETE FROM items WHERE id % 11 = 0");
      const second = await local.sync();
      assert.ok(second.frames_synced > 0);
      assert.ok(second.frame_no > first.frame_no);
      assert.deepEqual(await summary(local), await summary(remote));
      // Up to date: nothing more comes.
      const third = await local.sync();
      assert.equal(third.frames_synced, 0);
      assert.equal(third.frame_no, second.frame_no);
      const h = await hello(server);
      assert.equal(h.index, second.frame_no, "the replica stands at the primary's last frame");
    } finally {
      local.close();
    }
    // Page for page: the replica's file is the primary's (both checkpointed; the primary stopped cleanly).
    const replicaHash = checkpointedHash(join(dir, "local.db"));
    const expected = await summary(remote);
    remote.close();
    remote = undefined;
    assert.equal(await server.stop({ keepDir: true }), 0);
    const primaryHash = checkpointedHash(join(server.dir, "dbs", "default", "data"));
    assert.equal(replicaHash, primaryHash);
    server = await startServer({ dbPath: server.dir });
    remote = createClient({ url: server.url });
    assert.deepEqual(await summary(remote), expected, "the primary serves the same data after its restart");
  });

  test("the wire: Hello, BatchLogEntries from 0 in whole transactions, none past the end, NO_HELLO for a stale session", async () => {
    const h = await hello(server);
    assert.equal(h.status, 0, h.message);
    assert.match(h.logId, UUID);
    assert.match(h.sessionToken, UUID);
    assert.equal(typeof h.index, "number");
    const batch = await grpc(server, "BatchLogEntries", logOffset(0), { "x-session-token": h.sessionToken });
    assert.equal(batch.status, 0, batch.message);
    const frames = framesOf(batch);
    assert.ok(frames.length > 0);
    frames.forEach((f, i) => assert.equal(f.frameNo, i, "frame numbers count from 0, one by one"));
    assert.notEqual(frames.at(-1).sizeAfter, 0, "a batch ends on a commit frame");
    assert.ok(frames.every((f) => f.pageNo >= 1));
    // Past the last frame: an empty Frames.
    const past = await grpc(server, "BatchLogEntries", logOffset(h.index + 1), { "x-session-token": h.sessionToken });
    assert.equal(past.status, 0);
    assert.deepEqual(framesOf(past), []);
    // A session token from another server process is stale.
    const stale = await grpc(server, "BatchLogEntries", logOffset(0), { "x-session-token": "00000000-0000-4000-8000-000000000000" });
    assert.equal(stale.status, 9);
    assert.equal(stale.message, "NO_HELLO");
    // Hrana results say where the log stands after them (sqld's replication_index), over HTTP
    // (execute and batch) and WebSocket, so a client can wait for a replica to reach its write.
    const write = await fetch(`${server.url}/v3/pipeline`, {
      method: "POST",
      body: JSON.stringify({
        requests: [
          { type: "execute", stmt: { sql: "INSERT INTO items(label) VALUES ('indexed')" } },
          { type: "batch", batch: { steps: [{ stmt: { sql: "SELECT 1" } }] } },
          { type: "close" },
        ],
      }),
    }).then((r) => r.json());
    const after = await hello(server);
    assert.ok(after.index > h.index, "the write added frames");
    assert.equal(write.results[0].response.result.replication_index, String(after.index));
    assert.equal(write.results[1].response.result.replication_index, String(after.index));
    // GET /info is 404, so clients choose this protocol; an unknown method is UNIMPLEMENTED.
    assert.equal((await fetch(`${server.url}/info`)).status, 404);
    const unknown = await grpc(server, "Nope", []);
    assert.equal(unknown.status, 12);
  });

  test("a clean restart keeps the history: the replica goes on without bootstrapping again", async () => {
    const dir = tempDir("litehouse-replica-");
    const path = join(dir, "local.db");
    let local = createClient({ url: `file:${path}`, syncUrl: server.url });
    await local.sync();
    const logId = (await hello(server)).logId;
    local.close();
    remote.close();
    assert.equal(await server.stop({ keepDir: true }), 0);
    server = await startServer({ dbPath: server.dir });
    remote = createClient({ url: server.url });
    assert.equal((await hello(server)).logId, logId, "the same history");
    await fill(remote, 1000, 10, "after restart");
    local = createClient({ url: `file:${path}`, syncUrl: server.url });
    try {
      const s = await local.sync();
      assert.ok(s.frames_synced > 0 && s.frames_synced < 50, `only the new frames: ${JSON.stringify(s)}`);
      assert.deepEqual(await summary(local), await summary(remote));
    } finally {
      local.close();
    }
  });
});

test("after kill -9 the primary starts a new history, and a replica follows it", async () => {
  let server = await startServer();
  let remote = createClient({ url: server.url });
  await fill(remote, 0, 100);
  const dir = tempDir("litehouse-replica-");
  const path = join(dir, "local.db");
  let local = createClient({ url: `file:${path}`, syncUrl: server.url });
  await local.sync();
  local.close();
  const before = (await hello(server)).logId;
  await fill(remote, 100, 50, "unsynced");
  remote.close();
  server.child.kill("SIGKILL");
  await new Promise((r) => server.child.once("exit", r));
  server = await startServer({ dbPath: server.dir });
  remote = createClient({ url: server.url });
  try {
    const h = await hello(server);
    assert.notEqual(h.logId, before, "the log could not be proven: a new log_id");
    assert.match(server.stderr, /not closed cleanly/);
    await fill(remote, 150, 10, "after crash");
    local = createClient({ url: `file:${path}`, syncUrl: server.url });
    await local.sync();
    assert.deepEqual(await summary(local), await summary(remote));
    assert.equal(Number((await summary(local)).n), 160);
    local.close();
  } finally {
    remote.close();
    assert.equal(await server.stop(), 0);
  }
});

test("compaction: past --max-log-size the log becomes a snapshot, and a new replica bootstraps from it", async () => {
  const server = await startServer({ args: ["--max-log-size", "1"] }); // 1 MB: about 242 frames
  const remote = createClient({ url: server.url });
  try {
    await fill(remote, 0, 3000); // ~1 MB of rows, several compactions
    const h = await hello(server);
    // Frame 0 was compacted away: BatchLogEntries(0) asks for the snapshot.
    let batch;
    for (let i = 0; i < 100; i++) {
      batch = await grpc(server, "BatchLogEntries", logOffset(0), { "x-session-token": h.sessionToken });
      if (batch.status === 9) break;
    }
    assert.equal(batch.status, 9, `expected NEED_SNAPSHOT: ${batch.status} ${batch.message}`);
    assert.equal(batch.message, "NEED_SNAPSHOT");
    // A fresh embedded replica goes through the snapshot and ends identical.
    const dir = tempDir("litehouse-replica-");
    const local = createClient({ url: `file:${join(dir, "local.db")}`, syncUrl: server.url });
    try {
      let s;
      for (let i = 0; i < 50; i++) {
        try {
          s = await local.sync();
          break;
        } catch (e) {
          // The snapshot of a compaction still being made is UNAVAILABLE for a moment.
          if (!/snapshot not found|Unavailable/i.test(String(e))) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      assert.ok(s, "synced");
      assert.deepEqual(await summary(local), await summary(remote));
    } finally {
      local.close();
    }
    assert.match(server.stderr, /replication log compacted/);
  } finally {
    remote.close();
    assert.equal(await server.stop(), 0);
  }
});

test("a database whose page size is not 4096 is served, and replication is refused saying why", async () => {
  const dir = tempDir("litehouse-pagesize-");
  mkdirSync(join(dir, "dbs", "default"), { recursive: true });
  const r = spawnSync("sqlite3", [join(dir, "dbs", "default", "data"), "PRAGMA page_size=8192; PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);"], {
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  const server = await startServer({ dbPath: dir });
  try {
    const remote = createClient({ url: server.url });
    assert.equal(Number((await remote.execute("SELECT count(*) AS n FROM t")).rows[0].n), 1);
    remote.close();
    const h = await hello(server);
    assert.equal(h.status, 9);
    assert.match(h.message, /page size is 8192 bytes; replication needs 4096.*PRAGMA page_size=4096; VACUUM/);
    assert.match(server.stderr, /replicas and embedded replicas are refused/);
  } finally {
    assert.equal(await server.stop(), 0);
  }
  assert.ok(existsSync(join(dir, "dbs", "default", "data")));
});

describe("replication with auth on", () => {
  let server, token, keyDir;
  before(async () => {
    keyDir = tempDir("litehouse-repl-keys-");
    assert.equal(spawnSync(BIN, ["token", "keygen", "--dir", keyDir]).status, 0);
    const created = spawnSync(BIN, ["token", "create", "--key", join(keyDir, "jwt_private.pem"), "--read-only"], { encoding: "utf8" });
    assert.equal(created.status, 0, created.stderr);
    token = created.stdout.trim();
    server = await startServer({ args: ["--auth-jwt-key-file", join(keyDir, "jwt_public.pem")] });
  });
  after(async () => {
    if (server) assert.equal(await server.stop(), 0);
  });

  test("the token comes in x-authorization; none or a bad one is UNAUTHENTICATED; /info stays 404", async () => {
    const anonymous = await grpc(server, "Hello", [0x08, 0x01]);
    assert.equal(anonymous.status, 16);
    assert.match(anonymous.message, /^AuthError: /);
    const bad = await grpc(server, "Hello", [0x08, 0x01], { "x-authorization": "Bearer not.a.token" });
    assert.equal(bad.status, 16);
    // A read-only token may replicate: the log is only read.
    const ok = await hello(server, { "x-authorization": `Bearer ${token}` });
    assert.equal(ok.status, 0, ok.message);
    for (const headers of [{}, { authorization: "Bearer not.a.token" }, { authorization: `Bearer ${token}` }]) {
      assert.equal((await fetch(`${server.url}/info`, { headers })).status, 404, JSON.stringify(headers));
    }
  });

  test("@libsql/client syncs with its authToken", async () => {
    const dir = tempDir("litehouse-replica-");
    const local = createClient({ url: `file:${join(dir, "local.db")}`, syncUrl: server.url, authToken: token });
    try {
      const s = await local.sync();
      assert.ok(s.frame_no >= 0, JSON.stringify(s));
      await local.execute("SELECT 1");
    } finally {
      local.close();
    }
  });
});

describe("an embedded replica's writes go to the primary (proxy.Proxy)", () => {
  let server, remote, dir;
  before(async () => {
    server = await startServer({ args: ["--stream-expiry-ms", "1500"] });
    remote = createClient({ url: server.url });
    await remote.execute("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT UNIQUE)");
    dir = tempDir("litehouse-replica-");
  });
  after(async () => {
    remote?.close();
    if (server) assert.equal(await server.stop(), 0);
  });

  test("a write is delegated, and read back locally at once (readYourWrites)", async () => {
    const local = createClient({ url: `file:${join(dir, "a.db")}`, syncUrl: server.url });
    try {
      await local.sync();
      const r = await local.execute({ sql: "INSERT INTO notes(body) VALUES (?)", args: ["from the replica"] });
      assert.equal(r.rowsAffected, 1);
      assert.equal(Number(r.lastInsertRowid), 1);
      assert.deepEqual((await local.execute("SELECT body FROM notes")).rows.map((x) => x.body), ["from the replica"]);
      assert.deepEqual((await remote.execute("SELECT body FROM notes")).rows.map((x) => x.body), ["from the replica"]);
      // Named arguments, every value type, through the proxy's values.
      await local.execute({ sql: "CREATE TABLE IF NOT EXISTS vals(i, r, t, b, n)" });
      await local.execute({ sql: "INSERT INTO vals VALUES (:i, :r, :t, :b, :n)", args: { i: 42, r: 2.5, t: "text", b: new Uint8Array([1, 2, 3]), n: null } });
      const row = (await remote.execute("SELECT typeof(i) AS ti, i, r, t, hex(b) AS b, n FROM vals")).rows[0];
      assert.equal(row.t, "text");
      assert.equal(Number(row.r), 2.5);
      assert.equal(row.b, "010203");
      assert.equal(row.n, null);
    } finally {
      local.close();
    }
  });

  test("an interactive transaction runs on the primary, a batch is atomic, errors carry SQLite's message", async () => {
    const local = createClient({ url: `file:${join(dir, "b.db")}`, syncUrl: server.url });
    try {
      await local.sync();
      const tx = await local.transaction("write");
      await tx.execute("INSERT INTO notes(body) VALUES ('in a transaction')");
      assert.equal(Number((await tx.execute("SELECT count(*) AS n FROM notes WHERE body = 'in a transaction'")).rows[0].n), 1);
      assert.equal(Number((await remote.execute("SELECT count(*) AS n FROM notes WHERE body = 'in a transaction'")).rows[0].n), 0, "not committed yet");
      await tx.commit();
      assert.equal(Number((await remote.execute("SELECT count(*) AS n FROM notes WHERE body = 'in a transaction'")).rows[0].n), 1);
      const rolled = await local.transaction("write");
      await rolled.execute("INSERT INTO notes(body) VALUES ('rolled back')");
      await rolled.rollback();
      assert.equal(Number((await remote.execute("SELECT count(*) AS n FROM notes WHERE body = 'rolled back'")).rows[0].n), 0);
      // A batch whose second statement fails leaves nothing.
      await assert.rejects(local.batch(["INSERT INTO notes(body) VALUES ('batch 1')", "INSERT INTO notes(body) VALUES ('from the replica')"], "write"), (e) => {
        assert.match(String(e.message), /UNIQUE constraint failed/);
        return true;
      });
      assert.equal(Number((await remote.execute("SELECT count(*) AS n FROM notes WHERE body = 'batch 1'")).rows[0].n), 0);
      await assert.rejects(local.execute("INSERT INTO notes(body) VALUES ('from the replica')"), /UNIQUE constraint failed: notes.body/);
      assert.deepEqual(await summaryOf(local), await summaryOf(remote));
    } finally {
      local.close();
    }
  });

  test("a transaction the primary rolled back while idle is reported, not continued in autocommit", async () => {
    const local = createClient({ url: `file:${join(dir, "c.db")}`, syncUrl: server.url });
    try {
      await local.sync();
      const tx = await local.transaction("write");
      await tx.execute("INSERT INTO notes(body) VALUES ('left idle')");
      await waitUntil(() => /with a transaction open: rolling it back/.test(server.stderr), "the idle stream expired", 20_000);
      await assert.rejects(tx.execute("INSERT INTO notes(body) VALUES ('after expiry')"), /rolled back after being idle/);
      await assert.rejects(tx.execute("SELECT 1"), /rolled back after being idle/, "still, until the client rolls back");
      await tx.rollback(); // succeeds: nothing is left to roll back
      assert.equal(Number((await remote.execute("SELECT count(*) AS n FROM notes WHERE body IN ('left idle', 'after expiry')")).rows[0].n), 0);
      // The client's next statement starts afresh.
      await local.execute("INSERT INTO notes(body) VALUES ('afresh')");
      assert.equal(Number((await remote.execute("SELECT count(*) AS n FROM notes WHERE body = 'afresh'")).rows[0].n), 1);
    } finally {
      local.close();
    }
  });
});

const summaryOf = async (client) => (await client.execute("SELECT count(*) AS n, group_concat(body, '|') AS bodies FROM notes")).rows[0];

test("a read-only token's embedded replica reads, and its writes are refused on the primary", async () => {
  const keyDir = tempDir("litehouse-repl-keys-");
  assert.equal(spawnSync(BIN, ["token", "keygen", "--dir", keyDir]).status, 0);
  const mint = (extra) => spawnSync(BIN, ["token", "create", "--key", join(keyDir, "jwt_private.pem"), ...extra], { encoding: "utf8" }).stdout.trim();
  const rw = mint([]), ro = mint(["--read-only"]);
  const server = await startServer({ args: ["--auth-jwt-key-file", join(keyDir, "jwt_public.pem")] });
  const remote = createClient({ url: server.url, authToken: rw });
  try {
    await remote.execute("CREATE TABLE t(x)");
    await remote.execute("INSERT INTO t VALUES (1)");
    const local = createClient({ url: `file:${join(tempDir("litehouse-replica-"), "ro.db")}`, syncUrl: server.url, authToken: ro });
    try {
      await local.sync();
      assert.equal(Number((await local.execute("SELECT count(*) AS n FROM t")).rows[0].n), 1);
      await assert.rejects(local.execute("INSERT INTO t VALUES (2)"), /read-only|not authorized/);
    } finally {
      local.close();
    }
    assert.equal(Number((await remote.execute("SELECT count(*) AS n FROM t")).rows[0].n), 1);
  } finally {
    remote.close();
    assert.equal(await server.stop(), 0);
  }
});

// A ProgramReq (proxy.proto) of one statement per step, for raw calls.
const bytesField = (field, buf) => Buffer.concat([Buffer.from([(field << 3) | 2, ...varint(buf.length)]), buf]);
const programReq = (clientId, statements) =>
  Buffer.concat([
    bytesField(1, Buffer.from(clientId)),
    bytesField(2, Buffer.concat(statements.map((sql) => bytesField(1, bytesField(2, bytesField(1, Buffer.from(sql))))))),
  ]);
const proxyCall = async (server, program) => {
  const r = await fetch(`${server.url}/proxy.Proxy/Execute`, {
    method: "POST",
    headers: { "content-type": "application/grpc-web" },
    body: (() => {
      const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), program]);
      framed.writeUInt32BE(program.length, 1);
      return framed;
    })(),
  });
  const buf = Buffer.from(await r.arrayBuffer());
  const n = buf.readUInt32BE(1);
  const results = decodePb(buf.subarray(5, 5 + n));
  // ExecuteResults: results (1) each a QueryResult with error (1) or row (2); state (2).
  return {
    errors: (results[1] ?? []).map((q) => decodePb(q)[1]).filter(Boolean).map((e) => decodePb(e[0])[2]?.[0]?.toString()),
    state: Number(results[2]?.[0] ?? 0n),
  };
};

test("proxy calls of one client_id sent at once run one after the other on its one stream", async () => {
  const server = await startServer();
  const remote = createClient({ url: server.url });
  try {
    await remote.execute("CREATE TABLE c(x)");
    for (let round = 0; round < 20; round++) {
      const id = `00000000-0000-4000-8000-${String(round).padStart(12, "0")}`;
      // Sent together: whichever runs first, both run on the client's one stream.
      const [a, b] = await Promise.all([
        proxyCall(server, programReq(id, ["BEGIN IMMEDIATE"])),
        proxyCall(server, programReq(id, [`INSERT INTO c VALUES (${round})`])),
      ]);
      assert.deepEqual([...a.errors, ...b.errors], [], `round ${round}`);
      const commit = await proxyCall(server, programReq(id, ["COMMIT"]));
      assert.deepEqual(commit.errors, [], `round ${round}: the COMMIT finds the transaction the BEGIN opened`);
      assert.equal(commit.state, 0, "INIT: no transaction left open");
    }
    // No stream was left holding the write lock: another client writes at once.
    await remote.execute("INSERT INTO c VALUES (-1)");
    assert.equal(Number((await remote.execute("SELECT count(*) AS n FROM c")).rows[0].n), 21);
  } finally {
    remote.close();
    assert.equal(await server.stop(), 0);
  }
});
