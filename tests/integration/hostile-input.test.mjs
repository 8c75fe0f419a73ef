// Input shaped to hurt rather than to be served: deeply nested JSON from a peer that has no token
// (and from a hostile server, against our client), malformed HTTP, tokens not valid yet. Each gets a
// clear refusal in the protocol's shape, the server stays up, and an ordinary client goes on being
// served. Also what the server tells about itself: PRAGMA database_list, and its logs at each level.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import { connect } from "node:net";
import { createServer } from "node:http";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { BIN, startServer, postJson } from "./harness.mjs";
import { openRaw } from "./ws-raw.mjs";

let server;  // JWT auth on: everything below reaches the server without a token
let token;
let db;
const keyDir = mkdtempSync(join(tmpdir(), "litehouse-hostile-"));

before(async () => {
  const keygen = spawnSync(BIN, ["token", "keygen", "--dir", keyDir], { encoding: "utf8" });
  assert.equal(keygen.status, 0, keygen.stderr);
  const created = spawnSync(BIN, ["token", "create", "--key", join(keyDir, "jwt_private.pem")], { encoding: "utf8" });
  assert.equal(created.status, 0, created.stderr);
  token = created.stdout.trim();
  server = await startServer({ args: ["--auth-jwt-key-file", join(keyDir, "jwt_public.pem")] });
  db = createClient({ url: server.url, authToken: token });
  await db.execute("CREATE TABLE t(x)");
});

after(async () => {
  db?.close();
  assert.ok(server.alive(), "the server is still running");
  assert.equal(await server.stop(), 0);
  rmSync(keyDir, { recursive: true, force: true });
});

// 200,000 '[': far past the ~131,000 that overflowed the recursive parser's stack.
const DEEP = "[".repeat(200_000);
const NEST_LIMIT = 128;  // serde_json's, which sqld parses with

async function stillServes() {
  assert.ok(server.alive(), "the server is still running");
  await db.execute("INSERT INTO t VALUES (1)");
  assert.equal((await db.execute("SELECT count(*) FROM t")).rows.length, 1);
}

test("a deeply nested JSON body is a 400 on every JSON endpoint, with a token or without", async () => {
  for (const path of ["/v2/pipeline", "/v3/pipeline", "/v3/cursor", "/"]) {
    for (const headers of [{ authorization: `Bearer ${token}` }, {}]) {
      const r = await postJson(server, path, DEEP, headers);
      if (!headers.authorization) {
        // Without a token the body is never parsed: the refusal is the credential's.
        assert.equal(r.status, 401, `${path}: ${r.text}`);
        continue;
      }
      assert.equal(r.status, 400, `${path}: ${r.text}`);
      assert.equal(r.body.code, "INVALID_REQUEST", r.text);
      assert.match(r.body.message, /nested deeper than 128 levels/, r.text);
    }
    await stillServes();
  }
});

test("nesting up to the limit parses; one level more is refused with the reason", async () => {
  // A value nested exactly NEST_LIMIT deep (the body object is level 1) parses and then fails as an
  // ill-typed request; one more level fails while parsing.
  const nested = (levels) => `{"requests":${"[".repeat(levels - 1)}${"]".repeat(levels - 1)}}`;
  const h = { authorization: `Bearer ${token}` };
  const atLimit = await postJson(server, "/v2/pipeline", nested(NEST_LIMIT), h);
  assert.equal(atLimit.status, 400, atLimit.text);
  assert.doesNotMatch(atLimit.body.message, /nested deeper/, atLimit.text);
  const past = await postJson(server, "/v2/pipeline", nested(NEST_LIMIT + 1), h);
  assert.equal(past.status, 400, past.text);
  assert.match(past.body.message, /nested deeper than 128 levels \(at byte \d+\)/, past.text);
});

test("a deeply nested first WebSocket message, before any hello or token, closes the connection with 1007", async () => {
  for (const protocol of ["hrana3", "hrana2", "hrana1"]) {
    const ws = await openRaw(server, [protocol]);
    ws.send(DEEP);
    const { code, reason } = await ws.closedWithin(10_000);
    assert.equal(code, 1007, `${protocol}: ${reason}`);
    assert.match(reason, /nested deeper/, reason);
  }
  // A nested message after a hello is refused the same way.
  const ws = await openRaw(server, ["hrana3"]);
  ws.send({ type: "hello", jwt: token });
  ws.send(`{"type":"request","request_id":1,"request":${"[".repeat(150_000)}`);
  assert.equal((await ws.closedWithin(10_000)).code, 1007);
  await stillServes();
});

test("a token whose header is deeply nested JSON is refused as an invalid token", async () => {
  // 40,000 levels: as deep as fits in the 64 KiB header limit once base64-encoded.
  const header = Buffer.from("[".repeat(40_000)).toString("base64url");
  const r = await postJson(server, "/v2/pipeline", { requests: [] }, { authorization: `Bearer ${header}.e30.AAAA` });
  assert.equal(r.status, 401, r.text);
  assert.match(r.body.message, /not JSON: nested deeper than 128 levels/, r.text);
  await stillServes();
});

test("the client library survives a hostile server answering with deeply nested JSON", async () => {
  const hostile = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(DEEP);
    });
  });
  await new Promise((resolve) => hostile.listen(0, "127.0.0.1", resolve));
  try {
    const url = `http://127.0.0.1:${hostile.address().port}`;
    // spawnSync would block the event loop this test's hostile server runs on.
    const shell = await new Promise((resolve) => {
      const child = spawn(BIN, ["shell", url, "--timeout", "10"], { stdio: ["pipe", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (c) => (out += c));
      child.stderr.on("data", (c) => (out += c));
      child.on("exit", (code, signal) => resolve({ code, signal, out }));
      child.stdin.end("SELECT 1;\n");
    });
    assert.equal(shell.signal, null, `the client was killed by ${shell.signal}: ${shell.out}`);
    assert.equal(shell.code, 1, shell.out);
    assert.match(shell.out, /nested deeper than 128 levels/, shell.out);
  } finally {
    hostile.close();
  }
});

// ---- Malformed HTTP: a status before the connection closes -------------------------------------


// Writes `bytes` on a fresh connection and resolves with everything the server sent until it closed
// (bounded: a server that neither answers nor closes fails the test after 10 s).
function rawExchange(bytes) {
  return new Promise((resolve, reject) => {
    const sock = connect(server.port, "127.0.0.1");
    let got = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no close within 10 s; got ${JSON.stringify(got.slice(0, 200))}`));
    }, 10_000);
    sock.on("data", (c) => (got += c.toString("latin1")));
    sock.on("error", () => {});  // a reset after the reply is fine: `close` follows
    sock.on("close", () => {
      clearTimeout(timer);
      resolve(got);
    });
    sock.write(bytes);
  });
}

function statusAndBody(response) {
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(response);
  assert.ok(m, `expected an HTTP response, got ${JSON.stringify(response.slice(0, 200))}`);
  const body = response.slice(response.indexOf("\r\n\r\n") + 4);
  return { status: Number(m[1]), body: JSON.parse(body) };
}

test("a request with both Content-Length and Transfer-Encoding gets a 400 before the close", async () => {
  const body = '{"requests":[]}';
  const r = statusAndBody(
    await rawExchange(
      `POST /v2/pipeline HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Length: ${body.length}\r\n` +
        `Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    ),
  );
  assert.equal(r.status, 400);
  assert.equal(r.body.code, "INVALID_REQUEST");
  assert.match(r.body.message, /Malformed HTTP request/);
  await stillServes();
});

test("a 1 MB request line and 20,000 headers get a 431 before the close", async () => {
  const longLine = statusAndBody(await rawExchange(`GET /${"a".repeat(1 << 20)} HTTP/1.1\r\nHost: x\r\n\r\n`));
  assert.equal(longLine.status, 431);
  assert.equal(longLine.body.code, "REQUEST_HEADERS_TOO_LARGE");
  let headers = "";
  for (let i = 0; i < 20_000; i++) headers += `X-H${i}: v\r\n`;
  const many = statusAndBody(await rawExchange(`GET /health HTTP/1.1\r\nHost: x\r\n${headers}\r\n`));
  assert.equal(many.status, 431);
  await stillServes();
});

test("a malformed chunk and an invalid method get a 400", async () => {
  const badChunk = statusAndBody(
    await rawExchange(`POST /v2/pipeline HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`),
  );
  assert.equal(badChunk.status, 400);
  const badMethod = statusAndBody(await rawExchange(`G(T / HTTP/1.1\r\nHost: x\r\n\r\n`));
  assert.equal(badMethod.status, 400);
  await stillServes();
});

// ---- JWT nbf -------------------------------------------------------------------------------------

test("a token that is not valid yet (nbf past the leeway) is refused; within the leeway it is accepted", async () => {
  const privatePem = readFileSync(join(keyDir, "jwt_private.pem"), "utf8");
  const b64 = (x) => Buffer.from(JSON.stringify(x)).toString("base64url");
  const sign = (payload) => {
    const input = `${b64({ alg: "EdDSA", typ: "JWT" })}.${b64(payload)}`;
    return `${input}.${crypto.sign(null, Buffer.from(input), privatePem).toString("base64url")}`;
  };
  const now = Math.floor(Date.now() / 1000);
  const early = await postJson(server, "/v2/pipeline", { requests: [{ type: "close" }] }, { authorization: `Bearer ${sign({ nbf: now + 3600 })}` });
  assert.equal(early.status, 401, early.text);
  assert.match(early.body.message, /The JWT is invalid: it is not valid before/, early.text);
  // A client whose clock runs a little behind the signer's (10 s) is still served, as with `exp`.
  const skewed = await postJson(server, "/v2/pipeline", { requests: [{ type: "close" }] }, { authorization: `Bearer ${sign({ nbf: now + 10 })}` });
  assert.equal(skewed.status, 200, skewed.text);
  const past = await postJson(server, "/v2/pipeline", { requests: [{ type: "close" }] }, { authorization: `Bearer ${sign({ nbf: now - 10 })}` });
  assert.equal(past.status, 200, past.text);
});

// ---- The server's directory is nobody's business ----------------------------------------------

test("PRAGMA database_list names the file, not where the server keeps it", async () => {
  for (const sql of ["PRAGMA database_list", "SELECT * FROM pragma_database_list"]) {
    const rs = await db.execute(sql);
    const main = rs.rows.find((r) => r.name === "main");
    assert.ok(main, JSON.stringify(rs.rows));
    assert.equal(main.file, "data");
    assert.ok(!JSON.stringify(rs.rows).includes(server.dir), `${sql} shows ${JSON.stringify(rs.rows)}`);
  }
  // Writes still land in the real file, beside its WAL.
  assert.ok(existsSync(join(server.dir, "dbs", "default", "data")));
  assert.ok(existsSync(join(server.dir, "dbs", "default", "data-wal")));
});

// ---- Log levels ------------------------------------------------------------------------------

test("every --log-level works: debug and trace print their lines, info does not", async () => {
  const lines = async (level) => {
    const s = await startServer({ args: ["--log-level", level] });
    try {
      const c = createClient({ url: s.url });
      await c.execute("CREATE TABLE x(a)");
      await c.execute("SELECT * FROM x");
      c.close();
      await fetch(`${s.url}/health`);
    } finally {
      assert.equal(await s.stop(), 0);
    }
    return s.stderr;
  };
  const debug = await lines("debug");
  assert.match(debug, / debug 127\.0\.0\.1:\d+ POST \/v2\/pipeline -> 200/, debug);
  assert.match(debug, / debug 127\.0\.0\.1:\d+ GET \/health -> 200/);
  assert.doesNotMatch(debug, / trace /);
  const trace = await lines("trace");
  assert.match(trace, / trace stream request queued to commit with the writes read in this turn/, trace);
  assert.match(trace, / trace stream request on a connection of its session \(reading/, trace);
  const info = await lines("info");
  assert.doesNotMatch(info, / (debug|trace) /, info);
  assert.match(info, / info /);
});
