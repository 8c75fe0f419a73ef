// libSQL's vector functions on the real server, against libSQL's own engine (the `libsql` npm
// package, local mode): the same SQL gives the same blobs, texts, distances and error messages in
// both; a file written by libSQL reads back identically here (server and shell), and the reverse;
// over HTTP and WebSocket with @libsql/client, k-nearest neighbours by exact search, and errors in
// Hrana's error shape.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { createClient } from "@libsql/client";
import { BIN, startServer, refused, rng } from "./harness.mjs";

const Database = createRequire(import.meta.url)("libsql");

// Each vector type: its function, its column type.
const TYPES = [
  ["vector32", "F32_BLOB"],
  ["vector64", "F64_BLOB"],
  ["vector16", "F16_BLOB"],
  ["vectorb16", "FB16_BLOB"],
  ["vector8", "F8_BLOB"],
  ["vector1bit", "F1BIT_BLOB"],
];

// Vector texts of many sizes and scales: tiny, huge, negative, zero, digits past float precision.
function vectorTexts(count, seed) {
  const rand = rng(seed);
  const scales = [1, 1e-3, 1e3, 1e-30, 1e30, 65504, 1e-7];
  const out = [];
  for (let n = 0; n < count; n++) {
    const dims = 1 + Math.floor(rand() * 40);
    const scale = scales[n % scales.length];
    const xs = [];
    for (let i = 0; i < dims; i++) {
      const r = rand();
      xs.push(r < 0.05 ? "0" : ((rand() * 2 - 1) * scale).toPrecision(1 + Math.floor(rand() * 17)));
    }
    out.push(`[${xs.join(",")}]`);
  }
  return out;
}

// libSQL leaves an f8 blob's alignment padding uninitialized: compare with it zeroed.
function maskF8Padding(hex) {
  if (typeof hex !== "string" || hex.length < 22 || !hex.endsWith("04")) return hex;
  const bytes = hex.length / 2;
  const padding = parseInt(hex.slice(-4, -2), 16);
  const dims = bytes - 3 - 8 - padding;
  if (dims < 0 || padding > 3) return hex;
  return hex.slice(0, dims * 2) + "00".repeat(padding) + hex.slice((dims + padding) * 2);
}

// What libSQL's engine answers for `sql`: its first row, or { error: message }.
function libsqlRow(db, sql, args = []) {
  try {
    return db.prepare(sql).raw().get(args);
  } catch (e) {
    return { error: e.message };
  }
}
async function litehouseRow(client, sql, args = []) {
  try {
    const rs = await client.execute({ sql, args });
    return rs.rows[0] ? Array.from(rs.rows[0]) : undefined;
  } catch (e) {
    return { error: e.message };
  }
}

let server;
let http;
let ws;
let reference; // libSQL's engine, in memory
const tempDirs = [];

function tempDir() {
  const d = mkdtempSync(join(tmpdir(), "litehouse-vector-"));
  tempDirs.push(d);
  return d;
}

before(async () => {
  server = await startServer();
  http = createClient({ url: server.url });
  ws = createClient({ url: `ws://127.0.0.1:${server.port}` });
  reference = new Database(":memory:");
});

after(async () => {
  http.close();
  ws.close();
  reference.close();
  assert.equal(await server.stop(), 0);
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

for (const [name, clientOf] of [["http", () => http], ["ws", () => ws]]) {
  test(`over ${name}: an F32_BLOB(3) table, vector_extract, and k-nearest by exact search`, async () => {
    const c = clientOf();
    const table = `docs_${name}`;
    await c.execute(`CREATE TABLE ${table} (id INTEGER PRIMARY KEY, title TEXT, emb F32_BLOB(3))`);
    const docs = [
      [1, "north", "[0, 1, 0]"],
      [2, "east", "[1, 0, 0]"],
      [3, "north-east", "[0.7, 0.7, 0]"],
      [4, "up", "[0, 0, 1]"],
      [5, "south", "[0, -1, 0]"],
    ];
    await c.batch(
      docs.map(([id, title, v]) => ({ sql: `INSERT INTO ${table} VALUES (?, ?, vector32(?))`, args: [id, title, v] })),
      "write",
    );
    const rs = await c.execute(`SELECT vector_extract(emb), typeof(emb), length(emb) FROM ${table} WHERE id = 3`);
    assert.deepEqual(Array.from(rs.rows[0]), ["[0.7,0.7,0]", "blob", 12]);
    const near = await c.execute({
      sql: `SELECT title, vector_distance_cos(emb, vector32(?)) AS d FROM ${table} ORDER BY d LIMIT 3`,
      args: ["[0.9, 1, 0]"],
    });
    assert.deepEqual(near.rows.map((r) => r.title), ["north-east", "north", "east"]);
    const l2 = await c.execute(`SELECT title FROM ${table} ORDER BY vector_distance_l2(emb, '[0,0,0.9]') LIMIT 1`);
    assert.equal(l2.rows[0].title, "up");
    // A blob bound as a parameter is a vector too.
    const bound = await c.execute({ sql: "SELECT vector_extract(?)", args: [new Uint8Array([0, 0, 0x80, 0x3f])] });
    assert.equal(bound.rows[0][0], "[1]");
  });

  test(`over ${name}: errors come back in Hrana's error shape with libSQL's messages`, async () => {
    const c = clientOf();
    // SQLITE_ERROR is SQLITE_UNKNOWN in Hrana, as sqld names it.
    await refused(c.execute("SELECT vector32('[1,2')"), "SQLITE_UNKNOWN", /vector: must end with '\]'/);
    await refused(c.execute("SELECT vector(NULL)"), "SQLITE_UNKNOWN",
      /vector: unexpected value type: got NULL, expected TEXT or BLOB/);
    await refused(c.execute("SELECT vector_distance_cos('[1,2,3]', '[1,2]')"), "SQLITE_UNKNOWN",
      /vector_distance: vectors must have the same length: 3 != 2/);
  });
}

test("the same SQL gives the same answers in libSQL and here, for every type", async () => {
  const texts = vectorTexts(60, 1);
  const checked = [];
  for (const text of texts) {
    for (const [fn] of TYPES) {
      checked.push([`SELECT hex(${fn}(?)), vector_extract(${fn}(?))`, [text, text]]);
      for (const [to] of TYPES) checked.push([`SELECT hex(${to}(${fn}(?)))`, [text]]);
    }
  }
  // Distances: pairs of the same length, each metric, each type.
  const pairs = vectorTexts(80, 2);
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const dims = pairs[i].split(",").length;
    const other = vectorTexts(200, 3 + i).find((t) => t.split(",").length === dims) ?? pairs[i];
    for (const [fn] of TYPES) {
      checked.push([`SELECT vector_distance_cos(${fn}(?), ${fn}(?))`, [pairs[i], other]]);
      if (fn !== "vector1bit") checked.push([`SELECT vector_distance_l2(${fn}(?), ${fn}(?))`, [pairs[i], other]]);
    }
    checked.push(["SELECT vector_distance_cos(?, ?), vector_distance_l2(?, ?)", [pairs[i], other, pairs[i], other]]);
  }
  // Texts at the edges of the syntax, and errors.
  const edges = ["[]", "  [ 1 , 2 ]  ", "[1 2]", "[+1,.5,5.,-0,1E-2]", "[1e400,-1e400,1e-400]", "[4.9e-324]",
    "[65519, 65520, 6e-8, 3e-8, 1e-5]", "[1.0000001, 3.4028235e38, 3.4028236e38]", "[0x10]", "[nan]", "[inf]",
    "[1e]", "[1,,2]", "[1,2,]", "[", "]", "", "x", "[1]x", "[[1]]", "[1;2]", "[-]", "[.]", "[1e+]"];
  for (const text of edges) {
    for (const [fn] of TYPES) checked.push([`SELECT hex(${fn}(?)), vector_extract(${fn}(?))`, [text, text]]);
  }
  const blobs = ["", "00", "0000803F", "0000803F01", "0000803F02", "000000000000F03F02", "03", "001003", "04",
    "0102", "07", "0000C07F0000807F000080FF", "FF02001603", "00000000000000000000803F000104",
    "3C00", "003C05", "803F06", "000000000000000000000000000000000000000000000000000000000000000000"];
  for (const hex of blobs) {
    for (const [fn] of TYPES) checked.push([`SELECT hex(${fn}(x'${hex}'))`, []]);
  }
  for (const [v, w] of [[1, "'[1]'"], [1.5, "'[1]'"], ["NULL", "'[1]'"], ["'[1]'", "x'00'"], ["'[1,2]'", "vector64('[1,2]')"],
    ["vector8('[1,2]')", "vector16('[1,2]')"], ["'[1,a]'", "'[1]'"], ["'[1,a]'", "'[1,2]'"]]) {
    checked.push([`SELECT vector_distance_cos(${v}, ${w})`, []]);
    checked.push([`SELECT vector_distance_l2(${v}, ${w})`, []]);
  }
  checked.push(["SELECT vector_distance_l2(vector1bit('[1]'), vector1bit('[2]'))", []]);
  checked.push(["SELECT vector_extract(1)", []]);

  const mismatches = [];
  let errors = 0;
  for (const [sql, args] of checked) {
    const theirs = libsqlRow(reference, sql, args);
    const ours = await litehouseRow(http, sql, args);
    if (theirs && theirs.error !== undefined) {
      errors++;
      if (!(ours && typeof ours.error === "string" && ours.error.includes(theirs.error))) {
        mismatches.push({ sql, args, theirs, ours });
      }
      continue;
    }
    const norm = (row) => (Array.isArray(row) ? row.map(maskF8Padding) : row);
    try {
      assert.deepEqual(norm(ours), norm(theirs));
    } catch {
      mismatches.push({ sql, args, theirs, ours });
    }
  }
  assert.deepEqual(mismatches.slice(0, 10), [], `${mismatches.length} of ${checked.length} differ`);
  // Both kinds were compared: values (most) and errors.
  assert.ok(checked.length > 3000 && errors > 100 && errors < checked.length / 4, `${errors} errors of ${checked.length}`);
});

// A table per type, filled from the same texts.
function fillStatements() {
  const texts = vectorTexts(20, 9).map((t) => {
    // The same length for every row of a table, as a vector column has.
    const xs = t.slice(1, -1).split(",");
    while (xs.length < 8) xs.push("0.5");
    return `[${xs.slice(0, 8).join(",")}]`;
  });
  const statements = [];
  for (const [fn, column] of TYPES) {
    statements.push({ sql: `CREATE TABLE t_${fn} (id INTEGER PRIMARY KEY, emb ${column}(8))`, args: [] });
    texts.forEach((t, i) => statements.push({ sql: `INSERT INTO t_${fn} VALUES (?, ${fn}(?))`, args: [i + 1, t] }));
  }
  return statements;
}
const READ_BACK = TYPES.map(([fn]) => `SELECT id, hex(emb), vector_extract(emb), typeof(emb) FROM t_${fn} ORDER BY id`);

test("a file libSQL wrote reads back identically here, over the server and in the shell", async () => {
  const dir = tempDir();
  mkdirSync(join(dir, "dbs", "default"), { recursive: true });
  const file = join(dir, "dbs", "default", "data");
  const db = new Database(file);
  for (const s of fillStatements()) db.prepare(s.sql).run(s.args);
  const expected = READ_BACK.map((sql) => db.prepare(sql).raw().all());
  db.close();

  const other = await startServer({ dbPath: dir });
  const c = createClient({ url: other.url });
  try {
    for (let i = 0; i < READ_BACK.length; i++) {
      const rs = await c.execute(READ_BACK[i]);
      assert.deepEqual(rs.rows.map((r) => Array.from(r)), expected[i], READ_BACK[i]);
    }
    const integrity = await c.execute("PRAGMA integrity_check");
    assert.equal(integrity.rows[0][0], "ok");
  } finally {
    c.close();
    assert.equal(await other.stop({ keepDir: true }), 0);
  }
  // The shell, on the file itself.
  const sql = TYPES.map(([fn]) => `SELECT hex(emb) FROM t_${fn} ORDER BY id;`).join("\n") + "\n";
  const r = spawnSync(BIN, ["shell", file], { input: sql, encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split("\n"), expected.flatMap((rows) => rows.map((row) => row[1])));
});

test("a file written here reads back identically in libSQL", async () => {
  const dir = tempDir();
  const other = await startServer({ dbPath: dir });
  const c = createClient({ url: other.url });
  const distances = TYPES.map(
    ([fn]) => `SELECT a.id, b.id, vector_distance_cos(a.emb, b.emb) FROM t_${fn} a, t_${fn} b WHERE a.id < 4 ORDER BY 1, 2`,
  );
  const ours = [];
  const ourDistances = [];
  try {
    await c.batch(fillStatements(), "write");
    for (const sql of READ_BACK) ours.push((await c.execute(sql)).rows.map((r) => Array.from(r)));
    for (const sql of distances) ourDistances.push((await c.execute(sql)).rows.map((r) => Array.from(r)));
  } finally {
    c.close();
    assert.equal(await other.stop({ keepDir: true }), 0);
  }
  const db = new Database(join(dir, "dbs", "default", "data"));
  try {
    for (let i = 0; i < READ_BACK.length; i++) {
      assert.deepEqual(db.prepare(READ_BACK[i]).raw().all(), ours[i], READ_BACK[i]);
    }
    // And libSQL computes from our blobs what we computed.
    distances.forEach((sql, i) => assert.deepEqual(db.prepare(sql).raw().all(), ourDistances[i], sql));
  } finally {
    db.close();
  }
});

test("examples/semantic-search: the nearest documents to a query, over HTTP and WebSocket, and from the command line", async () => {
  // The example's one dependency is the client these tests install: its node_modules points here
  // (git ignores it), as `npm install` in its folder would provide.
  const example = fileURLToPath(new URL("../../examples/semantic-search/", import.meta.url));
  if (!existsSync(join(example, "node_modules"))) {
    rmSync(join(example, "node_modules"), { force: true });  // a link left dangling
    symlinkSync("../../tests/integration/node_modules", join(example, "node_modules"), "dir");
  }
  const { search } = await import("../../examples/semantic-search/search.mjs");
  const server = await startServer();
  try {
    for (const url of [server.url, server.url.replace("http:", "ws:")]) {
      const c = createClient({ url });
      const cats = await search(c, "what do cats eat");
      assert.equal(cats[0].body, "Cats are carnivores: they eat meat and fish.");
      assert.ok(cats[0].distance < cats[1].distance);
      const music = await search(c, "a concert with a song", 2);
      assert.match(music[0].body, /orchestra/);
      assert.equal(music.length, 2);
      c.close();
    }
    const cli = spawnSync(process.execPath, [fileURLToPath(new URL("../../examples/semantic-search/search.mjs", import.meta.url)), server.url, "storm and rain tomorrow"], {
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout.split("\n")[0], /Storms are expected on the coast tomorrow/);
  } finally {
    assert.equal(await server.stop(), 0);
  }
});
