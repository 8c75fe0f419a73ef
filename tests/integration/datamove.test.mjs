// The tools of a data move, end to end, with real parts: Debian's sqlite3 CLI makes the source
// database and its dump, `litehouse dump` / `litehouse shell` / `litehouse migrate` run as processes
// against a file and against a real `litehouse serve`, and @libsql/client checks what arrived.
//
// The source database holds every storage class, INTEGER extremes, reals, unicode, text with quotes,
// semicolons and newlines, blobs (empty and binary), a WITHOUT ROWID table, a STRICT table, generated
// columns, AUTOINCREMENT (sqlite_sequence), sqlite_stat1, a foreign key whose child table comes first,
// an FTS5 table, a trigger with inner semicolons, views, and indexes (one partial).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, renameSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";
import { createClient } from "@libsql/client";
import { BIN, startServer, tempDirMaker } from "./harness.mjs";

const tempDir = tempDirMaker("litehouse-datamove-");

// Runs a program to completion (bounded in time); stdin from `input` (a string or Buffer).
function run(cmd, args, { input, env = {}, timeout = 60_000 } = {}) {
  const r = spawnSync(cmd, args, {
    input,
    encoding: "utf8",
    timeout,
    maxBuffer: 256 << 20,
    env: { ...process.env, ...env },
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const lh = (args, opts) => run(BIN, args, opts);
const sqlite3 = (args, opts) => run("sqlite3", args, opts);

// Runs a program asynchronously, resolving with its exit status and output (for concurrent runs).
function runAsync(cmd, args, input) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    if (input !== undefined) child.stdin.end(input);
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("exit", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const SOURCE_SQL = `
PRAGMA foreign_keys=ON;
CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id));
CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE items(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, qty INTEGER, price REAL, data BLOB, note);
CREATE TABLE "odd; ""name"""("col ""q""" TEXT, [x;y] INTEGER, "select" TEXT);
CREATE TABLE kv(k TEXT PRIMARY KEY, v) WITHOUT ROWID;
CREATE TABLE strict_t(i INTEGER, r REAL, t TEXT, b BLOB, a ANY) STRICT;
CREATE TABLE gen(a INTEGER, b INTEGER GENERATED ALWAYS AS (a * 2) VIRTUAL, c TEXT GENERATED ALWAYS AS ('#' || a) STORED);
CREATE TABLE log(msg TEXT, item_id INTEGER);
CREATE VIRTUAL TABLE docs USING fts5(title, body);
CREATE TRIGGER items_log AFTER INSERT ON items BEGIN
  INSERT INTO log VALUES('added ' || new.name || '; qty=' || new.qty, new.id);
  UPDATE items SET note = 'logged;' WHERE id = new.id AND note IS NULL;
END;
CREATE VIEW cheap AS SELECT name, price FROM items WHERE price < 10;
CREATE VIEW "view; odd" AS SELECT count(*) AS n FROM log;
CREATE INDEX items_name ON items(name);
CREATE UNIQUE INDEX items_qty_positive ON items(qty) WHERE qty > 0;
INSERT INTO parent VALUES(1, 'p1'), (2, 'p2');
INSERT INTO child VALUES(10, 2), (11, 1);
INSERT INTO items(name, qty, price, data) VALUES
  ('plain', 1, 9.5, X'00ff10'),
  ('héllo wörld ✓ 日本語 🚀', 2, 0.1, X''),
  ('it''s; a "quote"
and a newline;
', 3, 1e308, NULL),
  ('max', 9223372036854775807, -2.5e-300, zeroblob(16)),
  ('min', -9223372036854775808, 0.0, X'DEADBEEF');
DELETE FROM items WHERE name = 'plain';
INSERT INTO items(name, qty, price) VALUES ('after delete', 0, 12);
INSERT INTO "odd; ""name""" VALUES ('a;b', 1, 'from'), (NULL, NULL, NULL);
INSERT INTO kv VALUES ('b', 1), ('a', 'text'), ('c', X'01'), ('d', 2.5), ('e', NULL);
INSERT INTO strict_t VALUES (1, 1.5, 'x', X'02', 'any'), (-1, -0.5, '', X'', 3);
INSERT INTO gen(a) VALUES (1), (21);
INSERT INTO docs VALUES ('Grüße', 'unicode body ✓'), ('semi;colon', 'it''s
multi-line');
INSERT INTO docs VALUES ('third', 'searchable words here');
ANALYZE;
`;

let work;
let sourceDb;
let ourDump;   // litehouse dump of the source file
let theirDump; // sqlite3 .dump of the source file

before(() => {
  work = tempDir();
  sourceDb = join(work, "source.db");
  const made = sqlite3([sourceDb], { input: SOURCE_SQL });
  assert.equal(made.status, 0, made.stderr);
  const ours = lh(["dump", sourceDb]);
  assert.equal(ours.status, 0, ours.stderr);
  ourDump = ours.stdout;
  const theirs = sqlite3([sourceDb, ".dump"]);
  assert.equal(theirs.status, 0, theirs.stderr);
  theirDump = theirs.stdout;
});

// What a client sees of the imported data: the checks every copy must pass.
async function checkContent(client) {
  const items = await client.execute("SELECT name, hex(data) AS data, note FROM items ORDER BY id");
  assert.deepEqual(
    items.rows.map((r) => r.name),
    ["héllo wörld ✓ 日本語 🚀", "it's; a \"quote\"\nand a newline;\n", "max", "min", "after delete"],
  );
  const max = await client.execute("SELECT qty = 9223372036854775807 AS ok, price = -2.5e-300 AS p FROM items WHERE name = 'max'");
  assert.equal(max.rows[0].ok, 1);
  assert.equal(max.rows[0].p, 1);
  assert.equal(items.rows[0].data, "");
  assert.equal(items.rows[0].note, "logged;");
  const fts = await client.execute("SELECT title FROM docs WHERE docs MATCH 'unicode'");
  assert.deepEqual(fts.rows.map((r) => r.title), ["Grüße"]);
  const multi = await client.execute("SELECT title FROM docs WHERE docs MATCH 'searchable'");
  assert.deepEqual(multi.rows.map((r) => r.title), ["third"]);
  const gen = await client.execute("SELECT a, b, c FROM gen ORDER BY a");
  assert.deepEqual(gen.rows.map((r) => [r.a, r.b, r.c]), [[1, 2, "#1"], [21, 42, "#21"]]);
  const view = await client.execute('SELECT n FROM "view; odd"');
  assert.equal(view.rows[0].n, 6);
  const seq = await client.execute("SELECT seq FROM sqlite_sequence WHERE name = 'items'");
  assert.equal(seq.rows[0].seq, 6);
  // The trigger came across and still fires; AUTOINCREMENT goes on from the dumped sequence.
  await client.execute("INSERT INTO items(name, qty) VALUES ('new', 7)");
  const added = await client.execute("SELECT id, note FROM items WHERE name = 'new'");
  assert.equal(added.rows[0].id, 7);
  assert.equal(added.rows[0].note, "logged;");
  const logs = await client.execute("SELECT count(*) AS n FROM log");
  assert.equal(logs.rows[0].n, 7);
  // The foreign key holds in the copy.
  const fk = await client.execute("PRAGMA foreign_key_check");
  assert.equal(fk.rows.length, 0);
}

describe("dump and import against a file", () => {
  test("our dump is what sqlite3 writes, but for the spelling of literals and for the virtual table", () => {
    // Same statements in the same order; only literal spellings may differ. The FTS5 table is where
    // they part: sqlite3 writes its shadow tables' bytes under writable_schema, we write the table's
    // own rows, which load where shadow tables may not be written.
    const shape = (d) =>
      d.split("\n").filter((l) => /^[A-Z]/.test(l)).map((l) => l.replace(/VALUES\(.*/, "VALUES(...)"));
    const withoutDocs = (lines) =>
      lines.filter((l) => !/^(PRAGMA writable_schema|INSERT INTO sqlite_schema|CREATE TABLE IF NOT EXISTS 'docs_|INSERT INTO docs_|CREATE VIRTUAL TABLE docs|INSERT INTO docs\()/.test(l));
    assert.deepEqual(withoutDocs(shape(ourDump)), withoutDocs(shape(theirDump)));
    assert.match(ourDump, /^PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n/);
    assert.match(ourDump, /COMMIT;\n$/);
    assert.match(
      ourDump,
      /\nCREATE VIRTUAL TABLE docs USING fts5\(title, body\);\nINSERT INTO docs\(rowid,title,body\) VALUES\(1,'Grüße','unicode body ✓'\);\n/,
    );
    assert.doesNotMatch(ourDump, /writable_schema|INSERT INTO docs_|CREATE TABLE IF NOT EXISTS 'docs_/);
    assert.match(theirDump, /INSERT INTO docs_data VALUES/, "sqlite3 writes the shadow tables");
  });

  test("sqlite3 loads our dump into the same database", () => {
    const copy = join(tempDir(), "by-sqlite3.db");
    const r = sqlite3([copy], { input: ourDump });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    // The same content (our dump reads it back), and the same answers from the full-text index it rebuilt.
    assert.equal(lh(["dump", copy]).stdout, ourDump);
    for (const query of ["unicode", "searchable", "multi*", "semi OR third", "title:grüße"]) {
      const sql = `SELECT rowid, title FROM docs WHERE docs MATCH '${query}' ORDER BY rank, rowid`;
      const want = sqlite3([sourceDb, sql]);
      assert.equal(want.status, 0, want.stderr);
      assert.notEqual(want.stdout, "", query);
      assert.equal(sqlite3([copy, sql]).stdout, want.stdout, query);
    }
    assert.equal(sqlite3([copy, "INSERT INTO docs(docs) VALUES('integrity-check')"]).status, 0);
  });

  test("litehouse shell imports our dump into a file, and a second dump is identical", async () => {
    const copy = join(tempDir(), "copy.db");
    const r = lh(["shell", copy], { input: ourDump });
    assert.equal(r.status, 0, r.stderr);
    const again = lh(["dump", copy]);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, ourDump);
    const client = createClient({ url: "file:" + copy });
    try {
      await checkContent(client);
    } finally {
      client.close();
    }
  });

  test("a dump made by Debian's sqlite3 imports into a file, and dumps as ours does", async () => {
    // Its shadow-table rows become rows of the FTS5 table (docs_content) or are dropped (the index,
    // rebuilt by those rows): the virtual table holds what it held, so our dump of it is the same.
    const copy = join(tempDir(), "from-sqlite3.db");
    const r = lh(["shell", copy], { input: theirDump });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(lh(["dump", copy]).stdout, ourDump);
    const contents = "SELECT rowid, title, body FROM docs ORDER BY rowid";
    assert.equal(sqlite3([copy, contents]).stdout, sqlite3([sourceDb, contents]).stdout);
    const client = createClient({ url: "file:" + copy });
    try {
      await checkContent(client);
    } finally {
      client.close();
    }
  });

  test("a dump only reads: the file keeps its journal mode and its bytes", () => {
    const db = join(tempDir(), "rollback-journal.db");
    assert.equal(sqlite3([db], { input: "CREATE TABLE t(a); INSERT INTO t VALUES (1);" }).status, 0);
    const before = readFileSync(db);
    const r = lh(["dump", db]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /INSERT INTO t VALUES\(1\);/);
    assert.equal(sqlite3([db, "PRAGMA journal_mode"]).stdout.trim(), "delete");
    assert.deepEqual(readFileSync(db), before);
  });

  test("dump -o writes the file only once the dump is whole", () => {
    const dir = tempDir();
    const out = join(dir, "out.sql");
    const r = lh(["dump", sourceDb, "-o", out]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(out, "utf8"), ourDump);
    const failed = lh(["dump", "http://127.0.0.1:9", "-o", join(dir, "never.sql")]);
    assert.equal(failed.status, 1);
    assert.equal(existsSync(join(dir, "never.sql")), false);
    assert.equal(existsSync(join(dir, "never.sql.partial")), false);
  });

  test("dumping a file that does not exist is an error and creates nothing", () => {
    const missing = join(tempDir(), "missing.db");
    const r = lh(["dump", missing]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no database file/);
    assert.equal(existsSync(missing), false);
  });
});

// Every kind of virtual table a dump meets, with the modules this build has (FTS5, R*Tree) and
// without (Debian's sqlite3 has FTS4; ours does not).
const VTABLES_SQL = `
CREATE VIRTUAL TABLE notes USING fts5(title, body UNINDEXED, tokenize='porter');
INSERT INTO notes(rowid, title, body) VALUES (3, 'running shoes', 'x'), (7, 'runner''s guide', 'y'), (9, 'swimming', NULL);
INSERT INTO notes(notes, rank) VALUES ('pgsz', 1000);
INSERT INTO notes(notes, rank) VALUES ('rank', 'bm25(10.0, 1.0)');
CREATE TABLE articles(id INTEGER PRIMARY KEY, text TEXT);
CREATE VIRTUAL TABLE articles_fts USING fts5(text, content='articles', content_rowid='id');
INSERT INTO articles VALUES (1, 'alpha beta'), (2, 'beta gamma'), (5, 'gamma delta');
INSERT INTO articles_fts(articles_fts) VALUES ('rebuild');
CREATE VIRTUAL TABLE empty_index USING fts5(x, content='');
CREATE VIRTUAL TABLE vocab USING fts5vocab(notes, row);
CREATE VIRTUAL TABLE geo USING rtree(id, minx, maxx, miny, maxy, +label);
INSERT INTO geo VALUES (1, 0, 10, 0, 10, 'square'), (2, -5.5, 2.25, 3, 4, NULL), (10, 100, 200, 100, 200, 'far');
CREATE VIRTUAL TABLE grid USING rtree_i32(id, x0, x1);
INSERT INTO grid VALUES (4, -3, 7);
CREATE VIRTUAL TABLE nothing_yet USING rtree(id, a, b);
`;
const VTABLES_QUERIES = [
  "SELECT rowid, title, body FROM notes WHERE notes MATCH 'run*' ORDER BY rank, rowid",
  "SELECT rowid FROM notes WHERE notes MATCH 'running' ORDER BY rowid",
  "SELECT k, v FROM notes_config ORDER BY k",
  "SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'gamma' ORDER BY rowid",
  "SELECT term, doc FROM vocab ORDER BY term",
  "SELECT id, label FROM geo WHERE minx <= 1 AND maxx >= 1 ORDER BY id",
  "SELECT * FROM geo ORDER BY id",
  "SELECT * FROM grid",
  "SELECT count(*) FROM nothing_yet",
];

describe("virtual tables", () => {
  let db;
  let ours;
  before(() => {
    db = join(tempDir(), "vtables.db");
    const made = sqlite3([db], { input: VTABLES_SQL });
    assert.equal(made.status, 0, made.stderr);
    const dumped = lh(["dump", db]);
    assert.equal(dumped.status, 0, dumped.stderr);
    assert.equal(dumped.stderr, "");
    ours = dumped.stdout;
  });
  const answers = (file) => VTABLES_QUERIES.map((q) => {
    const r = sqlite3([file, q]);
    assert.equal(r.status, 0, `${q}: ${r.stderr}`);
    return r.stdout;
  });

  test("our dump writes each module's rows through the table, never its shadow tables", () => {
    assert.doesNotMatch(ours, /writable_schema|sqlite_schema/);
    assert.doesNotMatch(ours, /(INSERT INTO|CREATE TABLE IF NOT EXISTS) '?\w+_(data|idx|content|docsize|config|node|rowid|parent)\b/);
    assert.match(ours, /\nCREATE VIRTUAL TABLE notes USING fts5\(title, body UNINDEXED, tokenize='porter'\);\n/);
    assert.match(ours, /\nINSERT INTO notes\(notes,rank\) VALUES\('pgsz',1000\);\nINSERT INTO notes\(notes,rank\) VALUES\('rank','bm25\(10\.0, 1\.0\)'\);\n/);
    assert.match(ours, /\nINSERT INTO notes\(rowid,title,body\) VALUES\(7,'runner''s guide','y'\);\n/);
    assert.match(ours, /\nINSERT INTO geo VALUES\(2,-5\.5,2\.25,3\.0,4\.0,NULL\);\n/);
    assert.match(ours, /\nINSERT INTO grid VALUES\(4,-3,7\);\n/);
    // External content: the rows are articles'; the index is rebuilt once they are in.
    assert.doesNotMatch(ours, /INSERT INTO articles_fts\(rowid/);
    assert.match(ours, /INSERT INTO articles VALUES\(5,'gamma delta'\);\n(.*\n)*INSERT INTO articles_fts\(articles_fts\) VALUES\('rebuild'\);\nCOMMIT;\n$/);
    assert.match(ours, /\nCREATE VIRTUAL TABLE vocab USING fts5vocab\(notes, row\);\n/);
  });

  test("sqlite3 loads our dump: same answers from every virtual table, and the same dump again", () => {
    const copy = join(tempDir(), "vt-by-sqlite3.db");
    const r = sqlite3([copy], { input: ours });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.deepEqual(answers(copy), answers(db));
    assert.equal(lh(["dump", copy]).stdout, ours);
  });

  test("litehouse loads our dump, into a file and through a server, and dumps it identically", async () => {
    const copy = join(tempDir(), "vt-by-litehouse.db");
    const r = lh(["shell", copy], { input: ours });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(lh(["dump", copy]).stdout, ours);
    assert.deepEqual(answers(copy), answers(db));
    const server = await startServer();
    try {
      const viaServer = lh(["shell", server.url], { input: ours });
      assert.equal(viaServer.status, 0, viaServer.stderr);
      assert.equal(lh(["dump", server.url]).stdout, ours);
    } finally {
      await server.stop();
    }
  });

  test("sqlite3's dump of them imports: its shadow rows become the tables' rows again", () => {
    // The R*Tree tables with rows are in sqlite3's dump only as node blobs (see the next test): this
    // source leaves them out; the empty one stays.
    const withoutGeo = join(tempDir(), "no-geo.db");
    const sql = VTABLES_SQL.replace(/CREATE VIRTUAL TABLE geo[^\n]*\n[^\n]*\n/, "").replace(/CREATE VIRTUAL TABLE grid[^\n]*\n[^\n]*\n/, "");
    assert.equal(sqlite3([withoutGeo], { input: sql }).status, 0);
    const theirs = sqlite3([withoutGeo, ".dump"]).stdout;
    assert.match(theirs, /INSERT INTO notes_content VALUES/);
    assert.match(theirs, /INSERT INTO nothing_yet_node VALUES\(1,/);
    const copy = join(tempDir(), "vt-from-sqlite3.db");
    const r = lh(["shell", copy], { input: theirs });
    assert.equal(r.status, 0, r.stderr);
    // What the virtual tables hold, and what they answer, is the source's.
    assert.equal(lh(["dump", copy]).stdout, lh(["dump", withoutGeo]).stdout);
    const queries = VTABLES_QUERIES.filter((q) => !/geo|grid/.test(q));
    for (const q of queries) assert.equal(sqlite3([copy, q]).stdout, sqlite3([withoutGeo, q]).stdout, q);
    assert.equal(sqlite3([copy, "INSERT INTO notes(notes) VALUES('integrity-check')"]).status, 0);
  });

  test("what only shadow tables hold is refused clearly, naming the line and the table, and rolled back", () => {
    const theirs = sqlite3([db, ".dump"]).stdout;
    const copy = join(tempDir(), "vt-rtree-from-sqlite3.db");
    const r = lh(["shell", copy], { input: theirs });
    assert.equal(r.status, 1);
    const line = theirs.split("\n").findIndex((l) => l.startsWith("INSERT INTO geo_")) + 1;
    assert.ok(line > 0);
    assert.match(r.stderr, new RegExp(`line ${line}: the R\\*Tree table geo has its rows in this dump only inside geo_\\w+`));
    assert.match(r.stderr, /litehouse dump FILE/);
    assert.match(r.stderr, /was rolled back/);
    assert.equal(sqlite3([copy, "SELECT count(*) FROM sqlite_schema"]).stdout.trim(), "0");

    const contentless = join(tempDir(), "contentless.db");
    assert.equal(sqlite3([contentless], { input: "CREATE VIRTUAL TABLE idx USING fts5(x, content=''); INSERT INTO idx(rowid, x) VALUES (1, 'indexed only');" }).status, 0);
    const cdump = sqlite3([contentless, ".dump"]).stdout;
    const target = join(tempDir(), "contentless-copy.db");
    const c = lh(["shell", target], { input: cdump });
    assert.equal(c.status, 1);
    assert.match(c.stderr, /line \d+: the FTS5 table idx keeps no copy of its text \(content=''\)/);
    assert.equal(sqlite3([target, "SELECT count(*) FROM sqlite_schema"]).stdout.trim(), "0");
  });

  test("a contentless FTS5 table with rows dumps empty, with a warning in the dump and on stderr", () => {
    const file = join(tempDir(), "warn.db");
    assert.equal(sqlite3([file], { input: "CREATE VIRTUAL TABLE idx USING fts5(x, content=''); INSERT INTO idx(rowid, x) VALUES (1, 'indexed only');" }).status, 0);
    const r = lh(["dump", file]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^-- warning: the FTS5 table idx keeps no copy of its text \(content=''\)[^\n]*recreates it empty\nPRAGMA foreign_keys=OFF;/);
    assert.match(r.stderr, /^Warning: the FTS5 table idx keeps no copy of its text/);
    assert.match(r.stdout, /\nCREATE VIRTUAL TABLE idx USING fts5\(x, content=''\);\nCOMMIT;\n$/);
    // It loads, into an empty table.
    const copy = join(tempDir(), "warn-copy.db");
    assert.equal(lh(["shell", copy], { input: r.stdout }).status, 0);
    assert.equal(sqlite3([copy, "SELECT count(*) FROM idx"]).stdout.trim(), "0");
  });
});

describe("dump and import against the server", () => {
  let server;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server?.stop();
  });

  test("a sqlite3 dump imports through the server; litehouse dump and GET /dump give our dump back", async () => {
    const r = lh(["shell", server.url], { input: theirDump });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(lh(["dump", server.url]).stdout, ourDump);
    assert.equal(lh(["dump", server.url.replace("http", "ws")]).stdout, ourDump);
    const res = await fetch(server.url + "/dump");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("transfer-encoding"), "chunked");
    assert.match(res.headers.get("content-type"), /^text\/plain/);
    assert.equal(await res.text(), ourDump);
    const client = createClient({ url: server.url });
    try {
      await checkContent(client);
    } finally {
      client.close();
    }
  });

  test("our dump imports through a fresh server and round-trips", async () => {
    const other = await startServer();
    try {
      const r = lh(["shell", other.url], { input: ourDump });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(lh(["dump", other.url]).stdout, ourDump);
    } finally {
      await other.stop();
    }
  });

  test("a script's SELECT prints its rows in list mode", () => {
    const r = lh(["shell", server.url], { input: "SELECT 1, 'a|b';\nSELECT name FROM parent ORDER BY id;\n" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "1|a|b\np1\np2\n");
  });

  test("an HTTP/1.0 client gets the dump unchunked, ended by the connection's close", async () => {
    const body = await new Promise((resolve, reject) => {
      const socket = net.connect(server.port, "127.0.0.1", () => socket.write("GET /dump HTTP/1.0\r\n\r\n"));
      const parts = [];
      socket.on("data", (d) => parts.push(d));
      socket.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
      socket.on("error", reject);
      socket.setTimeout(10_000, () => reject(new Error("no end of the HTTP/1.0 dump")));
    });
    const [head, ...rest] = body.split("\r\n\r\n");
    assert.match(head, /^HTTP\/1\.0 200 OK/);
    assert.doesNotMatch(head, /transfer-encoding/i);
    assert.equal(rest.join("\r\n\r\n"), lh(["dump", server.url]).stdout);
  });

  test("dot-commands in a script: .read, .dump, .mode, .headers, .timer, .help, .quit", () => {
    const dir = tempDir();
    const included = join(dir, "included.sql");
    writeFileSync(included, "CREATE TABLE dots(a, b);\nINSERT INTO dots VALUES (1, 'x;y');\n");
    const db = join(dir, "dots.db");
    const script = [
      `.read ${included}`,
      ".mode csv",
      ".headers on",
      "SELECT a, b FROM dots;",
      ".dump",
      ".timer on",
      "SELECT 2 AS two;",
      ".help",
      ".quit",
      "SELECT 'after quit';",
      "",
    ].join("\n");
    const r = lh(["shell", db], { input: script });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^a,b\n1,x;y\n/);
    assert.match(r.stdout, /CREATE TABLE dots\(a, b\);\nINSERT INTO dots VALUES\(1,'x;y'\);\nCOMMIT;\n/);
    assert.match(r.stdout, /two\n2\nRun Time: real \d+\.\d{3}\n/);
    assert.match(r.stdout, /\.read FILE +run the SQL script FILE/);
    assert.doesNotMatch(r.stdout, /after quit/);
    const bad = lh(["shell", db], { input: ".read /nonexistent.sql\n" });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /cannot open \/nonexistent\.sql/);
    const unknown = lh(["shell", db], { input: "BEGIN;\nINSERT INTO dots VALUES (2, 'z');\n.frobnicate\nCOMMIT;\n" });
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /line 3: .*frobnicate/);
    assert.equal(sqlite3([db, "SELECT count(*) FROM dots"]).stdout.trim(), "1");
  });

  test("a server's --db-path directory is a target too (its dbs/default/data)", async () => {
    // While the server runs it holds its file for itself (--file-locking exclusive): refused, saying
    // what to do instead.
    const locked = lh(["dump", server.dir]);
    assert.equal(locked.status, 1);
    assert.match(locked.stderr, /database is locked.*use the server's URL instead, or stop the server/);
    // With --file-locking shared, and once a server has stopped, the directory is read as its file.
    const shared = await startServer({ args: ["--file-locking", "shared"] });
    try {
      assert.equal(lh(["shell", shared.url], { input: theirDump }).status, 0);
      const viaDir = lh(["dump", shared.dir]);
      assert.equal(viaDir.status, 0, viaDir.stderr);
      assert.equal(viaDir.stdout, lh(["dump", shared.url]).stdout);
      assert.equal(viaDir.stdout, ourDump);
    } finally {
      assert.equal(await shared.stop({ keepDir: true }), 0);
    }
    const stopped = lh(["dump", shared.dir]);
    rmSync(shared.dir, { recursive: true, force: true });
    assert.equal(stopped.status, 0, stopped.stderr);
    assert.equal(stopped.stdout, ourDump);
  });

  test("POST /dump is refused with a JSON error", async () => {
    const res = await fetch(server.url + "/dump", { method: "POST", body: "" });
    assert.equal(res.status, 405);
    assert.equal((await res.json()).code, "METHOD_NOT_ALLOWED");
  });
});

describe("an import that fails leaves nothing half applied", () => {
  let server;
  let client;
  before(async () => {
    server = await startServer();
    client = createClient({ url: server.url });
  });
  after(async () => {
    client?.close();
    await server?.stop();
  });

  test("the first error stops the import, names its line, and rolls back the script's transaction", async () => {
    const script = [
      "CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT);", // 1: autocommit, stays
      "BEGIN TRANSACTION;", // 2
      "INSERT INTO t VALUES(1, 'one;');", // 3
      "INSERT INTO t VALUES(2, 'two", // 4: a string over two lines
      "lines');",
      "INSERT INTO t VALUES(1, 'duplicate');", // 6: fails
      "INSERT INTO t VALUES(3, 'never');",
      "COMMIT;",
      "",
    ].join("\n");
    const r = lh(["shell", server.url], { input: script });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /line 6: .*UNIQUE constraint failed: t\.a/);
    assert.match(r.stderr, /begun on line 2, was rolled back/);
    const rows = await client.execute("SELECT count(*) AS n FROM t");
    assert.equal(rows.rows[0].n, 0);
    // The writer is free again: another client writes at once.
    await client.execute("INSERT INTO t VALUES(100, 'other client')");
    assert.equal((await client.execute("SELECT count(*) AS n FROM t")).rows[0].n, 1);
  });

  test("a script that ends inside its transaction is rolled back and fails", async () => {
    const r = lh(["shell", server.url], { input: "BEGIN;\nCREATE TABLE half(a);\nINSERT INTO half VALUES(1);\n" });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /ended inside a transaction/);
    const t = await client.execute("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'half'");
    assert.equal(t.rows[0].n, 0);
  });

  test("an unfinished last statement is reported, not run half", async () => {
    const r = lh(["shell", server.url], { input: "INSERT INTO t VALUES(200, 'x');\nINSERT INTO t VALUES(201, 'unterminated" });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /line 2: .*(unrecognized token|incomplete)/i);
    const rows = await client.execute("SELECT a FROM t WHERE a >= 200");
    assert.deepEqual(rows.rows.map((x) => x.a), [200]);
  });

  test("a dump writing the schema table other than for a virtual table is refused clearly", async () => {
    const r = lh(["shell", server.url], {
      input: "INSERT INTO sqlite_schema(type,name,tbl_name,rootpage,sql)VALUES('table','x','x',0,'CREATE TABLE x(a)');\n",
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /line 1: .*table sqlite_(schema|master) may not be modified/);
  });

  test("a server that accepts and never answers is a timeout, not a hang", async () => {
    const silent = net.createServer(() => {}); // accepts, reads nothing, says nothing
    await new Promise((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address();
    try {
      for (const url of [`http://127.0.0.1:${port}`, `ws://127.0.0.1:${port}`]) {
        const r = await runAsync(BIN, ["shell", url, "--timeout", "1"], "SELECT 1;\n");
        assert.equal(r.status, 1, `${url}: ${r.stderr}`);
        assert.match(r.stderr, /timeout|timed out/i, url);
      }
      const d = await runAsync(BIN, ["dump", `http://127.0.0.1:${port}`, "--timeout", "1"]);
      assert.equal(d.status, 1);
      assert.match(d.stderr, /timeout|timed out/i);
      const m = await runAsync(BIN, ["migrate", `http://127.0.0.1:${port}`, "--dir", tempDir(), "--timeout", "1"]);
      assert.equal(m.status, 1);
      assert.match(m.stderr, /timeout|timed out/i);
    } finally {
      silent.close();
    }
  });

  test("an unreachable server is an error, not a hang", () => {
    const r = lh(["shell", "http://127.0.0.1:9"], { input: "SELECT 1;\n" });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot connect/);
    const d = lh(["dump", "http://127.0.0.1:9"]);
    assert.equal(d.status, 1);
    assert.match(d.stderr, /cannot connect/);
  });
});

describe("GET /dump streams a large database", () => {
  test("tens of thousands of rows arrive chunked and complete", async () => {
    const server = await startServer();
    const client = createClient({ url: server.url });
    try {
      await client.execute("CREATE TABLE big(id INTEGER PRIMARY KEY, payload TEXT)");
      // ~12 MB of rows, written in batches.
      for (let b = 0; b < 20; b++) {
        const stmts = [];
        for (let i = 0; i < 1000; i++) stmts.push({ sql: "INSERT INTO big(payload) VALUES (?)", args: ["x".repeat(600) + (b * 1000 + i)] });
        await client.batch(stmts, "write");
      }
      const res = await fetch(server.url + "/dump");
      assert.equal(res.headers.get("transfer-encoding"), "chunked");
      let chunks = 0;
      let text = "";
      const decoder = new TextDecoder();
      for await (const chunk of res.body) {
        chunks++;
        text += decoder.decode(chunk, { stream: true });
      }
      assert.ok(chunks > 1, `expected the dump in several chunks, got ${chunks}`);
      assert.equal(text.match(/^INSERT INTO big VALUES/gm).length, 20_000);
      assert.match(text, /INSERT INTO big VALUES\(20000,'x{600}19999'\);\nCOMMIT;\n$/);
    } finally {
      client.close();
      await server.stop();
    }
  });
});

describe("a slow /dump reader", () => {
  // A dump reads one snapshot while its client reads; no checkpoint can pass that snapshot, so a
  // client that reads slowly while others write would make the WAL grow without bound. Past
  // --max-snapshot-wal-growth-frames of growth since the dump began, the dump is cut short (no last
  // chunk, so the client sees an incomplete transfer, and the text lacks its COMMIT), and the
  // server says why. Then a dump is whole again.
  test("a dump whose client stalls while the WAL grows past the bound is cut short; the next dump is whole", { timeout: 120_000 }, async () => {
    const server = await startServer({ args: ["--max-snapshot-wal-growth-frames", "300"] });
    const client = createClient({ url: server.url });
    try {
      await client.execute("CREATE TABLE big(id INTEGER PRIMARY KEY, payload TEXT)");
      // ~30 MB, more than the loopback socket buffers hold, so the dump waits on its client.
      await client.execute(
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 50000) INSERT INTO big(payload) SELECT hex(randomblob(300)) FROM c");
      const socket = net.connect(server.port, "127.0.0.1", () => socket.write("GET /dump HTTP/1.1\r\nHost: test\r\n\r\n"));
      const parts = [];
      let received = 0;
      const firstData = new Promise((resolve) => socket.once("data", resolve));
      socket.on("data", (d) => {
        parts.push(d);
        received += d.length;
      });
      const closed = new Promise((resolve) => socket.on("close", resolve));
      await firstData;
      socket.pause();
      // 400 commits while the client does not read: the WAL grows past the bound (each is a frame
      // at least).
      for (let i = 0; i < 400; ++i) await client.execute({ sql: "INSERT INTO big(payload) VALUES (?)", args: [`w${i}`] });
      socket.resume();
      await closed;
      const body = Buffer.concat(parts).toString("latin1");
      assert.match(body, /^HTTP\/1\.1 200/);
      assert.match(body, /CREATE TABLE big/);
      assert.ok(!body.endsWith("0\r\n\r\n"), "no last chunk: the transfer is incomplete");
      assert.ok(!/COMMIT;\n/.test(body), "the cut dump has no COMMIT: replayed, it applies nothing");
      assert.ok(received < 30_000_000, `${received} bytes came before the cut`);
      assert.match(server.stderr, /the WAL grew by more than 300 frames while the dump's client read it/);
      // A dump read at once is whole, the 400 rows included.
      const res = await fetch(server.url + "/dump");
      const text = await res.text();
      assert.equal(text.match(/^INSERT INTO big VALUES/gm).length, 50_400);
      assert.match(text, /'w399'\);\nCOMMIT;\n$/);
    } finally {
      client.close();
      await server.stop();
    }
  });
});

describe("migrations", () => {
  function migrationsDir(files) {
    const dir = join(tempDir(), "migrations");
    mkdirSync(dir);
    for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
    return dir;
  }
  const FILES = {
    "001-create-users.sql": "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n",
    "002-add-email.sql": "ALTER TABLE users ADD COLUMN email TEXT;\nCREATE UNIQUE INDEX users_email ON users(email);\n",
    "010-seed.sql": "INSERT INTO users(name, email) VALUES ('ada', 'ada@example.com');\n-- a comment; at the end\n",
    "notes.txt": "not a migration",
  };

  for (const kind of ["file", "server"]) {
    test(`apply, re-run as a no-op, dry-run, refuse a renamed version, roll back a failure (${kind})`, async () => {
      const server = kind === "server" ? await startServer() : null;
      const target = server ? server.url : join(tempDir(), "app.db");
      const client = createClient({ url: server ? server.url : "file:" + target });
      try {
        const dir = migrationsDir(FILES);
        const dry = lh(["migrate", target, "--dir", dir, "--dry-run"]);
        assert.equal(dry.status, 0, dry.stderr);
        assert.equal(dry.stdout, "001-create-users.sql\n002-add-email.sql\n010-seed.sql\n");
        const nothing = await client.execute("SELECT count(*) AS n FROM sqlite_schema");
        assert.equal(nothing.rows[0].n, 0);

        const first = lh(["migrate", target, "--dir", dir]);
        assert.equal(first.status, 0, first.stderr);
        assert.match(first.stderr, /applied 001-create-users\.sql\napplied 002-add-email\.sql\napplied 010-seed\.sql/);
        const record = await client.execute("SELECT version, name, applied_at FROM _migrations ORDER BY version");
        assert.deepEqual(record.rows.map((r) => [r.version, r.name]), [[1, "create-users"], [2, "add-email"], [10, "seed"]]);
        assert.match(record.rows[0].applied_at, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);

        const again = lh(["migrate", target, "--dir", dir]);
        assert.equal(again.status, 0, again.stderr);
        assert.match(again.stderr, /up to date \(3 applied\)/);
        assert.equal((await client.execute("SELECT count(*) AS n FROM users")).rows[0].n, 1);
        assert.equal(lh(["migrate", target, "--dir", dir, "--dry-run"]).stdout, "");

        writeFileSync(join(dir, "011-broken.sql"), "CREATE TABLE audit(x);\nINSERT INTO audit VALUES(1);\n\nINSERT INTO nowhere VALUES(1);\n");
        const broken = lh(["migrate", target, "--dir", dir]);
        assert.equal(broken.status, 1);
        assert.match(broken.stderr, /011-broken\.sql line 4: .*no such table: nowhere/);
        const audit = await client.execute("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'audit'");
        assert.equal(audit.rows[0].n, 0);
        assert.equal((await client.execute("SELECT count(*) AS n FROM _migrations")).rows[0].n, 3);

        rmSync(join(dir, "011-broken.sql"));
        renameSync(join(dir, "002-add-email.sql"), join(dir, "002-add-mail.sql"));
        const mismatch = lh(["migrate", target, "--dir", dir]);
        assert.equal(mismatch.status, 3);
        assert.match(mismatch.stderr, /version 2 is recorded as 'add-email' but the file is 002-add-mail\.sql/);

        writeFileSync(join(dir, "bad name.sql"), "SELECT 1;");
        const misnamed = lh(["migrate", target, "--dir", dir]);
        assert.equal(misnamed.status, 3);
        assert.match(misnamed.stderr, /bad name\.sql: a migration is named NNN-name\.sql/);
      } finally {
        client.close();
        await server?.stop();
      }
    });
  }

  test("two deploys migrating at once apply each migration exactly once", async () => {
    const server = await startServer();
    const client = createClient({ url: server.url });
    try {
      const files = {};
      for (let i = 1; i <= 12; i++) {
        files[`${String(i).padStart(3, "0")}-step.sql`] = `CREATE TABLE t${i}(a);\nINSERT INTO t${i} VALUES(${i});\n`;
      }
      const dir = migrationsDir(files);
      const [a, b] = await Promise.all([
        runAsync(BIN, ["migrate", server.url, "--dir", dir]),
        runAsync(BIN, ["migrate", server.url, "--dir", dir]),
      ]);
      assert.equal(a.status, 0, a.stderr);
      assert.equal(b.status, 0, b.stderr);
      const record = await client.execute("SELECT count(*) AS n FROM _migrations");
      assert.equal(record.rows[0].n, 12);
      for (let i = 1; i <= 12; i++) {
        assert.equal((await client.execute(`SELECT count(*) AS n FROM t${i}`)).rows[0].n, 1);
      }
    } finally {
      client.close();
      await server.stop();
    }
  });

  test("a missing directory is an error", () => {
    const r = lh(["migrate", join(tempDir(), "x.db"), "--dir", "/nonexistent/migrations"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot read the migrations directory/);
  });
});

describe("auth", () => {
  test("GET /dump and the tools need a token when the server has keys; a read-only token may dump but not import", async () => {
    const keys = tempDir();
    assert.equal(lh(["token", "keygen", "--dir", keys]).status, 0);
    const server = await startServer({ args: ["--auth-jwt-key-file", join(keys, "jwt_public.pem")] });
    try {
      const rw = lh(["token", "create", "--key", join(keys, "jwt_private.pem")]).stdout.trim();
      const ro = lh(["token", "create", "--key", join(keys, "jwt_private.pem"), "--read-only"]).stdout.trim();
      const anonymous = await fetch(server.url + "/dump");
      assert.equal(anonymous.status, 401);
      assert.ok((await anonymous.json()).message);
      const denied = lh(["dump", server.url], { env: { TURSO_AUTH_TOKEN: "" } });
      assert.equal(denied.status, 1);
      assert.match(denied.stderr, /dump failed/);

      const imported = lh(["shell", server.url, "--auth-token", rw], { input: "CREATE TABLE t(a);\nINSERT INTO t VALUES(1);\n" });
      assert.equal(imported.status, 0, imported.stderr);
      const dump = lh(["dump", server.url], { env: { TURSO_AUTH_TOKEN: ro } });
      assert.equal(dump.status, 0, dump.stderr);
      assert.match(dump.stdout, /INSERT INTO t VALUES\(1\);/);
      const refused = lh(["shell", server.url, "--auth-token", ro], { input: "INSERT INTO t VALUES(2);\n" });
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /line 1: .*read-only/);
    } finally {
      await server.stop();
    }
  });
});
