// Authentication and authorization against the real litehouse binary: `litehouse token` (keygen,
// create), JWT auth (--auth-jwt-key-file, SQLD_AUTH_JWT_KEY, several keys in one PEM), basic auth
// (--http-auth), over HTTP (raw requests and @libsql/client) and WebSocket (raw frames and
// @libsql/client). Every refusal is checked for its status, its body and for having changed nothing;
// a read-only token is driven through every write path we know of, and the database is compared
// with a read-write client before and after.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, LibsqlError } from "@libsql/client";
import { BIN, startServer, postJson, tempDirMaker } from "./harness.mjs";
import { openRaw, stmt, int, text } from "./ws-raw.mjs";

// ---------------------------------------------------------------------------------------------
// Helpers

const tempDir = tempDirMaker("litehouse-auth-");

// Runs the binary to completion (bounded) and returns {status, stdout, stderr}.
function cli(args, { env = {}, timeout = 10_000 } = {}) {
  const r = spawnSync(BIN, args, { encoding: "utf8", timeout, env: { ...process.env, ...env } });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

// `litehouse token keygen` into a fresh directory.
function keygen() {
  const dir = tempDir("litehouse-keys-");
  const r = cli(["token", "keygen", "--dir", dir]);
  assert.equal(r.status, 0, `keygen failed: ${r.stderr}`);
  const privatePath = join(dir, "jwt_private.pem");
  const publicPath = join(dir, "jwt_public.pem");
  return {
    dir,
    privatePath,
    publicPath,
    privatePem: readFileSync(privatePath, "utf8"),
    publicPem: readFileSync(publicPath, "utf8"),
    raw: r.stdout.trim(),
  };
}

// `litehouse token create`; returns the token.
function createToken(key, { readOnly = false, expiration } = {}) {
  const args = ["token", "create", "--key", key.privatePath];
  if (readOnly) args.push("--read-only");
  if (expiration) args.push("--expiration", expiration);
  const r = cli(args);
  assert.equal(r.status, 0, `token create failed: ${r.stderr}`);
  const token = r.stdout.trim();
  assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  return token;
}

const b64url = (x) => Buffer.from(typeof x === "string" ? x : JSON.stringify(x)).toString("base64url");
const decodePart = (part) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
const now = () => Math.floor(Date.now() / 1000);

// A compact JWS signed with Ed25519 by our own code (node's crypto), header and payload as given.
function signEd25519(privatePem, header, payload) {
  const signingInput = `${b64url(header)}.${b64url(payload)}`;
  const sig = crypto.sign(null, Buffer.from(signingInput), privatePem);
  return `${signingInput}.${sig.toString("base64url")}`;
}

function hs256(secret, header, payload) {
  const signingInput = `${b64url(header)}.${b64url(payload)}`;
  const sig = crypto.createHmac("sha256", secret).update(signingInput).digest();
  return `${signingInput}.${sig.toString("base64url")}`;
}

const ED_HEADER = { alg: "EdDSA", typ: "JWT" };

// Asserts a rejection with a LibsqlError whose code is one of `codes`; returns the error.
async function rejectsLibsql(promiseOrFn, codes, label) {
  let err;
  await assert.rejects(
    typeof promiseOrFn === "function" ? promiseOrFn() : promiseOrFn,
    (e) => {
      err = e;
      return true;
    },
    `${label}: expected a rejection`,
  );
  assert.ok(err instanceof LibsqlError, `${label}: not a LibsqlError: ${err?.constructor?.name}: ${err?.message}`);
  if (codes) assert.ok(codes.includes(err.code), `${label}: code ${err.code} not in ${codes}: ${err.message}`);
  return err;
}

const WRITE_REFUSED = ["SQLITE_AUTH", "SQLITE_READONLY"];

// Asserts an HTTP 401 with sqld's JSON error body; `pattern` is matched against the message.
function assert401(res, pattern, label) {
  assert.equal(res.status, 401, `${label}: status ${res.status}, body ${res.text}`);
  assert.equal(typeof res.body, "object", `${label}: the body is JSON: ${res.text}`);
  assert.equal(res.body.code, "UNAUTHORIZED", `${label}: ${res.text}`);
  assert.match(res.body.message, /^Unauthorized: /, `${label}: ${res.text}`);
  if (pattern) assert.match(res.body.message, pattern, `${label}: ${res.text}`);
}

const bearer = (token) => ({ authorization: `Bearer ${token}` });

// A v2/v3 JSON pipeline that runs one statement and closes the stream.
const pipeline = (sql) => ({
  baton: null,
  requests: [{ type: "execute", stmt: { sql } }, { type: "close" }],
});

// Opens a raw JSON WebSocket, sends hello with `jwt`, and returns {ws, msg} where msg is the first
// hello_ok / hello_error.
async function wsHello(server, jwt, { headers, protocols = ["hrana3"] } = {}) {
  const ws = await openRaw(server, protocols, headers ? { headers } : {});
  ws.send({ type: "hello", jwt });
  const f = await ws.waitFor((f) => f.json?.type === "hello_ok" || f.json?.type === "hello_error", "hello_ok or hello_error");
  return { ws, msg: f.json };
}

// Asserts that a raw hello was refused with hello_error and the connection closed with 1008.
async function assertHelloRefused(ws, msg, pattern, label) {
  assert.equal(msg.type, "hello_error", `${label}: ${JSON.stringify(msg)}`);
  assert.equal(msg.error.code, "UNAUTHORIZED", `${label}: ${JSON.stringify(msg)}`);
  assert.match(msg.error.message, /^Unauthorized: /, `${label}: ${JSON.stringify(msg)}`);
  if (pattern) assert.match(msg.error.message, pattern, `${label}: ${JSON.stringify(msg)}`);
  const closed = await ws.closedWithin(5_000);
  assert.equal(closed.code, 1008, `${label}: close code ${closed.code} (${closed.reason})`);
}

// Everything a write could change, read with a read-write client.
async function snapshot(rw) {
  const rows = async (sql) => (await rw.execute(sql)).rows.map((r) => Array.from({ length: r.length }, (_, i) => r[i]));
  return {
    t: await rows("SELECT id, v FROM t ORDER BY id"),
    log: await rows("SELECT x FROM log ORDER BY rowid"),
    schema: await rows("SELECT type, name, sql FROM sqlite_schema ORDER BY type, name"),
    userVersion: await rows("PRAGMA user_version"),
    databases: await rows("SELECT name FROM pragma_database_list ORDER BY seq"),
  };
}

const SETUP_SQL = [
  "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)",
  "CREATE TABLE IF NOT EXISTS log(x)",
  "CREATE TRIGGER IF NOT EXISTS t_upd AFTER UPDATE ON t BEGIN INSERT INTO log VALUES (new.id); END",
  "INSERT OR IGNORE INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')",
];

// ---------------------------------------------------------------------------------------------
// The token CLI

describe("litehouse token", () => {
  test("keygen writes a private and a public PEM and prints the raw public key", () => {
    const key = keygen();
    assert.match(key.privatePem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(key.publicPem, /^-----BEGIN PUBLIC KEY-----\n/);
    assert.equal(statSync(key.privatePath).mode & 0o077, 0, "the private key is readable by its owner only");
    // The raw key printed is the 32 bytes inside the public PEM, base64url without padding.
    assert.match(key.raw, /^[A-Za-z0-9_-]{43}$/);
    const spki = crypto.createPublicKey(key.publicPem).export({ format: "der", type: "spki" });
    assert.equal(Buffer.from(key.raw, "base64url").toString("hex"), spki.subarray(spki.length - 32).toString("hex"));
    // The two halves belong together.
    const sig = crypto.sign(null, Buffer.from("x"), key.privatePem);
    assert.ok(crypto.verify(null, Buffer.from("x"), key.publicPem, sig));
    assert.equal(crypto.createPrivateKey(key.privatePem).asymmetricKeyType, "ed25519");
  });

  test("create prints rw and ro tokens signed with the key, with exp when asked", () => {
    const key = keygen();
    const check = (token) => {
      const [h, p, s] = token.split(".");
      assert.ok(crypto.verify(null, Buffer.from(`${h}.${p}`), key.publicPem, Buffer.from(s, "base64url")), "signature verifies");
      assert.deepEqual(decodePart(h), { alg: "EdDSA", typ: "JWT" });
      return decodePart(p);
    };
    const rw = check(createToken(key));
    assert.equal(rw.a, "rw");
    assert.equal(rw.exp, undefined, "no expiration by default");
    assert.equal(rw.id, undefined);
    const ro = check(createToken(key, { readOnly: true, expiration: "12h" }));
    assert.equal(ro.a, "ro");
    assert.ok(Math.abs(ro.exp - (now() + 12 * 3600)) <= 5, `exp ${ro.exp}`);
    for (const [exp, secs] of [["7d", 7 * 86400], ["30m", 1800], ["10s", 10]]) {
      const p = check(createToken(key, { expiration: exp }));
      assert.equal(p.exp - p.iat, secs, exp);
    }
    assert.equal(check(createToken(key, { expiration: "never" })).exp, undefined);
  });

  test("create with a bad --expiration or --key exits 2 and prints no token", () => {
    const key = keygen();
    const cases = [
      ["--key", key.privatePath, "--expiration", "5x"],
      ["--key", key.privatePath, "--expiration", "0s"],
      ["--key", key.privatePath, "--expiration", "-1h"],
      ["--key", key.privatePath, "--expiration", "h"],
      ["--key", key.privatePath, "--expiration", ""],
      ["--key", join(key.dir, "does-not-exist.pem")],
      ["--key", key.publicPath], // a public key is not a signing key
      [], // --key is required
    ];
    writeFileSync(join(key.dir, "garbage.pem"), "not a key\n");
    cases.push(["--key", join(key.dir, "garbage.pem")]);
    for (const args of cases) {
      const r = cli(["token", "create", ...args]);
      assert.equal(r.status, 2, `token create ${args.join(" ")}: exit ${r.status}, stderr ${r.stderr}`);
      assert.equal(r.stdout.trim(), "", `token create ${args.join(" ")}: no token printed`);
      assert.notEqual(r.stderr.trim(), "", `token create ${args.join(" ")}: says why`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// A server with one key file

describe("JWT auth (--auth-jwt-key-file)", () => {
  let server, key, otherKey, rwToken, roToken;
  let rwHttp, rwWs, roHttp, roWs;

  before(async () => {
    key = keygen();
    otherKey = keygen();
    rwToken = createToken(key);
    roToken = createToken(key, { readOnly: true, expiration: "1h" });
    server = await startServer({ args: ["--auth-jwt-key-file", key.publicPath] });
    rwHttp = createClient({ url: server.url, authToken: rwToken });
    rwWs = createClient({ url: `ws://127.0.0.1:${server.port}`, authToken: rwToken });
    roHttp = createClient({ url: server.url, authToken: roToken });
    roWs = createClient({ url: `ws://127.0.0.1:${server.port}`, authToken: roToken });
    for (const sql of SETUP_SQL) await rwHttp.execute(sql);
  });

  after(async () => {
    for (const c of [rwHttp, rwWs, roHttp, roWs]) c?.close();
    if (server) {
      assert.ok(server.alive(), `the server is still up at the end:\n${server.stderr}`);
      assert.equal(await server.stop(), 0);
    }
  });

  // The tokens the server must refuse, each with what its message must say.
  function badTokens() {
    const t = now();
    const [h, p, s] = roToken.split(".");
    return [
      { name: "signed by another key", token: createToken(otherKey), pattern: /invalid|signature/ },
      { name: "expired an hour ago", token: signEd25519(key.privatePem, ED_HEADER, { a: "rw", exp: t - 3600 }), pattern: /expired/ },
      { name: "expired 120 s ago (past the 60 s leeway)", token: signEd25519(key.privatePem, ED_HEADER, { a: "rw", exp: t - 120 }), pattern: /expired/ },
      { name: "alg none, no signature", token: `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ a: "rw" })}.`, pattern: /invalid/ },
      {
        name: "alg none with a valid Ed25519 signature",
        token: signEd25519(key.privatePem, { alg: "none", typ: "JWT" }, { a: "rw" }),
        pattern: /invalid/,
      },
      { name: "HS256 keyed with the public PEM", token: hs256(key.publicPem, { alg: "HS256", typ: "JWT" }, { a: "rw" }), pattern: /HS256|alg/ },
      { name: "HS256 keyed with the raw public key", token: hs256(Buffer.from(key.raw, "base64url"), { alg: "HS256", typ: "JWT" }, { a: "rw" }), pattern: /HS256|alg/ },
      { name: "ro token with its payload swapped for rw", token: `${h}.${b64url({ a: "rw" })}.${s}`, pattern: /signature/ },
      { name: "truncated signature", token: `${h}.${p}.${s.slice(0, 20)}`, pattern: /invalid/ },
      { name: "garbage", token: "garbage", pattern: /invalid|malformed/ },
      { name: "garbage with three parts", token: "a.b.c", pattern: /invalid/ },
      { name: "aud claim", token: signEd25519(key.privatePem, ED_HEADER, { a: "rw", aud: "x" }), pattern: /Authentication failed|aud/ },
    ];
  }

  async function countT() {
    return Number((await rwHttp.execute("SELECT count(*) FROM t")).rows[0][0]);
  }

  test("GET /health, /version and the version probes need no token", async () => {
    for (const path of ["/health", "/version", "/v2", "/v3", "/v3-protobuf"]) {
      const res = await fetch(server.url + path);
      assert.equal(res.status, 200, `GET ${path}`);
      await res.text();
    }
    assert.match(await (await fetch(server.url + "/version")).text(), /^litehouse /);
  });

  test("an rw token writes and reads over HTTP", async () => {
    await rwHttp.execute("CREATE TABLE IF NOT EXISTS rw_http(x)");
    await rwHttp.execute({ sql: "INSERT INTO rw_http VALUES (?)", args: ["h1"] });
    await rwHttp.batch(["INSERT INTO rw_http VALUES ('h2')", "INSERT INTO rw_http VALUES ('h3')"], "write");
    const tx = await rwHttp.transaction("write");
    await tx.execute("INSERT INTO rw_http VALUES ('h4')");
    await tx.commit();
    const r = await rwHttp.execute("SELECT x FROM rw_http ORDER BY x");
    assert.deepEqual(r.rows.map((row) => row.x), ["h1", "h2", "h3", "h4"]);
    // And raw, on every POST endpoint.
    for (const path of ["/v2/pipeline", "/v3/pipeline"]) {
      const res = await postJson(server, path, pipeline("SELECT count(*) FROM rw_http"), bearer(rwToken));
      assert.equal(res.status, 200, `${path}: ${res.text}`);
      assert.equal(res.body.results[0].type, "ok", `${path}: ${res.text}`);
      assert.deepEqual(res.body.results[0].response.result.rows, [[int(4)]]);
    }
    const cur = await postJson(server, "/v3/cursor", { baton: null, batch: { steps: [{ stmt: { sql: "SELECT 1" } }] } }, bearer(rwToken));
    assert.equal(cur.status, 200, cur.text);
    const legacy = await postJson(server, "/", { statements: ["INSERT INTO rw_http VALUES ('legacy')"] }, bearer(rwToken));
    assert.equal(legacy.status, 200, legacy.text);
    assert.equal(Number((await rwHttp.execute("SELECT count(*) FROM rw_http")).rows[0][0]), 5);
  });

  test("an rw token writes and reads over WebSocket", async () => {
    await rwWs.execute("CREATE TABLE IF NOT EXISTS rw_ws(x)");
    await rwWs.execute({ sql: "INSERT INTO rw_ws VALUES (?)", args: ["w1"] });
    await rwWs.batch(["INSERT INTO rw_ws VALUES ('w2')"], "write");
    const tx = await rwWs.transaction("write");
    await tx.execute("INSERT INTO rw_ws VALUES ('w3')");
    await tx.commit();
    const r = await rwWs.execute("SELECT x FROM rw_ws ORDER BY x");
    assert.deepEqual(r.rows.map((row) => row.x), ["w1", "w2", "w3"]);
    // Raw: the jwt in the hello.
    const { ws, msg } = await wsHello(server, rwToken);
    assert.equal(msg.type, "hello_ok", JSON.stringify(msg));
    await ws.ok(1, { type: "open_stream", stream_id: 1 });
    const ins = await ws.ok(2, { type: "execute", stream_id: 1, stmt: stmt("INSERT INTO rw_ws VALUES ('w4')") });
    assert.equal(ins.result.affected_row_count, 1);
    await ws.close();
    assert.equal(Number((await rwHttp.execute("SELECT count(*) FROM rw_ws")).rows[0][0]), 4);
  });

  test("a read-only token reads over HTTP and WebSocket", async () => {
    for (const [label, c] of [["http", roHttp], ["ws", roWs]]) {
      const r = await c.execute("SELECT id, v FROM t WHERE id <= 3 ORDER BY id");
      assert.deepEqual(r.rows.map((row) => [row.id, row.v]), [[1, "one"], [2, "two"], [3, "three"]], label);
      const b = await c.batch(["SELECT count(*) AS n FROM t", "SELECT 40 + 2 AS x"], "read");
      assert.equal(b[1].rows[0].x, 42, label);
      const tx = await c.transaction("read");
      assert.equal((await tx.execute("SELECT v FROM t WHERE id = 2")).rows[0].v, "two", label);
      await tx.commit();
      assert.equal((await c.execute("PRAGMA user_version")).rows[0][0], 0, `${label}: pragmas may be read`);
      assert.equal((await c.execute("EXPLAIN SELECT * FROM t")).rows.length > 0, true, `${label}: EXPLAIN`);
    }
    const res = await postJson(server, "/v3/pipeline", pipeline("SELECT v FROM t WHERE id = 1"), bearer(roToken));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.results[0].response.result.rows, [[text("one")]]);
    const { ws, msg } = await wsHello(server, roToken);
    assert.equal(msg.type, "hello_ok", JSON.stringify(msg));
    await ws.ok(1, { type: "open_stream", stream_id: 1 });
    const r = await ws.ok(2, { type: "execute", stream_id: 1, stmt: stmt("SELECT v FROM t WHERE id = 3") });
    assert.deepEqual(r.result.rows, [[text("three")]]);
    await ws.close();
  });

  test("a token within the 60 s exp leeway is still accepted", async () => {
    const token = signEd25519(key.privatePem, ED_HEADER, { a: "rw", exp: now() - 20 });
    const res = await postJson(server, "/v3/pipeline", pipeline("SELECT 1"), bearer(token));
    assert.equal(res.status, 200, res.text);
    // A 1 s token from the CLI, which expires within this test's lifetime, is accepted now.
    const short = createToken(key, { expiration: "1s" });
    assert.equal((await postJson(server, "/v3/pipeline", pipeline("SELECT 1"), bearer(short))).status, 200);
  });

  test("HTTP: every POST endpoint refuses a request without credentials with 401", async () => {
    const before = await countT();
    const bodies = {
      "/v2/pipeline": pipeline("INSERT INTO t(v) VALUES ('nope')"),
      "/v3/pipeline": pipeline("INSERT INTO t(v) VALUES ('nope')"),
      "/v3/cursor": { baton: null, batch: { steps: [{ stmt: { sql: "INSERT INTO t(v) VALUES ('nope')" } }] } },
      "/": { statements: ["INSERT INTO t(v) VALUES ('nope')"] },
    };
    for (const [path, body] of Object.entries(bodies)) {
      assert401(await postJson(server, path, body), /required|Authorization/, `POST ${path} without Authorization`);
    }
    // The protobuf endpoint is refused before its body is read.
    const pb = await fetch(server.url + "/v3-protobuf/pipeline", {
      method: "POST",
      headers: { "content-type": "application/x-protobuf" },
      body: new Uint8Array([]),
    });
    const pbText = await pb.text();
    assert.equal(pb.status, 401, pbText);
    assert.equal(JSON.parse(pbText).code, "UNAUTHORIZED");
    assert.equal(await countT(), before, "nothing was inserted");
    // A path that is no endpoint is 404 whatever the credentials, as sqld's fallback.
    assert.equal((await postJson(server, "/no/such/endpoint", {})).status, 404);
  });

  test("HTTP: the token may come in x-authorization, as sqld reads it (the libsql client sends it there)", async () => {
    const ok = await postJson(server, "/v3/pipeline", pipeline("SELECT 1"), { "x-authorization": `Bearer ${rwToken}` });
    assert.equal(ok.status, 200, ok.text);
    const ro = await postJson(server, "/v3/pipeline", pipeline("INSERT INTO t(v) VALUES ('x-auth ro')"), { "x-authorization": `Bearer ${roToken}` });
    assert.equal(ro.status, 200, ro.text);
    assert.ok(WRITE_REFUSED.includes(ro.body.results[0].error?.code), `a read-only token stays read-only: ${ro.text}`);
    assert401(await postJson(server, "/v3/pipeline", pipeline("SELECT 1"), { "x-authorization": "Bearer not.a.token" }), /invalid|conform/i, "a bad x-authorization");
    // Authorization wins when both are present.
    assert401(
      await postJson(server, "/v3/pipeline", pipeline("SELECT 1"), { authorization: "Bearer not.a.token", "x-authorization": `Bearer ${rwToken}` }),
      /invalid|conform/i,
      "a bad Authorization beside a good x-authorization",
    );
  });

  test("HTTP: malformed Authorization headers are refused with 401", async () => {
    const cases = [
      ["Bearer", /conform|scheme/],
      ["Bearer ", /conform|required|invalid/], // fetch trims the trailing space: same as "Bearer"
      [`Token ${rwToken}`, /scheme|not supported/],
      [`Basic ${Buffer.from("a:b").toString("base64")}`, /scheme|not supported/],
      [rwToken, /conform|scheme/],
    ];
    for (const [value, pattern] of cases) {
      assert401(await postJson(server, "/v3/pipeline", pipeline("INSERT INTO t(v) VALUES ('nope')"), { authorization: value }), pattern, `Authorization: ${value.slice(0, 30)}`);
    }
    assert.equal((await rwHttp.execute("SELECT count(*) FROM t WHERE v = 'nope'")).rows[0][0], 0);
  });

  test("HTTP: forged, expired, alg-confused and garbage tokens get 401 on every endpoint, and run nothing", async () => {
    const before = await countT();
    for (const { name, token, pattern } of badTokens()) {
      for (const path of ["/v2/pipeline", "/v3/pipeline"]) {
        assert401(await postJson(server, path, pipeline("INSERT INTO t(v) VALUES ('forged')"), bearer(token)), pattern, `${name} on ${path}`);
      }
      assert401(
        await postJson(server, "/v3/cursor", { baton: null, batch: { steps: [{ stmt: { sql: "INSERT INTO t(v) VALUES ('forged')" } }] } }, bearer(token)),
        pattern,
        `${name} on /v3/cursor`,
      );
      assert401(await postJson(server, "/", { statements: ["INSERT INTO t(v) VALUES ('forged')"] }, bearer(token)), pattern, `${name} on /`);
    }
    assert.equal(await countT(), before, "nothing was inserted");
  });

  test("HTTP: @libsql/client rejects with a bad or missing token", async () => {
    const before = await countT();
    const cases = [...badTokens(), { name: "no token", token: undefined }];
    for (const { name, token } of cases) {
      const c = createClient({ url: server.url, authToken: token });
      try {
        const e = await rejectsLibsql(c.execute("INSERT INTO t(v) VALUES ('client')"), undefined, `http client, ${name}`);
        assert.match(`${e.code} ${e.message}`, /401|Unauthori[sz]ed|UNAUTHORIZED/i, `http client, ${name}: ${e.code} ${e.message}`);
      } finally {
        c.close();
      }
    }
    assert.equal(await countT(), before, "nothing was inserted");
  });

  test("WebSocket: a hello with a bad jwt gets hello_error and close 1008, and later requests run nothing", async () => {
    const before = await countT();
    for (const { name, token, pattern } of [...badTokens(), { name: "null jwt", token: null, pattern: /required/ }]) {
      const ws = await openRaw(server, ["hrana3"]);
      ws.send({ type: "hello", jwt: token });
      // Sent right behind the hello, before its answer: must not run.
      ws.send({ type: "request", request_id: 1, request: { type: "open_stream", stream_id: 1 } });
      ws.send({ type: "request", request_id: 2, request: { type: "execute", stream_id: 1, stmt: stmt("INSERT INTO t(v) VALUES ('ws-forged')") } });
      const msg = await ws.nextOfType("hello_error");
      await assertHelloRefused(ws, msg, pattern, `ws hello, ${name}`);
      assert.equal(ws.inbox.filter((f) => f.json?.type?.startsWith("response")).length, 0, `${name}: no response after hello_error`);
    }
    // hrana2 and hrana1 check the hello the same way.
    for (const proto of ["hrana2", "hrana1"]) {
      const { ws, msg } = await wsHello(server, createToken(otherKey), { protocols: [proto] });
      await assertHelloRefused(ws, msg, /signature/, `ws hello on ${proto}`);
    }
    assert.equal(await countT(), before, "nothing was inserted");
  });

  test("WebSocket: the upgrade's Authorization header authenticates a hello without jwt; a bad one does not", async () => {
    // A valid header: hello without jwt is accepted with the header's grant.
    {
      const { ws, msg } = await wsHello(server, null, { headers: bearer(rwToken) });
      assert.equal(msg.type, "hello_ok", JSON.stringify(msg));
      await ws.ok(1, { type: "open_stream", stream_id: 1 });
      const r = await ws.ok(2, { type: "execute", stream_id: 1, stmt: stmt("SELECT count(*) FROM t") });
      assert.equal(r.result.rows.length, 1);
      await ws.close();
    }
    // A read-only header grants read-only.
    {
      const before = await countT();
      const { ws, msg } = await wsHello(server, null, { headers: bearer(roToken) });
      assert.equal(msg.type, "hello_ok", JSON.stringify(msg));
      await ws.ok(1, { type: "open_stream", stream_id: 1 });
      const r = await ws.request(2, { type: "execute", stream_id: 1, stmt: stmt("INSERT INTO t(v) VALUES ('hdr-ro')") });
      assert.equal(r.type, "response_error", JSON.stringify(r));
      assert.ok(WRITE_REFUSED.includes(r.error.code), JSON.stringify(r));
      await ws.close();
      assert.equal(await countT(), before);
    }
    // A bad header and no jwt: refused.
    for (const headers of [bearer(createToken(otherKey)), bearer("garbage"), { authorization: "Bearer" }]) {
      const { ws, msg } = await wsHello(server, null, { headers });
      await assertHelloRefused(ws, msg, null, `ws upgrade header ${headers.authorization.slice(0, 20)}`);
    }
    // A valid header does not rescue a bad jwt in the hello: the jwt is checked.
    {
      const { ws, msg } = await wsHello(server, createToken(otherKey), { headers: bearer(rwToken) });
      await assertHelloRefused(ws, msg, /signature/, "bad hello jwt with a good header");
    }
  });

  test("WebSocket: a second hello with a bad jwt is refused and closes the connection", async () => {
    const { ws, msg } = await wsHello(server, rwToken);
    assert.equal(msg.type, "hello_ok");
    ws.send({ type: "hello", jwt: signEd25519(key.privatePem, ED_HEADER, { a: "rw", exp: now() - 3600 }) });
    const err = await ws.nextOfType("hello_error");
    await assertHelloRefused(ws, err, /expired/, "re-hello with an expired token");
  });

  test("WebSocket: @libsql/client rejects with a bad or missing token", async () => {
    const before = await countT();
    for (const { name, token } of [...badTokens().slice(0, 6), { name: "no token", token: undefined }]) {
      const c = createClient({ url: `ws://127.0.0.1:${server.port}`, authToken: token });
      try {
        await rejectsLibsql(c.execute("INSERT INTO t(v) VALUES ('ws-client')"), undefined, `ws client, ${name}`);
      } finally {
        c.close();
      }
    }
    assert.equal(await countT(), before, "nothing was inserted");
  });

  // ------- read-only: every write path -------

  // Each entry: [label, (client) => promise that must reject].
  const roWritePaths = [
    ["INSERT", (c) => c.execute("INSERT INTO t(v) VALUES ('ro')")],
    ["INSERT ... RETURNING", (c) => c.execute("INSERT INTO t(v) VALUES ('ro') RETURNING id")],
    ["REPLACE", (c) => c.execute("REPLACE INTO t VALUES (1, 'ro')")],
    ["UPSERT", (c) => c.execute("INSERT INTO t VALUES (1, 'ro') ON CONFLICT(id) DO UPDATE SET v = excluded.v")],
    ["UPDATE", (c) => c.execute("UPDATE t SET v = 'ro'")],
    ["DELETE", (c) => c.execute("DELETE FROM t")],
    ["CREATE TABLE", (c) => c.execute("CREATE TABLE ro_made(x)")],
    ["CREATE INDEX", (c) => c.execute("CREATE INDEX ro_idx ON t(v)")],
    ["CREATE VIEW", (c) => c.execute("CREATE VIEW ro_view AS SELECT 1")],
    ["CREATE TRIGGER", (c) => c.execute("CREATE TRIGGER ro_trg AFTER INSERT ON t BEGIN DELETE FROM log; END")],
    ["DROP TABLE", (c) => c.execute("DROP TABLE log")],
    ["DROP TRIGGER", (c) => c.execute("DROP TRIGGER t_upd")],
    ["ALTER TABLE ADD COLUMN", (c) => c.execute("ALTER TABLE t ADD COLUMN w")],
    ["ALTER TABLE RENAME", (c) => c.execute("ALTER TABLE log RENAME TO log2")],
    ["write in a CTE", (c) => c.execute("WITH x AS (SELECT 100, 'cte') INSERT INTO t SELECT * FROM x")],
    ["UPDATE firing a trigger", (c) => c.execute("UPDATE t SET v = v WHERE id = 1")],
    ["PRAGMA user_version=5", (c) => c.execute("PRAGMA user_version=5")],
    ["VACUUM", (c) => c.execute("VACUUM")],
    ["ANALYZE", (c) => c.execute("ANALYZE")],
    ["BEGIN IMMEDIATE", (c) => c.execute("BEGIN IMMEDIATE")],
    ["BEGIN EXCLUSIVE", (c) => c.execute("BEGIN EXCLUSIVE")],
    ["ATTACH", (c) => c.execute("ATTACH ':memory:' AS m")],
    ["executeMultiple with a write", (c) => c.executeMultiple("SELECT 1; INSERT INTO t(v) VALUES ('multi'); SELECT 2;")],
    ["batch(write)", (c) => c.batch(["INSERT INTO t(v) VALUES ('b1')", "INSERT INTO t(v) VALUES ('b2')"], "write")],
    ["batch(deferred)", (c) => c.batch(["SELECT 1", "INSERT INTO t(v) VALUES ('b3')"], "deferred")],
    ["batch(read) with a write", (c) => c.batch(["INSERT INTO t(v) VALUES ('b4')"], "read")],
    // @libsql/client sends a transaction's BEGIN with its first statement, so that is what fails.
    [
      "transaction(write), first statement a SELECT",
      async (c) => {
        const tx = await c.transaction("write");
        try {
          await tx.execute("SELECT 1");
        } finally {
          tx.close();
        }
      },
    ],
    [
      "transaction(write) then INSERT and commit",
      async (c) => {
        const tx = await c.transaction("write");
        try {
          await tx.execute("INSERT INTO t(v) VALUES ('txw')");
          await tx.commit();
        } finally {
          tx.close();
        }
      },
    ],
    [
      "transaction(deferred) then INSERT",
      async (c) => {
        const tx = await c.transaction("deferred");
        try {
          await tx.execute("INSERT INTO t(v) VALUES ('tx')");
          await tx.commit();
        } finally {
          tx.close();
        }
      },
    ],
  ];

  for (const transport of ["http", "ws"]) {
    test(`read-only token over ${transport}: every write path is refused and nothing changes`, async () => {
      const ro = transport === "http" ? roHttp : roWs;
      const before = await snapshot(rwHttp);
      const failures = [];
      for (const [label, run] of roWritePaths) {
        try {
          await rejectsLibsql(() => run(ro), WRITE_REFUSED, `${transport} ro ${label}`);
        } catch (e) {
          failures.push(e.message);
        }
      }
      const after = await snapshot(rwHttp);
      assert.deepEqual(after, before, "the database is unchanged");
      assert.deepEqual(failures, [], `write paths not refused as expected:\n${failures.join("\n")}`);
      // Still usable for reads afterwards (no stuck transaction).
      assert.equal((await ro.execute("SELECT count(*) FROM t")).rows[0][0], before.t.length);
    });
  }

  test("read-only token: REINDEX (with an index to rebuild) is refused over HTTP and WebSocket", async () => {
    await rwHttp.execute("CREATE INDEX IF NOT EXISTS t_v ON t(v)");
    const before = await snapshot(rwHttp);
    const outcomes = [];
    for (const [transport, ro] of [["http", roHttp], ["ws", roWs]]) {
      for (const sql of ["REINDEX", "REINDEX t", "REINDEX t_v"]) {
        try {
          await ro.execute(sql);
          outcomes.push(`${transport} ${sql}: succeeded`);
        } catch (e) {
          if (!(e instanceof LibsqlError && WRITE_REFUSED.includes(e.code))) outcomes.push(`${transport} ${sql}: ${e.code} ${e.message}`);
        }
      }
    }
    assert.deepEqual(await snapshot(rwHttp), before, "the database is unchanged");
    assert.deepEqual(outcomes, [], `REINDEX not refused with SQLITE_AUTH/SQLITE_READONLY:\n${outcomes.join("\n")}`);
  });

  test("a read-only token can read schema pragmas (table_info, index_list)", async () => {
    for (const [transport, ro] of [["http", roHttp], ["ws", roWs]]) {
      const info = await ro.execute("PRAGMA table_info(t)");
      assert.deepEqual(info.rows.map((r) => r.name), ["id", "v"], transport);
      const viaFn = await ro.execute("SELECT name FROM pragma_table_info('t') ORDER BY cid");
      assert.deepEqual(viaFn.rows.map((r) => r.name), ["id", "v"], transport);
      await ro.execute("PRAGMA index_list(t)");
    }
  });

  test("read-only token, raw HTTP: pipeline, sequence, stored SQL, cursor and the legacy API cannot write", async () => {
    const before = await snapshot(rwHttp);
    const ins = "INSERT INTO t(v) VALUES ('raw')";
    for (const path of ["/v2/pipeline", "/v3/pipeline"]) {
      const res = await postJson(server, path, pipeline(ins), bearer(roToken));
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.results[0].type, "error", `${path}: ${res.text}`);
      assert.ok(WRITE_REFUSED.includes(res.body.results[0].error.code), `${path}: ${res.text}`);
    }
    const seq = await postJson(
      server,
      "/v3/pipeline",
      { baton: null, requests: [{ type: "sequence", sql: `SELECT 1; ${ins}; DELETE FROM log;` }, { type: "close" }] },
      bearer(roToken),
    );
    assert.equal(seq.body.results?.[0]?.type, "error", `sequence: ${seq.text}`);
    const stored = await postJson(
      server,
      "/v3/pipeline",
      {
        baton: null,
        requests: [{ type: "store_sql", sql_id: 7, sql: ins }, { type: "execute", stmt: { sql_id: 7 } }, { type: "close" }],
      },
      bearer(roToken),
    );
    assert.equal(stored.body.results?.[1]?.type, "error", `stored sql: ${stored.text}`);
    const batch = await postJson(
      server,
      "/v3/pipeline",
      { baton: null, requests: [{ type: "batch", batch: { steps: [{ stmt: { sql: "SELECT 1" } }, { stmt: { sql: ins } }] } }, { type: "close" }] },
      bearer(roToken),
    );
    assert.equal(batch.status, 200, batch.text);
    const steps = batch.body.results[0].response?.result?.step_errors ?? [];
    assert.ok(steps[1] && WRITE_REFUSED.includes(steps[1].code), `batch: ${batch.text}`);
    const cursor = await postJson(server, "/v3/cursor", { baton: null, batch: { steps: [{ stmt: { sql: ins } }] } }, bearer(roToken));
    assert.match(cursor.text, /step_error/, `cursor: ${cursor.text}`);
    assert.match(cursor.text, /SQLITE_AUTH|SQLITE_READONLY/, `cursor: ${cursor.text}`);
    // sqld's legacy API answers 200 with an error object per failed statement.
    const legacy = await postJson(server, "/", { statements: [ins] }, bearer(roToken));
    assert.ok(
      legacy.status !== 200 || (Array.isArray(legacy.body) && typeof legacy.body[0]?.error === "string"),
      `legacy API: ${legacy.status} ${legacy.text}`,
    );
    assert.match(legacy.text, /read-only|readonly|not authorized/i, `legacy API: ${legacy.text}`);
    // Hrana over HTTP version 1: the statement is refused as a whole (403), a batch step inside the
    // BatchResult (200), as for /v2.
    const v1 = await postJson(server, "/v1/execute", { stmt: { sql: ins } }, bearer(roToken));
    assert.equal(v1.status, 403, `v1 execute: ${v1.text}`);
    assert.ok(WRITE_REFUSED.includes(v1.body.code), `v1 execute: ${v1.text}`);
    const v1batch = await postJson(server, "/v1/batch", { batch: { steps: [{ stmt: { sql: "SELECT 1" } }, { stmt: { sql: ins } }] } }, bearer(roToken));
    assert.equal(v1batch.status, 200, `v1 batch: ${v1batch.text}`);
    assert.ok(WRITE_REFUSED.includes(v1batch.body.result.step_errors[1]?.code), `v1 batch: ${v1batch.text}`);
    const v1read = await postJson(server, "/v1/execute", { stmt: { sql: "SELECT count(*) FROM t" } }, bearer(roToken));
    assert.equal(v1read.status, 200, `v1 read: ${v1read.text}`);
    for (const [path, body] of [["/v1/execute", { stmt: { sql: ins } }], ["/v1/batch", { batch: { steps: [{ stmt: { sql: ins } }] } }]]) {
      const anonymous = await postJson(server, path, body);
      assert.equal(anonymous.status, 401, `${path} without a token: ${anonymous.text}`);
    }
    assert.deepEqual(await snapshot(rwHttp), before, "the database is unchanged");
  });

  test("read-only token on a baton opened by a read-write request is refused, and cannot write", async () => {
    const before = await snapshot(rwHttp);
    const open = await postJson(server, "/v3/pipeline", { baton: null, requests: [{ type: "execute", stmt: { sql: "SELECT 1" } }] }, bearer(rwToken));
    assert.equal(open.status, 200, open.text);
    assert.ok(open.body.baton, open.text);
    const res = await postJson(
      server,
      "/v3/pipeline",
      { baton: open.body.baton, requests: [{ type: "execute", stmt: { sql: "INSERT INTO t(v) VALUES ('baton')" } }, { type: "close" }] },
      bearer(roToken),
    );
    // The stream belongs to the read-write token: the read-only one is refused outright.
    assert.equal(res.status, 403, res.text);
    assert.equal(res.body.code, "BATON_FORBIDDEN", res.text);
    assert.deepEqual(await snapshot(rwHttp), before, "the database is unchanged");
    const owner = await postJson(server, "/v3/pipeline", { baton: open.body.baton, requests: [{ type: "close" }] }, bearer(rwToken));
    assert.equal(owner.status, 200, `the owner still holds its stream: ${owner.text}`);
  });

  test("read-only token, raw WebSocket: execute, sequence, batch, stored SQL and a downgrading re-hello cannot write", async () => {
    const before = await snapshot(rwHttp);
    const ins = "INSERT INTO t(v) VALUES ('rawws')";
    const { ws, msg } = await wsHello(server, roToken);
    assert.equal(msg.type, "hello_ok", JSON.stringify(msg));
    await ws.ok(1, { type: "open_stream", stream_id: 1 });
    const expectRefused = (r, label) => {
      assert.equal(r.type, "response_error", `${label}: ${JSON.stringify(r)}`);
      assert.ok(WRITE_REFUSED.includes(r.error.code), `${label}: ${JSON.stringify(r)}`);
    };
    expectRefused(await ws.request(2, { type: "execute", stream_id: 1, stmt: stmt(ins) }), "execute");
    expectRefused(await ws.request(3, { type: "sequence", stream_id: 1, sql: `${ins}; DELETE FROM log` }), "sequence");
    await ws.ok(4, { type: "store_sql", sql_id: 9, sql: ins });
    expectRefused(await ws.request(5, { type: "execute", stream_id: 1, stmt: { sql_id: 9, args: [] } }), "stored sql");
    const b = await ws.ok(6, { type: "batch", stream_id: 1, batch: { steps: [{ stmt: stmt(ins) }] } });
    assert.ok(b.result.step_errors[0] && WRITE_REFUSED.includes(b.result.step_errors[0].code), JSON.stringify(b));
    await ws.close();

    // A connection that said hello with rw and then again with ro is read-only from then on, also
    // on the stream it opened while rw.
    const { ws: ws2, msg: m2 } = await wsHello(server, rwToken);
    assert.equal(m2.type, "hello_ok");
    await ws2.ok(1, { type: "open_stream", stream_id: 1 });
    await ws2.ok(2, { type: "execute", stream_id: 1, stmt: stmt("SELECT 1") });
    ws2.send({ type: "hello", jwt: roToken });
    await ws2.nextOfType("hello_ok");
    expectRefused(await ws2.request(3, { type: "execute", stream_id: 1, stmt: stmt(ins) }), "after a downgrading re-hello");
    await ws2.ok(4, { type: "open_stream", stream_id: 2 });
    expectRefused(await ws2.request(5, { type: "execute", stream_id: 2, stmt: stmt(ins) }), "new stream after re-hello");
    await ws2.close();
    assert.deepEqual(await snapshot(rwHttp), before, "the database is unchanged");
  });
});

// ---------------------------------------------------------------------------------------------
// Other ways to configure keys

describe("keys from SQLD_AUTH_JWT_KEY and several keys in one PEM", () => {
  const servers = [];
  after(async () => {
    for (const s of servers) assert.equal(await s.stop(), 0);
  });

  test("SQLD_AUTH_JWT_KEY holding the raw key printed by keygen turns JWT auth on", async () => {
    const key = keygen();
    const other = keygen();
    const server = await startServer({ env: { SQLD_AUTH_JWT_KEY: key.raw } });
    servers.push(server);
    assert401(await postJson(server, "/v3/pipeline", pipeline("SELECT 1")), /required/, "no token");
    assert401(await postJson(server, "/v3/pipeline", pipeline("SELECT 1"), bearer(createToken(other))), /signature/, "other key");
    const c = createClient({ url: server.url, authToken: createToken(key) });
    const ro = createClient({ url: `ws://127.0.0.1:${server.port}`, authToken: createToken(key, { readOnly: true }) });
    try {
      await c.execute("CREATE TABLE e(x)");
      await c.execute("INSERT INTO e VALUES (1)");
      assert.equal((await ro.execute("SELECT x FROM e")).rows[0].x, 1);
      await rejectsLibsql(ro.execute("INSERT INTO e VALUES (2)"), WRITE_REFUSED, "env key, ro write");
      assert.equal((await c.execute("SELECT count(*) FROM e")).rows[0][0], 1);
    } finally {
      c.close();
      ro.close();
    }
    const { ws, msg } = await wsHello(server, createToken(other));
    await assertHelloRefused(ws, msg, /signature/, "env key, ws hello with another key");
  });

  test("two public keys concatenated in one PEM file: tokens of both are accepted, a third key's are not", async () => {
    const a = keygen();
    const b = keygen();
    const c = keygen();
    const file = join(tempDir(), "two.pem");
    writeFileSync(file, a.publicPem + b.publicPem);
    const server = await startServer({ args: ["--auth-jwt-key-file", file] });
    servers.push(server);
    for (const [label, k] of [["first key", a], ["second key", b]]) {
      const res = await postJson(server, "/v3/pipeline", pipeline("SELECT 7"), bearer(createToken(k)));
      assert.equal(res.status, 200, `${label}: ${res.text}`);
      assert.deepEqual(res.body.results[0].response.result.rows, [[int(7)]]);
      const { ws, msg } = await wsHello(server, createToken(k));
      assert.equal(msg.type, "hello_ok", `${label} over ws: ${JSON.stringify(msg)}`);
      await ws.close();
      const client = createClient({ url: server.url, authToken: createToken(k) });
      try {
        assert.equal((await client.execute("SELECT 1 AS one")).rows[0].one, 1);
      } finally {
        client.close();
      }
    }
    assert401(await postJson(server, "/v3/pipeline", pipeline("SELECT 1"), bearer(createToken(c))), /none of the 2 keys|signature/, "third key");
    const { ws, msg } = await wsHello(server, createToken(c));
    await assertHelloRefused(ws, msg, /signature/, "third key over ws");
  });
});

// ---------------------------------------------------------------------------------------------
// Startup errors

test("serve with a bad key file, key or basic credential exits 2 with a message", () => {
  const dir = tempDir();
  const key = keygen();
  const garbage = join(dir, "garbage.pem");
  writeFileSync(garbage, "this is not a key\n");
  const empty = join(dir, "empty.pem");
  writeFileSync(empty, "");
  const rsa = join(dir, "rsa.pem");
  writeFileSync(rsa, crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "pem" }));
  const cert = join(dir, "cert.pem");
  writeFileSync(cert, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  const cases = [
    [["--auth-jwt-key-file", garbage], {}, /--auth-jwt-key-file/],
    [["--auth-jwt-key-file", empty], {}, /--auth-jwt-key-file/],
    [["--auth-jwt-key-file", join(dir, "missing.pem")], {}, /--auth-jwt-key-file/],
    [["--auth-jwt-key-file", key.privatePath], {}, /private key/],
    [["--auth-jwt-key-file", rsa], {}, /--auth-jwt-key-file/],
    [["--auth-jwt-key-file", cert], {}, /--auth-jwt-key-file/],
    [[], { SQLD_AUTH_JWT_KEY: "not-a-key" }, /SQLD_AUTH_JWT_KEY/],
    [["--http-auth", "basic:"], {}, /--http-auth/],
    [["--http-auth", "bearer:abc"], {}, /--http-auth/],
  ];
  for (const [args, env, pattern] of cases) {
    const r = cli(["serve", "--db-path", join(dir, "db"), "--http-listen-addr", "127.0.0.1:0", ...args], { env });
    const label = `serve ${args.join(" ")} ${JSON.stringify(env)}`;
    assert.equal(r.signal, null, `${label}: still running after 10 s (it started instead of refusing)`);
    assert.equal(r.status, 2, `${label}: exit ${r.status}: ${r.stderr}`);
    assert.match(r.stderr, /error/i, label);
    assert.match(r.stderr, pattern, `${label}: ${r.stderr}`);
  }
});

// ---------------------------------------------------------------------------------------------
// Basic auth

describe("basic auth (--http-auth)", () => {
  let server;
  const cred = Buffer.from("alice:s3cret").toString("base64");
  before(async () => {
    server = await startServer({ args: ["--http-auth", `basic:${cred}`] });
  });
  after(async () => {
    if (server) assert.equal(await server.stop(), 0);
  });

  test("the right credential is accepted over HTTP, raw and through @libsql/client", async () => {
    const res = await postJson(server, "/v3/pipeline", pipeline("CREATE TABLE b(x)"), { authorization: `Basic ${cred}` });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.results[0].type, "ok", res.text);
    const c = createClient({ url: server.url, authToken: cred }); // sent as "Bearer <cred>"; the scheme is not looked at
    try {
      await c.execute("INSERT INTO b VALUES (1)");
      assert.equal((await c.execute("SELECT count(*) AS n FROM b")).rows[0].n, 1);
    } finally {
      c.close();
    }
    const legacy = await postJson(server, "/", { statements: ["SELECT 1"] }, { authorization: `Basic ${cred}` });
    assert.equal(legacy.status, 200, legacy.text);
    const health = await fetch(server.url + "/health");
    assert.equal(health.status, 200);
    await health.text();
  });

  test("a wrong or missing credential, or a JWT, is refused with 401", async () => {
    const wrong = Buffer.from("alice:wrong").toString("base64");
    const cases = [
      [{}, "no header"],
      [{ authorization: `Basic ${wrong}` }, "wrong password"],
      [{ authorization: `Basic ${Buffer.from("bob:s3cret").toString("base64")}` }, "wrong user"],
      [{ authorization: `Basic ${cred.slice(0, -4)}` }, "a prefix of the credential"],
      [{ authorization: `Basic x${cred}` }, "the credential with a prefix"],
      [{ authorization: `Bearer ${createToken(keygen())}` }, "a JWT"],
    ];
    for (const [headers, label] of cases) {
      assert401(await postJson(server, "/v3/pipeline", pipeline("INSERT INTO b VALUES (99)"), headers), null, `basic: ${label}`);
    }
    const c = createClient({ url: server.url, authToken: wrong });
    try {
      await rejectsLibsql(c.execute("INSERT INTO b VALUES (99)"), undefined, "basic: client with a wrong credential");
    } finally {
      c.close();
    }
    const res = await postJson(server, "/v3/pipeline", pipeline("SELECT count(*) FROM b WHERE x = 99"), { authorization: `Basic ${cred}` });
    assert.deepEqual(res.body.results[0].response.result.rows, [[int(0)]], "nothing was inserted");
  });

  test("WebSocket: the credential on the upgrade authenticates; without it the hello is refused", async () => {
    const { ws, msg } = await wsHello(server, null, { headers: { authorization: `Basic ${cred}` } });
    assert.equal(msg.type, "hello_ok", JSON.stringify(msg));
    await ws.ok(1, { type: "open_stream", stream_id: 1 });
    await ws.ok(2, { type: "execute", stream_id: 1, stmt: stmt("SELECT 1") });
    await ws.close();
    const bad = await wsHello(server, null, { headers: { authorization: `Basic ${Buffer.from("alice:no").toString("base64")}` } });
    await assertHelloRefused(bad.ws, bad.msg, null, "ws, wrong basic credential");
    const none = await wsHello(server, null);
    await assertHelloRefused(none.ws, none.msg, null, "ws, no credential");
  });
});

// ---------------------------------------------------------------------------------------------
// No key: open

describe("no key configured", () => {
  let server;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    if (server) assert.equal(await server.stop(), 0);
  });

  test("the server is open: no token is needed over HTTP or WebSocket", async () => {
    const res = await postJson(server, "/v3/pipeline", pipeline("CREATE TABLE o(x)"));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.results[0].type, "ok", res.text);
    for (const url of [server.url, `ws://127.0.0.1:${server.port}`]) {
      const c = createClient({ url });
      try {
        await c.execute("INSERT INTO o VALUES (1)");
      } finally {
        c.close();
      }
    }
    const { ws, msg } = await wsHello(server, null);
    assert.equal(msg.type, "hello_ok", JSON.stringify(msg));
    await ws.ok(1, { type: "open_stream", stream_id: 1 });
    const r = await ws.ok(2, { type: "execute", stream_id: 1, stmt: stmt("SELECT count(*) FROM o") });
    assert.deepEqual(r.result.rows, [[int(2)]]);
    await ws.close();
  });
});
