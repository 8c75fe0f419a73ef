// `litehouse shell` on a real terminal: tmux runs it in a pane, send-keys types, capture-pane reads
// the screen. Covers line editing and history (the Up key, ~/.litehouse_history), the continuation
// prompt of a multi-line statement, aligned tables with unicode, an error that leaves the session
// usable, a transaction spanning several typed lines against the server, dot-commands, and leaving.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createClient } from "@libsql/client";
import { BIN, startServer } from "./harness.mjs";

const home = mkdtempSync(join(tmpdir(), "litehouse-tty-"));
const socket = `litehouse-test-${process.pid}`;
const env = { ...process.env, HOME: home, LANG: "C.UTF-8", TERM: "xterm" };

function tmux(...args) {
  const r = spawnSync("tmux", ["-L", socket, ...args], { encoding: "utf8", env, timeout: 10_000 });
  if (r.error) throw r.error;
  return r;
}
// Types `text` literally, then Enter. tmux reads a ';' ending an argument as its own command
// separator; "\;" passes it through.
function type(text) {
  assert.equal(tmux("send-keys", "-t", "shell", "-l", text.replace(/;$/, "\\;")).status, 0);
  assert.equal(tmux("send-keys", "-t", "shell", "Enter").status, 0);
}
function key(name) {
  assert.equal(tmux("send-keys", "-t", "shell", name).status, 0);
}
// The pane's text; tmux trims the spaces that end a line (so a prompt reads "litehouse>").
function screen() {
  return tmux("capture-pane", "-p", "-t", "shell", "-S", "-200").stdout;
}
function newShell(width, height, command) {
  tmux("kill-session", "-t", "shell");
  const started = tmux("new-session", "-d", "-s", "shell", "-x", String(width), "-y", String(height), command);
  assert.equal(started.status, 0, started.stderr);
}
// Polls the screen until `pattern` shows (at most 10 s); returns the screen.
async function waitFor(pattern) {
  for (let i = 0; i < 100; i++) {
    const s = screen();
    if (pattern.test(s)) return s;
    await sleep(100);
  }
  assert.fail(`the screen never showed ${pattern}:\n${screen()}`);
}

let server;
let client;
before(async () => {
  server = await startServer();
  client = createClient({ url: server.url });
});
after(async () => {
  tmux("kill-server");
  client?.close();
  await server?.stop();
  rmSync(home, { recursive: true, force: true });
});

test("an interactive session on a terminal, against the server", async () => {
  newShell(120, 50, `${BIN} shell ${server.url}`);
  await waitFor(/litehouse>$/m);

  type("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);");
  type("INSERT INTO notes(body) VALUES ('héllo ✓'), ('second');");
  // A statement over two lines: the continuation prompt, then an aligned table.
  type("SELECT id,");
  await waitFor(/\.\.\.>$/m);
  type("  body FROM notes ORDER BY id;");
  let s = await waitFor(/\|  2 \| second  \|/);
  assert.match(s, /\+----\+---------\+\n\| id \| body    \|\n\+----\+---------\+\n\|  1 \| héllo ✓ \|\n\|  2 \| second  \|\n\+----\+---------\+/);

  // An error is shown and the session goes on.
  type("SELECT nope FROM notes;");
  await waitFor(/Error: .*no such column: nope/);

  // A transaction over several typed lines holds: invisible to others until COMMIT.
  type("BEGIN;");
  type("INSERT INTO notes(body) VALUES ('in txn');");
  await waitFor(/litehouse> INSERT INTO notes\(body\) VALUES \('in txn'\);\nlitehouse>$/m);
  assert.equal((await client.execute("SELECT count(*) AS n FROM notes")).rows[0].n, 2);
  type("COMMIT;");
  await waitFor(/litehouse> COMMIT;\nlitehouse>$/m);
  assert.equal((await client.execute("SELECT count(*) AS n FROM notes")).rows[0].n, 3);

  // History: Up brings back the last statement; editing it runs the edit.
  key("Up");
  await waitFor(/litehouse> COMMIT;\nlitehouse> COMMIT;$/m);
  key("C-u");
  type("SELECT count(*) AS n FROM notes;");
  await waitFor(/\| n \|\n\+---\+\n\| 3 \|/);

  type(".mode csv");
  type(".headers off");
  type("SELECT body FROM notes WHERE id = 1;");
  await waitFor(/^héllo ✓$/m);
  type(".tables");
  await waitFor(/^notes\s*$/m);
  type(".schema notes");
  await waitFor(/^CREATE TABLE notes\(id INTEGER PRIMARY KEY, body TEXT\);$/m);
  type(".nonsense");
  await waitFor(/Error: unknown command or invalid arguments: "nonsense"/);
  type(".quit");
  for (let i = 0; i < 100 && tmux("has-session", "-t", "shell").status === 0; i++) await sleep(100);
  assert.notEqual(tmux("has-session", "-t", "shell").status, 0, "the shell did not exit on .quit");

  const history = readFileSync(join(home, ".litehouse_history"), "utf8");
  assert.match(history, /SELECT\\040count\(\*\)\\040AS\\040n\\040FROM\\040notes;/);
});

test("Ctrl-C drops a half-typed statement; end of input (Ctrl-D) leaves the shell, on a file database", async () => {
  const db = join(home, "file.db");
  newShell(100, 20, `${BIN} shell ${db}`);
  await waitFor(/litehouse>$/m);
  type("CREATE TABLE t(a); INSERT INTO t VALUES (42); SELECT a FROM t;");
  await waitFor(/\| 42 \|/);
  // Ctrl-C drops the statement being typed; the shell stays.
  type("SELECT 'dropped',");
  await waitFor(/\.\.\.>$/m);
  key("C-c");
  await waitFor(/\.\.\.> \^C\nlitehouse>$/m);
  type("SELECT count(*) AS n FROM t;");
  await waitFor(/\| n \|\n\+---\+\n\| 1 \|/);
  assert.doesNotMatch(screen(), /dropped \|/);
  key("C-d");
  for (let i = 0; i < 100 && tmux("has-session", "-t", "shell").status === 0; i++) await sleep(100);
  assert.notEqual(tmux("has-session", "-t", "shell").status, 0, "the shell did not exit on Ctrl-D");
  const check = createClient({ url: "file:" + db });
  try {
    assert.equal((await check.execute("SELECT a FROM t")).rows[0].a, 42);
  } finally {
    check.close();
  }
});

test("a session the server expired is reopened; a transaction it took is reported lost", async () => {
  const quick = await startServer({ args: ["--stream-expiry-ms", "200"] });
  try {
    newShell(100, 30, `${BIN} shell ${quick.url}`);
    await waitFor(/litehouse>$/m);
    type("CREATE TABLE t(a);");
    await waitFor(/litehouse> CREATE TABLE t\(a\);\nlitehouse>$/m);
    await sleep(1000); // idle past the expiry: the server drops the stream
    type("SELECT 'still here' AS s;");
    await waitFor(/\| still here \|/);
    type("BEGIN;");
    // Its prompt first: a line typed ahead of a slow shell (a sanitizer build) shows twice on the screen.
    await waitFor(/litehouse> BEGIN;\nlitehouse>$/m);
    type("INSERT INTO t VALUES (1);");
    await waitFor(/litehouse> INSERT INTO t VALUES \(1\);\nlitehouse>$/m);
    await sleep(1000); // the open transaction expires with its stream
    type("INSERT INTO t VALUES (2);");
    await waitFor(/Error: the server ended this idle session, and rolled back its open transaction/);
    type("SELECT count(*) AS n FROM t;");
    await waitFor(/\| n \|\n\+---\+\n\| 0 \|/);
    type(".quit");
  } finally {
    tmux("kill-session", "-t", "shell");
    await quick.stop();
  }
});

test("an import with stderr on a terminal shows its progress there", async () => {
  const dir = mkdtempSync(join(tmpdir(), "litehouse-tty-import-"));
  try {
    const script = join(dir, "rows.sql");
    const lines = ["CREATE TABLE r(a);", "BEGIN;"];
    for (let i = 0; i < 5000; i++) lines.push(`INSERT INTO r VALUES (${i});`);
    lines.push("COMMIT;", "");
    writeFileSync(script, lines.join("\n"));
    // stdin is the file, stderr (and stdout) the pane; the pane stays open after the import.
    newShell(100, 20, `sh -c '${BIN} shell ${join(dir, "r.db")} < ${script}; echo "exit=$?"; sleep 30'`);
    const s = await waitFor(/exit=\d+/);
    assert.match(s, /5003 statements done\./);
    assert.match(s, /exit=0/);
  } finally {
    tmux("kill-session", "-t", "shell");
    rmSync(dir, { recursive: true, force: true });
  }
});
