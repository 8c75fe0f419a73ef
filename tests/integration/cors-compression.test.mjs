// What sqld layers around every route (issue #12, item 5): CORS for any origin, method and header,
// and gzip for clients that accept it. Checked on the wire with raw requests, then with a real browser:
// headless Chromium (Debian's) loads a page from another origin that runs @libsql/client/web against
// the server, over HTTP and WebSocket, with an auth token (which needs the preflight to allow the
// Authorization header).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:http";
import http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { build } from "esbuild";
import { createClient } from "@libsql/client";
import { startServer, BIN } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
let server, token, keyDir;

before(async () => {
  keyDir = mkdtempSync(join(tmpdir(), "litehouse-cors-keys-"));
  const keygen = spawnSync(BIN, ["token", "keygen", "--dir", keyDir], { encoding: "utf8", timeout: 10_000 });
  assert.equal(keygen.status, 0, keygen.stderr);
  const create = spawnSync(BIN, ["token", "create", "--key", join(keyDir, "jwt_private.pem")], { encoding: "utf8", timeout: 10_000 });
  assert.equal(create.status, 0, create.stderr);
  token = create.stdout.trim();
  server = await startServer({ args: ["--auth-jwt-key-file", join(keyDir, "jwt_public.pem")] });
});
after(async () => {
  if (server) assert.equal(await server.stop(), 0);
  rmSync(keyDir, { recursive: true, force: true });
});

// One raw HTTP request (node's http: no decompression, every header visible). Resolves to
// {status, headers, body: Buffer}.
function request(method, path, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: server.port, method, path, headers, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}
const auth = () => ({ authorization: `Bearer ${token}` });
const pipeline = (sql) =>
  JSON.stringify({ baton: null, requests: [{ type: "execute", stmt: { sql } }, { type: "close" }] });

test("a CORS preflight is answered for any path, without credentials, allowing what the browser asks", async () => {
  for (const path of ["/v2/pipeline", "/v3/pipeline", "/v1/execute", "/v3-protobuf/cursor", "/dump"]) {
    const res = await request("OPTIONS", path, {
      headers: {
        origin: "http://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    assert.equal(res.status, 200, path);
    assert.equal(res.headers["access-control-allow-origin"], "*", path);
    assert.equal(res.headers["access-control-allow-methods"], "*", path);
    // Echoed, not "*": by the Fetch standard "*" does not cover Authorization.
    assert.equal(res.headers["access-control-allow-headers"], "authorization, content-type", path);
    assert.match(res.headers["vary"], /Origin/, path);
    assert.equal(res.body.length, 0);
  }
  // Without Access-Control-Request-Headers the headers allowed are "*".
  const bare = await request("OPTIONS", "/v2/pipeline", { headers: { origin: "http://x", "access-control-request-method": "POST" } });
  assert.equal(bare.status, 200);
  assert.equal(bare.headers["access-control-allow-headers"], "*");
  // An OPTIONS that is no preflight is no endpoint.
  assert.equal((await request("OPTIONS", "/v2/pipeline")).status, 405);
});

test("every response carries Access-Control-Allow-Origin: results, refusals, errors, the dump", async () => {
  const cases = [
    await request("POST", "/v2/pipeline", { headers: { ...auth(), "content-type": "application/json" }, body: pipeline("SELECT 1") }),
    await request("POST", "/v2/pipeline", { body: pipeline("SELECT 1") }), // no token: 401
    await request("GET", "/no/such/path"),
    await request("GET", "/health"),
    await request("GET", "/dump", { headers: auth() }),
    await request("POST", "/v1/execute", { headers: auth(), body: "{nope" }),
  ];
  assert.deepEqual(cases.map((r) => r.status), [200, 401, 404, 200, 200, 400]);
  for (const r of cases) assert.equal(r.headers["access-control-allow-origin"], "*", `status ${r.status}`);
});

test("a large response is gzip-compressed for a client that accepts gzip, and only then", async () => {
  const sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) SELECT i, 'row number ' || i AS label FROM n";
  const send = (acceptEncoding) =>
    request("POST", "/v3/pipeline", {
      headers: { ...auth(), "content-type": "application/json", ...(acceptEncoding ? { "accept-encoding": acceptEncoding } : {}) },
      body: pipeline(sql),
    });
  const plain = await send(undefined);
  assert.equal(plain.status, 200);
  assert.equal(plain.headers["content-encoding"], undefined);
  assert.match(plain.headers["vary"] ?? "", /Accept-Encoding/i);
  const rows = JSON.parse(plain.body).results[0].response.result.rows;
  assert.equal(rows.length, 2000);

  for (const accept of ["gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.5", "*"]) {
    const packed = await send(accept);
    assert.equal(packed.status, 200, accept);
    assert.equal(packed.headers["content-encoding"], "gzip", accept);
    assert.ok(packed.body.length < plain.body.length / 4, `${accept}: ${packed.body.length} of ${plain.body.length} bytes`);
    assert.equal(Number(packed.headers["content-length"]), packed.body.length);
    assert.deepEqual(JSON.parse(gunzipSync(packed.body)).results[0].response.result.rows, rows, accept);
  }
  for (const accept of ["identity", "gzip;q=0", "deflate", "*;q=0"]) {
    const res = await send(accept);
    assert.equal(res.headers["content-encoding"], undefined, accept);
    assert.equal(JSON.parse(res.body).results[0].response.result.rows.length, 2000, accept);
  }
  // A small response is not worth compressing.
  const small = await request("POST", "/v3/pipeline", {
    headers: { ...auth(), "content-type": "application/json", "accept-encoding": "gzip" },
    body: pipeline("SELECT 1"),
  });
  assert.equal(small.status, 200);
  assert.equal(small.headers["content-encoding"], undefined);
});

test("a response past 256 KiB (compressed on the SQL pool, not the network thread) arrives whole", async () => {
  const res = await request("POST", "/v3/pipeline", {
    headers: { ...auth(), "content-type": "application/json", "accept-encoding": "gzip" },
    body: pipeline(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) SELECT group_concat(printf('%08d', i), ',') AS s FROM n",
    ),
  });
  assert.equal(res.status, 200, String(res.body).slice(0, 300));
  assert.equal(res.headers["content-encoding"], "gzip");
  const s = JSON.parse(gunzipSync(res.body)).results[0].response.result.rows[0][0].value;
  assert.equal(s.length, 100000 * 9 - 1);
  assert.equal(s.slice(0, 18), "00000001,00000002,");
});

test("@libsql/client over HTTP reads compressed responses (its fetch asks for gzip)", async () => {
  const c = createClient({ url: server.url, authToken: token });
  try {
    const rs = await c.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) SELECT i FROM n");
    assert.equal(rs.rows.length, 5000);
    assert.equal(Number(rs.rows[4999].i), 5000);
  } finally {
    c.close();
  }
});

// A fetch (node's: it asks for gzip and decodes it) that notes each response's path and
// Content-Encoding in `seen`.
const recordingFetch = (seen) => async (input, init) => {
  const res = await fetch(input, init);
  const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
  seen.push({ path: url.pathname, encoding: res.headers.get("content-encoding") });
  return res;
};

// @libsql/client 0.17 speaks Hrana 2 over HTTP (no cursors: its batches and transactions are
// pipelines); Hrana 3 clients' cursors are checked in cursor-streaming.test.mjs.
test("@libsql/client over HTTP: a batch and a transaction with 5 MB results come whole and compressed", { timeout: 60_000 }, async () => {
  const seen = [];
  const c = createClient({ url: server.url, authToken: token, fetch: recordingFetch(seen) });
  const rows = 5000;
  const big = `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${rows}) SELECT i, printf('%01000d', i) AS pad FROM n`;
  const checkRows = (rs) => {
    assert.equal(rs.rows.length, rows);
    rs.rows.forEach((r, k) => {
      assert.equal(Number(r.i), k + 1);
      assert.equal(r.pad, String(k + 1).padStart(1000, "0"));
    });
  };
  try {
    await c.execute("CREATE TABLE IF NOT EXISTS gz_batch(x INTEGER)");
    const results = await c.batch([{ sql: "INSERT INTO gz_batch VALUES (?)", args: [7] }, big, "SELECT count(*) AS n FROM gz_batch"], "write");
    checkRows(results[1]);
    assert.equal(Number(results[2].rows[0].n), 1);
    const tx = await c.transaction("write");
    try {
      const inTx = await tx.batch([{ sql: "INSERT INTO gz_batch VALUES (?)", args: [8] }, big]);
      checkRows(inTx[1]);
      checkRows(await tx.execute(big));
      await tx.commit();
    } finally {
      tx.close();
    }
    assert.equal(Number((await c.execute("SELECT count(*) AS n FROM gz_batch")).rows[0].n), 2);
  } finally {
    c.close();
  }
  // The large responses came compressed.
  assert.ok(seen.filter((r) => r.encoding === "gzip").length >= 3, JSON.stringify(seen));
});

// The page the browser loads: @libsql/client/web (bundled by esbuild as an app would) run against
// the server over http:// and ws://, reporting its outcome by POSTing it back to the page's origin.
async function browserPage() {
  const bundle = await build({
    stdin: { contents: 'export { createClient } from "@libsql/client/web";', resolveDir: here },
    bundle: true,
    format: "esm",
    platform: "browser",
    write: false,
    logLevel: "silent",
  });
  const script = `
    import { createClient } from "/client.js";
    const report = (outcome) => fetch("/result", { method: "POST", body: JSON.stringify(outcome) });
    async function run(url) {
      const db = createClient({ url, authToken: ${JSON.stringify(token)} });
      try {
        await db.execute("CREATE TABLE IF NOT EXISTS browser_t(x INTEGER, via TEXT)");
        await db.batch([{ sql: "INSERT INTO browser_t VALUES (?, ?)", args: [1, url] }, { sql: "INSERT INTO browser_t VALUES (?, ?)", args: [2, url] }], "write");
        const tx = await db.transaction("write");
        await tx.execute({ sql: "INSERT INTO browser_t VALUES (3, ?)", args: [url] });
        await tx.commit();
        const rs = await db.execute({ sql: "SELECT sum(x) AS s FROM browser_t WHERE via = ?", args: [url] });
        const big = await db.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) SELECT i, 'label ' || i AS l FROM n");
        return { sum: Number(rs.rows[0].s), bigRows: big.rows.length, origin: location.origin };
      } finally {
        db.close();
      }
    }
    try {
      const outcome = {};
      outcome.http = await run("http://127.0.0.1:${server.port}");
      outcome.ws = await run("ws://127.0.0.1:${server.port}");
      await report({ ok: true, ...outcome });
    } catch (e) {
      await report({ ok: false, error: String(e && e.stack || e) });
    }`;
  return {
    js: bundle.outputFiles[0].text,
    html: `<!doctype html><html><head><meta charset="utf-8"><script type="module">${script}</script></head><body>litehouse</body></html>`,
  };
}

test("a browser page from another origin runs @libsql/client/web against the server (headless Chromium)", async () => {
  const page = await browserPage();
  let deliver;
  const outcome = new Promise((resolve) => (deliver = resolve));
  const site = createServer((req, res) => {
    if (req.method === "POST" && req.url === "/result") {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        res.end("ok");
        deliver(JSON.parse(body));
      });
      return;
    }
    const type = req.url === "/client.js" ? "text/javascript" : "text/html";
    res.writeHead(200, { "content-type": type });
    res.end(req.url === "/client.js" ? page.js : page.html);
  });
  await new Promise((r) => site.listen(0, "127.0.0.1", r));
  const sitePort = site.address().port;
  const profile = mkdtempSync(join(tmpdir(), "litehouse-chromium-"));
  // Loaded as http://localhost:PORT while the server is http://127.0.0.1:PORT: another origin twice over.
  const browser = spawn(
    "chromium",
    ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", `--user-data-dir=${profile}`,
     `http://localhost:${sitePort}/`],
    // Its own process group, so that its helper processes (renderer, GPU) end with it.
    { stdio: ["ignore", "ignore", "pipe"], detached: true },
  );
  let browserLog = "";
  browser.stderr.on("data", (c) => (browserLog += c));
  const exited = new Promise((r) => browser.once("exit", (code, signal) => r({ code, signal })));
  try {
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error(`no result from the browser within 60 s:\n${browserLog}`)), 60_000).unref());
    const early = exited.then(({ code, signal }) => {
      throw new Error(`chromium exited (${code ?? signal}) before reporting:\n${browserLog}`);
    });
    const result = await Promise.race([outcome, timeout, early]);
    assert.equal(result.ok, true, result.error);
    assert.deepEqual(result.http, { sum: 6, bigRows: 3000, origin: `http://localhost:${sitePort}` });
    assert.deepEqual(result.ws, { sum: 6, bigRows: 3000, origin: `http://localhost:${sitePort}` });
  } finally {
    try {
      process.kill(-browser.pid, "SIGKILL");
    } catch {}
    await exited;
    site.close();
    // A helper may still be leaving files as the group dies: retried, not raced.
    rmSync(profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 });
  }
  // The browser's writes are in the database, as any client's.
  const c = createClient({ url: server.url, authToken: token });
  try {
    const rs = await c.execute("SELECT count(*) AS n FROM browser_t");
    assert.equal(Number(rs.rows[0].n), 6);
  } finally {
    c.close();
  }
});
