// Replication benchmark (issue #13): real litehouse processes on loopback, a primary and a read
// replica (`serve --primary-url`), and the real @libsql/client. Run from tests/integration (where the
// packages are):   node ../../bench/replication.mjs BIN [SECONDS]
// Prints RESULT lines:
//   lag       commits paced at 1,000/s on the primary; each commit's lag is the time from its
//             acknowledgement until a read on the replica that carries its replication_index is
//             answered (so it includes one HTTP round trip to the replica)
//   lag_control  the same, the read sent to the primary itself: the round trip and the machine's
//             scheduling alone, to read the replica's figure against
//   lag_pinned   the lag again with the primary on core 0 and the replica on core 1 (taskset), so
//             that the two servers' SQL pools do not compete for the same cores, as on two machines
//             (Node unpinned): the figure the p99 goal is read against
//   apply     the primary's commit rate under 32 concurrent writers beside the replica's apply rate
//             (transactions applied per second from the first commit until it caught up)
//   bootstrap the time a new replica takes to copy a 100 MB database before it serves
//   sync      an embedded replica's sync() of 10,000 frames (@libsql/client, url file: + syncUrl)
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import http from "node:http";

const require = createRequire(resolve(process.cwd(), "package.json"));
const { createClient } = require("@libsql/client");
const [BIN, secondsArg] = process.argv.slice(2);
const SECONDS = Number(secondsArg ?? 5);
const dirs = [];
const procs = [];

// `cpu`: the core to pin the server to (taskset), or none.
async function serve(args, cpu) {
  const dir = mkdtempSync(join(tmpdir(), "litehouse-bench-repl-"));
  dirs.push(dir);
  const argv = [BIN, "serve", "--db-path", dir, "--http-listen-addr", "127.0.0.1:0", ...args];
  if (cpu !== undefined) argv.unshift("taskset", "-c", String(cpu));
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
  procs.push(child);
  let err = "";
  const started = performance.now();
  const port = await new Promise((res, rej) => {
    child.stderr.on("data", (c) => {
      err += c;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(err);
      if (m) res(Number(m[1]));
    });
    child.on("exit", (code) => rej(new Error(`exited ${code}: ${err}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child, startMs: performance.now() - started };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function post(url, body) {
  return new Promise((res, rej) => {
    const req = http.request(url, { method: "POST", agent, headers: { "content-type": "application/json" } }, (r) => {
      let data = "";
      r.on("data", (c) => (data += c));
      r.on("end", () => res(JSON.parse(data)));
    });
    req.on("error", rej);
    req.end(JSON.stringify(body));
  });
}
const status = async (server) => (await fetch(`${server.url}/replication/status`)).json();
async function caughtUp(primary, replica) {
  const p = await status(primary);
  for (;;) {
    const r = await status(replica);
    if (r.frame_no !== null && r.frame_no >= p.frame_no && r.log_id === p.log_id) return;
    await new Promise((res) => setTimeout(res, 2));
  }
}
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};
const stop = async (child) => {
  if (child.exitCode !== null) return;
  await new Promise((res) => {
    child.once("exit", res);
    child.kill("SIGTERM");
  });
};

try {
  // ---- lag at 1,000 commits/s ----
  // Run twice: reading on the primary itself (the control: what the harness's own HTTP round trip and
  // this machine's scheduling cost), then on the replica.
  for (const target of ["primary", "replica", "pinned"]) {
    const pinned = target === "pinned";
    const primary = await serve([], pinned ? 0 : undefined);
    const replica = await serve(["--primary-url", primary.url], pinned ? 1 : undefined);
    const reader = target === "primary" ? primary : replica;
    await post(`${primary.url}/v3/pipeline`, { requests: [{ type: "execute", stmt: { sql: "CREATE TABLE lag(id INTEGER PRIMARY KEY, v TEXT)" } }, { type: "close" }] });
    await caughtUp(primary, replica);
    const lags = [];
    const pending = [];
    const rate = 1000;
    const total = rate * SECONDS;
    const t0 = performance.now();
    let sent = 0;
    // Open loop: commit i is sent at t0 + i ms, from up to 16 writers in flight.
    const writer = async () => {
      for (;;) {
        const i = sent++;
        if (i >= total) return;
        const due = t0 + (i * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((res) => setTimeout(res, wait));
        const w = await post(`${primary.url}/v3/pipeline`, { requests: [{ type: "execute", stmt: { sql: "INSERT INTO lag(v) VALUES ('x')" } }, { type: "close" }] });
        const acked = performance.now();
        const index = w.results[0].response.result.replication_index;
        pending.push(
          post(`${reader.url}/v3/pipeline`, { requests: [{ type: "execute", stmt: { sql: "SELECT 1", replication_index: index } }, { type: "close" }] }).then((r) => {
            if (r.results[0].type === "ok") lags.push(performance.now() - acked);
          }),
        );
      }
    };
    await Promise.all(Array.from({ length: 16 }, writer));
    await Promise.all(pending);
    const elapsed = (performance.now() - t0) / 1000;
    const name = { primary: "lag_control", replica: "lag", pinned: "lag_pinned" }[target];
    console.log(`RESULT ${name} commits=${lags.length} rate=${(lags.length / elapsed).toFixed(0)} p50_ms=${pct(lags, 0.5).toFixed(2)} p99_ms=${pct(lags, 0.99).toFixed(2)}`);
    await stop(replica.child);
    await stop(primary.child);
  }

  // ---- apply rate beside the commit rate ----
  {
    const primary = await serve([]);
    const replica = await serve(["--primary-url", primary.url]);
    const p = createClient({ url: primary.url.replace("http", "ws") });
    await p.execute("CREATE TABLE app(id INTEGER PRIMARY KEY, v TEXT)");
    await caughtUp(primary, replica);
    const before = await status(replica);
    const t0 = performance.now();
    const end = t0 + SECONDS * 1000;
    let commits = 0;
    const clients = Array.from({ length: 32 }, () => createClient({ url: primary.url.replace("http", "ws") }));
    await Promise.all(clients.map(async (c) => {
      while (performance.now() < end) {
        await c.execute("INSERT INTO app(v) VALUES ('payload-payload-payload')");
        commits++;
      }
    }));
    const primarySeconds = (performance.now() - t0) / 1000;
    await caughtUp(primary, replica);
    const replicaSeconds = (performance.now() - t0) / 1000;
    const after = await status(replica);
    const applied = after.transactions_applied - before.transactions_applied;
    console.log(`RESULT apply primary_commits_per_s=${(commits / primarySeconds).toFixed(0)} replica_txns_per_s=${(applied / replicaSeconds).toFixed(0)} catch_up_ms=${((replicaSeconds - primarySeconds) * 1000).toFixed(0)}`);
    for (const c of clients) c.close();
    p.close();
    await stop(replica.child);
    await stop(primary.child);
  }

  // ---- bootstrap of a 100 MB database ----
  {
    const primary = await serve([]);
    const p = createClient({ url: primary.url.replace("http", "ws") });
    await p.execute("CREATE TABLE blob(id INTEGER PRIMARY KEY, b BLOB)");
    for (let i = 0; i < 100; i++) {
      await p.execute("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 256) INSERT INTO blob(b) SELECT randomblob(4000) FROM c");
    }
    const size = Number((await p.execute("SELECT page_count * page_size AS s FROM pragma_page_count, pragma_page_size")).rows[0].s);
    const replica = await serve(["--primary-url", primary.url]);
    console.log(`RESULT bootstrap bytes=${size} ms=${replica.startMs.toFixed(0)} mb_per_s=${(size / 1e6 / (replica.startMs / 1000)).toFixed(0)}`);
    p.close();
    await stop(replica.child);
    await stop(primary.child);
  }

  // ---- an embedded replica's sync() of 10,000 frames ----
  {
    const primary = await serve([]);
    const p = createClient({ url: primary.url.replace("http", "ws") });
    await p.execute("CREATE TABLE e(id INTEGER PRIMARY KEY, b BLOB)");
    const dir = mkdtempSync(join(tmpdir(), "litehouse-bench-embedded-"));
    dirs.push(dir);
    const local = createClient({ url: `file:${join(dir, "local.db")}`, syncUrl: primary.url });
    await local.sync();
    const from = (await status(primary)).frame_no;
    // Transactions of ~10 frames each until 10,000 frames were committed.
    while ((await status(primary)).frame_no - from < 10_000) {
      await p.execute("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 9) INSERT INTO e(b) SELECT randomblob(3500) FROM c");
    }
    const frames = (await status(primary)).frame_no - from;
    const t0 = performance.now();
    await local.sync();
    const ms = performance.now() - t0;
    console.log(`RESULT sync frames=${frames} ms=${ms.toFixed(0)} frames_per_s=${(frames / (ms / 1000)).toFixed(0)}`);
    local.close();
    p.close();
    await stop(primary.child);
  }
} finally {
  for (const c of procs) c.kill("SIGKILL");
  agent.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
