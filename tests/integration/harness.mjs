// Starts the real litehouse binary on a free loopback port with a fresh database directory, and
// stops it. Every integration test goes through here: no mock of our own server anywhere.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { after } from "node:test";
import { LibsqlError } from "@libsql/client";

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.LITEHOUSE_BIN ?? resolve(here, "../../build/release/litehouse");
// Set by `make test-asan` and `make test-tsan`: the binary is a sanitizer build, many times slower,
// whose allocator aborts where glibc's fails an allocation (no std::bad_alloc can be injected into it).
export const SANITIZED = process.env.LITEHOUSE_SANITIZED === "1";
// How long to wait for the server before failing, in ms: `ms` for a release build, five times as long
// for a sanitizer build (ThreadSanitizer's is 5-15 times slower). The raw clients' waits use it.
export const patience = (ms) => (SANITIZED ? 5 * ms : ms);

// Servers still running when a test file ends (a test that failed before its stop) must not keep
// node alive, or the failure hangs the run instead of failing it. This hook runs before the file's
// own `after` hooks (it was registered first), so it only lets go of them; those hooks still stop
// their servers as usual, and whatever is left is killed as node exits.
const live = new Set();
// The directories startServer made itself: a test that stops its server with keepDir (to restart it
// or read its files) does not always remove them, so they go as node exits, after the servers.
const made = new Set();
after(() => {
  for (const child of live) {
    child.unref();
    child.stderr?.unref();
  }
});
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

// Starts `litehouse serve` on 127.0.0.1 port 0 and resolves once it reports the port it bound.
// `args` are extra flags; `dbPath` reuses a directory (for restart tests); `nofile: [soft, hard]`
// starts it under that open-file limit (through prlimit(1), which execs it: `child.pid` is the
// server's).
export async function startServer({ args = [], dbPath, env = {}, nofile } = {}) {
  const dir = dbPath ?? mkdtempSync(join(tmpdir(), "litehouse-test-"));
  if (!dbPath) made.add(dir);
  const argv = [BIN, "serve", "--db-path", dir, "--http-listen-addr", "127.0.0.1:0", ...args];
  if (nofile) argv.unshift("prlimit", `--nofile=${nofile[0]}:${nofile[1]}`);
  const child = spawn(argv[0], argv.slice(1), {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, ...env },
  });
  live.add(child);
  child.on("exit", () => live.delete(child));
  let stderr = "";
  const port = await new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within 10 s:\n${stderr}`)), 10_000);
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolvePort(Number(m[1]));
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${stderr}`));
    });
  });
  const server = {
    dir,
    port,
    url: `http://127.0.0.1:${port}`,
    child,
    get stderr() {
      return stderr;
    },
    // True while the process is alive.
    alive() {
      return child.exitCode === null && child.signalCode === null;
    },
    // SIGTERM, wait for exit; removes the directory unless keepDir. Resolves to the exit code.
    async stop({ keepDir = false } = {}) {
      let code = child.exitCode;
      if (this.alive()) {
        code = await new Promise((res) => {
          const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
          child.once("exit", (c) => {
            clearTimeout(kill);
            res(c);
          });
          child.kill("SIGTERM");
        });
      }
      if (!keepDir && !dbPath) rmSync(dir, { recursive: true, force: true });
      // A sanitizer build (LITEHOUSE_BIN pointing at build/asan or build/tsan) reports here; never let
      // it pass quietly.
      if (/AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:/.test(withoutBlindVptrChecks(stderr))) {
        throw new Error(`the server reported a sanitizer error:\n${stderr}`);
      }
      return code;
    },
  };
  return server;
}

// `stderr` without UBSan's vptr reports that say "<memory cannot be printed>": UBSan probes whether it
// may read a vtable through a pipe(2), which fails while a test holds every file descriptor of the
// server (connections.test.mjs), and then reports any object as having an invalid vptr. Such a report
// is UBSan unable to look, not a finding; every other report still fails the test.
function withoutBlindVptrChecks(stderr) {
  return stderr.replace(
    /[^\n]*runtime error: member (?:call|access)[^\n]*\n0x[0-9a-f]+: note: object has invalid vptr\n<memory cannot be printed>\n?/g,
    "",
  );
}

// A maker of temporary directories for one test file: tempDir(prefix) makes one, and every one made is
// removed once the file's tests are done (an `after` hook of the file that calls this at its top).
export function tempDirMaker(defaultPrefix = "litehouse-test-") {
  const made = [];
  after(() => {
    for (const d of made) rmSync(d, { recursive: true, force: true });
  });
  return (prefix = defaultPrefix) => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    made.push(d);
    return d;
  };
}

// POSTs JSON to the server and returns {status, body} with the body parsed when it is JSON.
export async function postJson(server, path, body, headers = {}) {
  const res = await fetch(server.url + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed, text };
}

// Asserts that `promise` rejects with a LibsqlError of `code`, its message matching `pattern` if given.
export async function refused(promise, code, pattern) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof LibsqlError, `${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

// GET /backup/status: the server's backups, as the endpoint lists them.
export async function backupStatus(server) {
  return (await (await fetch(`${server.url}/backup/status`)).json()).backups;
}

// A deterministic generator of numbers in [0, 1) (mulberry32), so that a failure can be replayed.
export function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
