// The @libsql/client suite, run against the real litehouse binary over one URL scheme:
//   "http": http://127.0.0.1:PORT. The client opens its Hrana streams at protocol version 2, so
//           everything travels as JSON over /v2/pipeline; interactive transactions hold a stream
//           across several requests through batons.
//   "ws":   ws://127.0.0.1:PORT. The client offers the WebSocket subprotocols hrana2 and hrana1 (it
//           never asks for version 3), so everything travels as JSON over one socket per client, with
//           stored SQL (store_sql) for its SQL cache; a transaction is one stream left open on it.
// Covered either way: execute, batch (BEGIN ... COMMIT with conditions), interactive transactions,
// sequences (executeMultiple), errors and every value type. client-http.test.mjs and
// client-ws.test.mjs each call defineClientSuite once.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createClient, LibsqlError, LibsqlBatchError } from "@libsql/client";
import { startServer } from "./harness.mjs";

// The URL of a started server in the given scheme.
export function urlOf(srv, scheme) {
  if (scheme === "http") return srv.url;
  if (scheme === "ws") return `ws://127.0.0.1:${srv.port}`;
  throw new Error(`unknown scheme ${scheme}`);
}

// The shared server and its URL in the suite's scheme (set in `before`), and every client made.
let server;
let url;
const clients = [];

// A client of the shared server; closed in `after`.
function client(opts = {}) {
  const c = createClient({ url, ...opts });
  clients.push(c);
  return c;
}

// Asserts that `promise` rejects with a LibsqlError whose code is exactly `code`; returns the error.
async function rejectsWithCode(promise, code, messagePattern) {
  let caught;
  await assert.rejects(promise, (e) => {
    caught = e;
    assert.ok(e instanceof LibsqlError, `expected a LibsqlError, got ${e?.constructor?.name}: ${e?.message}`);
    assert.equal(e.code, code, e.message);
    if (messagePattern) assert.match(e.message, messagePattern);
    return true;
  });
  return caught;
}

async function count(c, table, where = "") {
  const rs = await c.execute(`SELECT count(*) AS n FROM ${table} ${where}`);
  return rs.rows[0].n;
}

const bytesOf = (ab) => Array.from(new Uint8Array(ab));

// Defines every test of the suite against a fresh shared server reached over `scheme` ("http" or "ws").
export function defineClientSuite(scheme) {
  before(async () => {
    server = await startServer();
    url = urlOf(server, scheme);
  });

  after(async () => {
    for (const c of clients) c.close();
    assert.ok(server.alive(), `the server is still up at the end:\n${server.stderr}`);
    assert.equal(await server.stop(), 0, "the server exits cleanly on SIGTERM");
  });

  test(`the client talks to the server over ${scheme}`, async () => {
    const c = client();
    assert.equal(c.protocol, scheme);
    assert.equal((await c.execute("SELECT 1 AS one")).rows[0].one, 1);
  });

  // ---------------------------------------------------------------------------------------------
  // execute and the ResultSet

  test("execute: create, positional insert, select, and every ResultSet field", async () => {
    const c = client();
    const created = await c.execute(
      "CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, photo BLOB, nick VARCHAR(20), misc)",
    );
    assert.deepEqual(created.columns, []);
    assert.deepEqual(created.rows, []);
    assert.equal(created.rowsAffected, 0);

    const ins1 = await c.execute("INSERT INTO people(name, score, nick, misc) VALUES (?, ?, ?, ?)", [
      "Ada",
      1.5,
      "ada",
      null,
    ]);
    assert.equal(ins1.rowsAffected, 1);
    assert.equal(typeof ins1.lastInsertRowid, "bigint");
    assert.equal(ins1.lastInsertRowid, 1n);
    assert.deepEqual(ins1.columns, []);
    assert.deepEqual(ins1.rows, []);

    // The object form of a statement, with an explicit rowid.
    const ins2 = await c.execute({ sql: "INSERT INTO people(id, name, score) VALUES (?, ?, ?)", args: [10, "Brian", 2.25] });
    assert.equal(ins2.rowsAffected, 1);
    assert.equal(ins2.lastInsertRowid, 10n);
    const ins3 = await c.execute({ sql: "INSERT INTO people(name) VALUES (?)", args: ["Cleo"] });
    assert.equal(ins3.lastInsertRowid, 11n);

    const rs = await c.execute("SELECT id, name, score, photo, nick, misc, typeof(id) AS tid FROM people ORDER BY id");
    assert.deepEqual(rs.columns, ["id", "name", "score", "photo", "nick", "misc", "tid"]);
    assert.deepEqual(rs.columnTypes, ["INTEGER", "TEXT", "REAL", "BLOB", "VARCHAR(20)", "", ""]);
    assert.equal(rs.rows.length, 3);
    const [a, b, cl] = rs.rows;
    // By index and by name, the same values.
    assert.equal(a.length, 7);
    assert.deepEqual([a[0], a[1], a[2], a[3], a[4], a[5], a[6]], [1, "Ada", 1.5, null, "ada", null, "integer"]);
    assert.deepEqual([a.id, a.name, a.score, a.photo, a.nick, a.misc, a.tid], [1, "Ada", 1.5, null, "ada", null, "integer"]);
    assert.deepEqual([b[0], b.name, b.score], [10, "Brian", 2.25]);
    assert.deepEqual([cl.id, cl[1], cl.score], [11, "Cleo", null]);
    // Integer args sent as JS numbers (Hrana floats) are stored as integers by the INTEGER affinity.
    assert.equal(b.tid, "integer");

    const upd = await c.execute("UPDATE people SET score = coalesce(score, 0) + 1");
    assert.equal(upd.rowsAffected, 3);
    const del = await c.execute({ sql: "DELETE FROM people WHERE id >= ?", args: [10] });
    assert.equal(del.rowsAffected, 2);
    const sel = await c.execute("SELECT name, score FROM people");
    assert.equal(sel.rowsAffected, 0);
    assert.deepEqual(
      sel.rows.map((r) => [r.name, r.score]),
      [["Ada", 2.5]],
    );
  });

  test("execute: named arguments in :name, $name and @name styles, with and without the prefix", async () => {
    const c = client();
    await c.execute("CREATE TABLE named(id INTEGER PRIMARY KEY, style TEXT, val INTEGER)");
    const cases = [
      ["INSERT INTO named(style, val) VALUES (:style, :val)", { style: "colon-bare", val: 1 }],
      ["INSERT INTO named(style, val) VALUES (:style, :val)", { ":style": "colon-prefixed", ":val": 2 }],
      ["INSERT INTO named(style, val) VALUES ($style, $val)", { style: "dollar-bare", val: 3 }],
      ["INSERT INTO named(style, val) VALUES ($style, $val)", { $style: "dollar-prefixed", $val: 4 }],
      ["INSERT INTO named(style, val) VALUES (@style, @val)", { style: "at-bare", val: 5 }],
      ["INSERT INTO named(style, val) VALUES (@style, @val)", { "@style": "at-prefixed", "@val": 6 }],
    ];
    for (const [i, [sql, args]] of cases.entries()) {
      const rs = await c.execute({ sql, args });
      assert.equal(rs.rowsAffected, 1, sql);
      assert.equal(rs.lastInsertRowid, BigInt(i + 1), sql);
    }
    const rs = await c.execute("SELECT style, val FROM named ORDER BY id");
    assert.deepEqual(
      rs.rows.map((r) => [r.style, r.val]),
      [
        ["colon-bare", 1],
        ["colon-prefixed", 2],
        ["dollar-bare", 3],
        ["dollar-prefixed", 4],
        ["at-bare", 5],
        ["at-prefixed", 6],
      ],
    );
    // A named parameter used twice, and one selected back by name.
    const twice = await c.execute({ sql: "SELECT :x || '-' || :x AS s, val FROM named WHERE style = :st", args: { x: "ab", st: "at-bare" } });
    assert.deepEqual([twice.rows[0].s, twice.rows[0].val], ["ab-ab", 5]);
    // Numbered positional parameters.
    const numbered = await c.execute({ sql: "SELECT ?2 AS first, ?1 AS second", args: ["one", "two"] });
    assert.deepEqual([numbered.rows[0].first, numbered.rows[0].second], ["two", "one"]);
  });

  // ---------------------------------------------------------------------------------------------
  // batch

  test("batch in write mode: results per statement, reads see earlier writes", async () => {
    const c = client();
    await c.execute("CREATE TABLE bw(id INTEGER PRIMARY KEY, v TEXT)");
    const results = await c.batch(
      [
        { sql: "INSERT INTO bw(v) VALUES (?)", args: ["a"] },
        ["INSERT INTO bw(v) VALUES (?)", ["b"]],
        "INSERT INTO bw(v) VALUES ('c')",
        "UPDATE bw SET v = upper(v) WHERE v <> 'b'",
        "SELECT id, v FROM bw ORDER BY id",
      ],
      "write",
    );
    assert.equal(results.length, 5);
    assert.deepEqual(
      results.slice(0, 3).map((r) => [r.rowsAffected, r.lastInsertRowid]),
      [
        [1, 1n],
        [1, 2n],
        [1, 3n],
      ],
    );
    assert.equal(results[3].rowsAffected, 2);
    assert.deepEqual(results[4].columns, ["id", "v"]);
    assert.deepEqual(
      results[4].rows.map((r) => [r.id, r.v]),
      [
        [1, "A"],
        [2, "b"],
        [3, "C"],
      ],
    );
    assert.equal(await count(client(), "bw"), 3, "committed and visible to another client");
  });

  test("batch in write mode: a failing statement rolls back the whole batch", async () => {
    const c = client();
    await c.execute("CREATE TABLE bfail(id INTEGER PRIMARY KEY, v TEXT)");
    await c.execute("INSERT INTO bfail VALUES (1, 'existing')");
    const err = await rejectsWithCode(
      c.batch(
        [
          "INSERT INTO bfail VALUES (2, 'first')",
          "UPDATE bfail SET v = 'changed' WHERE id = 1",
          "INSERT INTO bfail VALUES (1, 'duplicate')",
          "INSERT INTO bfail VALUES (3, 'never')",
        ],
        "write",
      ),
      "SQLITE_CONSTRAINT",
    );
    assert.ok(err instanceof LibsqlBatchError, `expected a LibsqlBatchError, got ${err.constructor.name}`);
    assert.equal(err.statementIndex, 2);
    const rs = await client().execute("SELECT id, v FROM bfail ORDER BY id");
    assert.deepEqual(
      rs.rows.map((r) => [r.id, r.v]),
      [[1, "existing"]],
      "the insert and update before the failure were rolled back",
    );
    // The writer is free again: a following write batch succeeds.
    await c.batch(["INSERT INTO bfail VALUES (2, 'after')"], "write");
    assert.equal(await count(c, "bfail"), 2);
  });

  test("batch in read mode: reads work; a write in it fails and leaves nothing written", async () => {
    const c = client();
    await c.execute("CREATE TABLE bread(id INTEGER PRIMARY KEY, v TEXT)");
    await c.execute("INSERT INTO bread VALUES (1, 'x'), (2, 'y')");
    const results = await c.batch(["SELECT count(*) AS n FROM bread", "SELECT v FROM bread ORDER BY id"], "read");
    assert.equal(results.length, 2);
    assert.equal(results[0].rows[0].n, 2);
    assert.deepEqual(
      results[1].rows.map((r) => r.v),
      ["x", "y"],
    );

    await assert.rejects(c.batch(["INSERT INTO bread VALUES (3, 'z')"], "read"), (e) => {
      assert.ok(e instanceof LibsqlError, `expected a LibsqlError, got ${e?.constructor?.name}: ${e?.message}`);
      // The code a write inside transaction("read") gets from Litehouse (see the transaction test).
      assert.equal(e.code, "SQLITE_READONLY", e.message);
      return true;
    });
    const rs = await c.execute("SELECT id FROM bread ORDER BY id");
    assert.deepEqual(
      rs.rows.map((r) => r.id),
      [1, 2],
      "the read batch wrote nothing",
    );
  });

  test("batch in deferred mode (and the default mode) reads and writes", async () => {
    const c = client();
    await c.execute("CREATE TABLE bdef(id INTEGER PRIMARY KEY, v INTEGER)");
    const results = await c.batch(
      ["SELECT count(*) AS n FROM bdef", "INSERT INTO bdef(v) VALUES (10)", "INSERT INTO bdef(v) VALUES (20)", "SELECT sum(v) AS s FROM bdef"],
      "deferred",
    );
    assert.equal(results[0].rows[0].n, 0);
    assert.equal(results[1].lastInsertRowid, 1n);
    assert.equal(results[2].lastInsertRowid, 2n);
    assert.equal(results[3].rows[0].s, 30);

    const dflt = await c.batch(["INSERT INTO bdef(v) VALUES (5)", "SELECT sum(v) AS s FROM bdef"]);
    assert.equal(dflt[1].rows[0].s, 35);

    // A failure in a deferred batch rolls it back too.
    await rejectsWithCode(c.batch(["INSERT INTO bdef(v) VALUES (1000)", "INSERT INTO bdef(id) VALUES (1)"], "deferred"), "SQLITE_CONSTRAINT");
    assert.equal((await c.execute("SELECT sum(v) AS s FROM bdef")).rows[0].s, 35);
  });

  // ---------------------------------------------------------------------------------------------
  // interactive transactions (one stream held across several requests: batons over HTTP, one open
  // stream on the socket over WebSocket)

  test("transaction('write') across requests: commit makes the writes visible", async () => {
    const c = client();
    const other = client();
    await c.execute("CREATE TABLE tx(id INTEGER PRIMARY KEY, v TEXT)");
    const tx = await c.transaction("write");
    const r1 = await tx.execute({ sql: "INSERT INTO tx(v) VALUES (?)", args: ["one"] });
    assert.equal(r1.lastInsertRowid, 1n);
    await tx.execute("INSERT INTO tx(v) VALUES ('two')");
    const inside = await tx.batch(["UPDATE tx SET v = v || '!'", "SELECT v FROM tx ORDER BY id"]);
    assert.equal(inside[0].rowsAffected, 2);
    assert.deepEqual(
      inside[1].rows.map((r) => r.v),
      ["one!", "two!"],
      "the transaction reads its own writes",
    );
    // A constraint failure inside the transaction fails that statement only; the transaction goes on.
    await rejectsWithCode(tx.execute("INSERT INTO tx(id, v) VALUES (1, 'dup')"), "SQLITE_CONSTRAINT");
    await tx.execute("INSERT INTO tx(v) VALUES ('three')");
    assert.equal(tx.closed, false);
    await tx.commit();
    assert.equal(tx.closed, true);

    const rs = await other.execute("SELECT v FROM tx ORDER BY id");
    assert.deepEqual(
      rs.rows.map((r) => r.v),
      ["one!", "two!", "three"],
    );
  });

  test("transaction('write') rolled back leaves nothing behind", async () => {
    const c = client();
    await c.execute("CREATE TABLE txr(id INTEGER PRIMARY KEY, v TEXT)");
    await c.execute("INSERT INTO txr VALUES (1, 'kept')");
    const tx = await c.transaction("write");
    await tx.execute("INSERT INTO txr VALUES (2, 'gone')");
    await tx.execute("UPDATE txr SET v = 'changed' WHERE id = 1");
    await tx.execute("DELETE FROM txr WHERE id = 1");
    assert.equal((await tx.execute("SELECT count(*) AS n FROM txr")).rows[0].n, 1);
    await tx.rollback();
    assert.equal(tx.closed, true);
    const rs = await client().execute("SELECT id, v FROM txr");
    assert.deepEqual(
      rs.rows.map((r) => [r.id, r.v]),
      [[1, "kept"]],
    );
    // The writer is released: a plain write right after succeeds.
    await c.execute("INSERT INTO txr VALUES (3, 'next')");
    assert.equal(await count(c, "txr"), 2);
  });

  test("an open write transaction is invisible to other clients until it commits", async () => {
    const c = client();
    const other = client();
    await c.execute("CREATE TABLE iso(id INTEGER PRIMARY KEY, v TEXT)");
    await c.execute("INSERT INTO iso VALUES (1, 'base')");
    const tx = await c.transaction("write");
    try {
      await tx.execute("INSERT INTO iso VALUES (2, 'pending')");
      await tx.execute("UPDATE iso SET v = 'pending-update' WHERE id = 1");
      assert.equal((await tx.execute("SELECT count(*) AS n FROM iso")).rows[0].n, 2);

      // Another client, and the same client outside the transaction, see the old state.
      for (const reader of [other, c]) {
        const rs = await reader.execute("SELECT id, v FROM iso ORDER BY id");
        assert.deepEqual(
          rs.rows.map((r) => [r.id, r.v]),
          [[1, "base"]],
        );
      }
      const batchView = await other.batch(["SELECT count(*) AS n FROM iso"], "read");
      assert.equal(batchView[0].rows[0].n, 1);

      await tx.commit();
    } finally {
      tx.close();
    }
    const rs = await other.execute("SELECT id, v FROM iso ORDER BY id");
    assert.deepEqual(
      rs.rows.map((r) => [r.id, r.v]),
      [
        [1, "pending-update"],
        [2, "pending"],
      ],
    );
  });

  test("transaction('read') reads a stable snapshot, and a write inside it fails", async () => {
    const c = client();
    const writer = client();
    await c.execute("CREATE TABLE txro(id INTEGER PRIMARY KEY, v TEXT)");
    await c.execute("INSERT INTO txro VALUES (1, 'a'), (2, 'b')");
    const tx = await c.transaction("read");
    try {
      const first = await tx.execute("SELECT count(*) AS n FROM txro");
      assert.equal(first.rows[0].n, 2);
      // A commit from elsewhere after the snapshot was taken is not seen inside the transaction.
      await writer.execute("INSERT INTO txro VALUES (3, 'c')");
      assert.equal((await tx.execute("SELECT count(*) AS n FROM txro")).rows[0].n, 2);

      const err = await rejectsWithCode(tx.execute("INSERT INTO txro VALUES (4, 'no')"), "SQLITE_READONLY");
      assert.ok(err instanceof LibsqlBatchError);
      // The transaction stays readable after the refused write.
      assert.equal((await tx.execute("SELECT count(*) AS n FROM txro")).rows[0].n, 2);
    } finally {
      tx.close();
    }
    const rs = await writer.execute("SELECT id FROM txro ORDER BY id");
    assert.deepEqual(
      rs.rows.map((r) => r.id),
      [1, 2, 3],
      "the write inside the read transaction left nothing",
    );
  });

  // ---------------------------------------------------------------------------------------------
  // executeMultiple

  test("executeMultiple runs a script, including a trigger whose body has semicolons", async () => {
    const c = client();
    const ret = await c.executeMultiple(`
      -- a comment; with a semicolon
      CREATE TABLE src(id INTEGER PRIMARY KEY, v TEXT);
      CREATE TABLE audit(id INTEGER PRIMARY KEY AUTOINCREMENT, src_id INTEGER, note TEXT);
      CREATE TRIGGER src_ins AFTER INSERT ON src
      BEGIN
        INSERT INTO audit(src_id, note) VALUES (new.id, 'ins; ' || new.v);
        UPDATE audit SET note = note || ';done' WHERE src_id = new.id;
      END;
      /* block comment; also with a semicolon */
      INSERT INTO src(v) VALUES ('a;b');
      INSERT INTO src(v) VALUES ('c');
    `);
    assert.equal(ret, undefined);
    const rs = await c.execute("SELECT src_id, note FROM audit ORDER BY id");
    assert.deepEqual(
      rs.rows.map((r) => [r.src_id, r.note]),
      [
        [1, "ins; a;b;done"],
        [2, "ins; c;done"],
      ],
    );
    const trig = await c.execute("SELECT name FROM sqlite_schema WHERE type = 'trigger'");
    assert.deepEqual(
      trig.rows.map((r) => r.name),
      ["src_ins"],
    );
    // The trigger keeps working for later statements.
    await c.execute("INSERT INTO src(v) VALUES ('d')");
    assert.equal(await count(c, "audit"), 3);
  });

  test("executeMultiple stops at the first failing statement; earlier ones stay applied", async () => {
    const c = client();
    await c.execute("CREATE TABLE seqf(id INTEGER PRIMARY KEY)");
    await rejectsWithCode(
      c.executeMultiple("INSERT INTO seqf VALUES (1); INSERT INTO seqf VALUES (1); INSERT INTO seqf VALUES (3);"),
      "SQLITE_CONSTRAINT",
    );
    const rs = await c.execute("SELECT id FROM seqf");
    assert.deepEqual(
      rs.rows.map((r) => r.id),
      [1],
    );
  });

  // ---------------------------------------------------------------------------------------------
  // errors

  test("constraint violations reject with code SQLITE_CONSTRAINT", async () => {
    const c = client();
    await c.execute(
      "CREATE TABLE cons(id INTEGER PRIMARY KEY, code TEXT UNIQUE, name TEXT NOT NULL, age INTEGER CHECK (age >= 0))",
    );
    await c.execute("CREATE TABLE cons_pk(k TEXT PRIMARY KEY, v)");
    await c.execute("INSERT INTO cons VALUES (1, 'a', 'first', 30)");
    await c.execute("INSERT INTO cons_pk VALUES ('k', 1)");
    const violations = [
      ["INTEGER PRIMARY KEY", "INSERT INTO cons VALUES (1, 'b', 'dup id', 1)", /UNIQUE constraint failed: cons\.id/],
      ["TEXT PRIMARY KEY", "INSERT INTO cons_pk VALUES ('k', 2)", /UNIQUE constraint failed: cons_pk\.k/],
      ["UNIQUE", "INSERT INTO cons VALUES (2, 'a', 'dup code', 1)", /UNIQUE constraint failed: cons\.code/],
      ["NOT NULL", "INSERT INTO cons VALUES (3, 'c', NULL, 1)", /NOT NULL constraint failed: cons\.name/],
      ["CHECK", "INSERT INTO cons VALUES (4, 'd', 'neg', -1)", /CHECK constraint failed/],
      ["CHECK on UPDATE", "UPDATE cons SET age = -5 WHERE id = 1", /CHECK constraint failed/],
    ];
    for (const [what, sql, pattern] of violations) {
      const e = await rejectsWithCode(c.execute(sql), "SQLITE_CONSTRAINT", pattern);
      assert.ok(!(e instanceof LibsqlBatchError), `${what}: execute() throws a plain LibsqlError`);
    }
    // The same through positional args and a batch.
    await rejectsWithCode(c.execute({ sql: "INSERT INTO cons VALUES (?, ?, ?, ?)", args: [5, "e", null, 1] }), "SQLITE_CONSTRAINT");
    await rejectsWithCode(c.batch(["INSERT INTO cons VALUES (6, 'a', 'x', 1)"], "write"), "SQLITE_CONSTRAINT");
    const rs = await c.execute("SELECT id, code, name, age FROM cons");
    assert.deepEqual(
      rs.rows.map((r) => [r.id, r.code, r.name, r.age]),
      [[1, "a", "first", 30]],
      "nothing was written by the failing statements",
    );
    assert.ok(server.alive());
  });

  test("foreign keys are enforced by default, as in sqld (libsql builds SQLite with SQLITE_DEFAULT_FOREIGN_KEYS=1)", async () => {
    // A fresh server, so no earlier PRAGMA can have changed any connection's setting.
    const fresh = await startServer();
    const c = createClient({ url: urlOf(fresh, scheme) });
    try {
      await c.executeMultiple(
        "CREATE TABLE parent(id INTEGER PRIMARY KEY); CREATE TABLE child(id INTEGER PRIMARY KEY, pid INTEGER REFERENCES parent(id)); INSERT INTO parent VALUES (1);",
      );
      assert.equal((await c.execute("PRAGMA foreign_keys")).rows[0][0], 1, "PRAGMA foreign_keys reports 1 by default");
      await c.execute("INSERT INTO child VALUES (1, 1)");
      await rejectsWithCode(c.execute("INSERT INTO child VALUES (2, 99)"), "SQLITE_CONSTRAINT", /FOREIGN KEY constraint failed/);
      assert.equal(await count(c, "child"), 1);
    } finally {
      c.close();
      assert.equal(await fresh.stop(), 0);
    }
  });

  test("with PRAGMA foreign_keys=ON on the stream, a FOREIGN KEY violation rejects with SQLITE_CONSTRAINT", async () => {
    // Its own server: the PRAGMA changes connection state.
    const fresh = await startServer();
    const c = createClient({ url: urlOf(fresh, scheme) });
    try {
      await c.executeMultiple(
        "CREATE TABLE parent(id INTEGER PRIMARY KEY); CREATE TABLE child(id INTEGER PRIMARY KEY, pid INTEGER REFERENCES parent(id)); INSERT INTO parent VALUES (1);",
      );
      // One sequence = one stream = one connection: the PRAGMA applies to the inserts after it.
      await c.executeMultiple("PRAGMA foreign_keys=ON; INSERT INTO child VALUES (1, 1);");
      await rejectsWithCode(
        c.executeMultiple("PRAGMA foreign_keys=ON; INSERT INTO child VALUES (2, 99);"),
        "SQLITE_CONSTRAINT",
        /FOREIGN KEY constraint failed/,
      );
      await rejectsWithCode(
        c.executeMultiple("PRAGMA foreign_keys=ON; DELETE FROM parent WHERE id = 1;"),
        "SQLITE_CONSTRAINT",
        /FOREIGN KEY constraint failed/,
      );
      const rs = await c.execute("SELECT id, pid FROM child");
      assert.deepEqual(
        rs.rows.map((r) => [r.id, r.pid]),
        [[1, 1]],
      );
      assert.equal(await count(c, "parent"), 1);
      assert.ok(fresh.alive());
    } finally {
      c.close();
      assert.equal(await fresh.stop(), 0);
    }
  });

  test("a syntax error and a missing table reject with a code, and the server stays up", async () => {
    const c = client();
    const cases = ["SELEC 1", "SELECT * FROM no_such_table_here", "INSERT INTO no_such_table_here VALUES (1)", "SELECT no_such_column FROM sqlite_schema"];
    for (const sql of cases) {
      await assert.rejects(c.execute(sql), (e) => {
        assert.ok(e instanceof LibsqlError, `${sql}: expected a LibsqlError, got ${e?.constructor?.name}`);
        assert.equal(typeof e.code, "string", sql);
        assert.ok(e.code.length > 0, sql);
        assert.notEqual(e.code, "SQLITE_CONSTRAINT", sql);
        assert.ok(e.message.length > e.code.length, `${sql}: the message says more than the code: ${e.message}`);
        return true;
      });
    }
    // Also inside a batch and a transaction.
    await assert.rejects(c.batch(["SELECT 1", "SELEC 2"], "write"), (e) => e instanceof LibsqlBatchError && e.statementIndex === 1 && e.code.length > 0);
    const tx = await c.transaction("write");
    try {
      await assert.rejects(tx.execute("SELECT * FROM no_such_table_here"), (e) => e instanceof LibsqlError && e.code.length > 0);
      assert.equal((await tx.execute("SELECT 7 AS n")).rows[0].n, 7, "the transaction survives the error");
      await tx.rollback();
    } finally {
      tx.close();
    }
    assert.ok(server.alive());
    assert.equal((await c.execute("SELECT 1 + 1 AS two")).rows[0].two, 2);
  });

  // ---------------------------------------------------------------------------------------------
  // values

  const MAX = 9223372036854775807n;
  const MIN = -9223372036854775808n;
  const BEYOND = 2n ** 53n + 1n; // 9007199254740993

  test("64-bit integers in intMode bigint, string and number", async () => {
    const setup = client({ intMode: "bigint" });
    await setup.execute("CREATE TABLE ints(id INTEGER PRIMARY KEY, v INTEGER)");
    const values = [MAX, MIN, BEYOND, -BEYOND, 2n ** 53n - 1n, 42n, 0n];
    for (const [i, v] of values.entries()) {
      const rs = await setup.execute({ sql: "INSERT INTO ints VALUES (?, ?)", args: [BigInt(i + 1), v] });
      assert.equal(rs.lastInsertRowid, BigInt(i + 1));
    }
    // Stored exactly, as integers (compared with SQL literals on the server side).
    const exact = await setup.execute(
      "SELECT typeof(v) AS t, v = 9223372036854775807 AS is_max, v = -9223372036854775808 AS is_min, v = 9007199254740993 AS is_beyond FROM ints WHERE id <= 3 ORDER BY id",
    );
    assert.deepEqual(
      exact.rows.map((r) => [r.t, r.is_max, r.is_min, r.is_beyond]),
      [
        ["integer", 1n, 0n, 0n],
        ["integer", 0n, 1n, 0n],
        ["integer", 0n, 0n, 1n],
      ],
    );

    // bigint
    const big = await client({ intMode: "bigint" }).execute("SELECT v, 9223372036854775807 AS lit FROM ints ORDER BY id");
    assert.deepEqual(
      big.rows.map((r) => r.v),
      values,
    );
    assert.equal(big.rows[0].lit, MAX);
    assert.equal(typeof big.rows[5].v, "bigint");

    // string
    const str = await client({ intMode: "string" }).execute("SELECT v FROM ints ORDER BY id");
    assert.deepEqual(
      str.rows.map((r) => r.v),
      ["9223372036854775807", "-9223372036854775808", "9007199254740993", "-9007199254740993", "9007199254740991", "42", "0"],
    );

    // number: safe integers come back as numbers; anything beyond 2^53 makes the client throw a
    // RangeError while decoding (hrana-client valueFromProto: "Received integer which is too large
    // to be safely represented as a JavaScript number"), which @libsql/client passes through as is.
    const num = client({ intMode: "number" });
    const safe = await num.execute("SELECT v FROM ints WHERE id >= 5 ORDER BY id");
    assert.deepEqual(
      safe.rows.map((r) => r.v),
      [9007199254740991, 42, 0],
    );
    assert.equal(typeof safe.rows[1].v, "number");
    for (const id of [1, 2, 3, 4]) {
      await assert.rejects(num.execute({ sql: "SELECT v FROM ints WHERE id = ?", args: [id] }), (e) => {
        assert.ok(e instanceof RangeError, `id ${id}: expected RangeError, got ${e?.constructor?.name}: ${e?.message}`);
        assert.match(e.message, /too large to be safely represented/);
        return true;
      });
    }
    await assert.rejects(num.execute("SELECT 9223372036854775807"), RangeError);
    await assert.rejects(num.execute("SELECT -9223372036854775808"), RangeError);

    // lastInsertRowid is a bigint in every mode, exact beyond 2^53.
    for (const mode of ["number", "bigint", "string"]) {
      const c = client({ intMode: mode });
      const rowid = mode === "number" ? 1000n : mode === "bigint" ? MAX : BEYOND;
      const rs = await c.execute({ sql: "INSERT INTO ints(id, v) VALUES (?, 1)", args: [rowid] });
      assert.equal(typeof rs.lastInsertRowid, "bigint", mode);
      assert.equal(rs.lastInsertRowid, rowid, mode);
    }
    // Out-of-range bigints are refused by the client before anything is sent.
    await assert.rejects(setup.execute({ sql: "SELECT ?", args: [MAX + 1n] }), RangeError);
  });

  test("blobs round trip: ArrayBuffer, Uint8Array, empty, all byte values", async () => {
    const c = client();
    await c.execute("CREATE TABLE blobs(id INTEGER PRIMARY KEY, b BLOB)");
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const fromBuffer = new ArrayBuffer(1000);
    new Uint8Array(fromBuffer).forEach((_, i, a) => (a[i] = (i * 37 + 11) & 0xff));
    const big = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7) & 0xff);
    // A view into the middle of a larger buffer: only the view's bytes are sent.
    const backing = Uint8Array.from({ length: 10 }, (_, i) => 100 + i);
    const view = backing.subarray(3, 6);
    const cases = [
      [1, all, Array.from(all)],
      [2, fromBuffer, bytesOf(fromBuffer)],
      [3, new Uint8Array(0), []],
      [4, new ArrayBuffer(0), []],
      [5, big, Array.from(big)],
      [6, view, [103, 104, 105]],
    ];
    for (const [id, value] of cases) await c.execute({ sql: "INSERT INTO blobs VALUES (?, ?)", args: [id, value] });

    const rs = await c.execute("SELECT id, b, typeof(b) AS t, length(b) AS len, hex(b) AS h FROM blobs ORDER BY id");
    assert.equal(rs.rows.length, cases.length);
    for (const [i, [id, , expected]] of cases.entries()) {
      const row = rs.rows[i];
      assert.equal(row.id, id);
      assert.equal(row.t, "blob", `id ${id} is stored as a blob`);
      assert.equal(row.len, expected.length, `id ${id} length`);
      assert.ok(row.b instanceof ArrayBuffer, `id ${id}: blob comes back as an ArrayBuffer, got ${row.b}`);
      assert.equal(row.b.byteLength, expected.length);
      assert.deepEqual(bytesOf(row.b), expected, `id ${id} bytes`);
      assert.equal(row.h, Buffer.from(expected).toString("hex").toUpperCase(), `id ${id} hex on the server`);
    }
    // Blob literals and zeroblob from SQL.
    const lit = await c.execute("SELECT X'00FF10' AS a, X'' AS e, zeroblob(3) AS z");
    assert.deepEqual(bytesOf(lit.rows[0].a), [0, 255, 16]);
    assert.ok(lit.rows[0].e instanceof ArrayBuffer);
    assert.equal(lit.rows[0].e.byteLength, 0);
    assert.deepEqual(bytesOf(lit.rows[0].z), [0, 0, 0]);
    // A blob used as a lookup key.
    const found = await c.execute({ sql: "SELECT id FROM blobs WHERE b = ?", args: [all] });
    assert.deepEqual(
      found.rows.map((r) => r.id),
      [1],
    );
  });

  test("floats, null and -0.0", async () => {
    const c = client({ intMode: "bigint" });
    await c.execute("CREATE TABLE floats(id INTEGER PRIMARY KEY, f REAL, u)");
    const values = [0.1, -1.5, 1e308, -1e308, 1.7976931348623157e308, 5e-324, 2.2250738585072014e-308, 1 / 3, 123456789.12345679, 1e-7, 2];
    for (const [i, f] of values.entries()) await c.execute({ sql: "INSERT INTO floats VALUES (?, ?, ?)", args: [BigInt(i + 1), f, f] });
    const rs = await c.execute("SELECT f, u, typeof(f) AS tf, typeof(u) AS tu FROM floats ORDER BY id");
    assert.deepEqual(
      rs.rows.map((r) => r.f),
      values,
      "REAL column",
    );
    assert.deepEqual(
      rs.rows.map((r) => r.u),
      values,
      "column without affinity",
    );
    assert.ok(rs.rows.every((r) => r.tf === "real"));
    // A JS number is a Hrana float even when integral: stored as REAL where there is no affinity, and
    // returned as a float (a number even in intMode bigint).
    assert.equal(rs.rows.at(-1).tu, "real");
    assert.equal(typeof rs.rows.at(-1).u, "number");

    const lit = await c.execute("SELECT 0.1 + 0.2 AS s, 1e308 AS big, -0.0 AS negzero, 1.0 AS one, 1e308 * 10 AS inf");
    const r = lit.rows[0];
    assert.equal(r.s, 0.30000000000000004);
    assert.equal(r.big, 1e308);
    assert.ok(Object.is(r.negzero, -0), `-0.0 comes back as -0, got ${r.negzero}`);
    assert.equal(r.one, 1);
    assert.equal(typeof r.one, "number", "1.0 is a float, not an integer, even in intMode bigint");
    assert.equal(r.inf, Infinity);

    // null, through args and literals.
    await c.execute({ sql: "INSERT INTO floats VALUES (?, ?, ?)", args: [100n, null, null] });
    const n = await c.execute("SELECT f, u, typeof(u) AS t, NULL AS lit FROM floats WHERE id = 100");
    assert.deepEqual([n.rows[0].f, n.rows[0].u, n.rows[0].t, n.rows[0].lit], [null, null, "null", null]);
    // Booleans are sent as integers.
    const b = await c.execute({ sql: "SELECT ? AS t, ? AS f, typeof(?) AS ty", args: [true, false, true] });
    assert.deepEqual([b.rows[0].t, b.rows[0].f, b.rows[0].ty], [1n, 0n, "integer"]);
  });

  test("unicode text round trips: emoji, CJK, combining marks, embedded NUL", async () => {
    const c = client();
    await c.execute("CREATE TABLE texts(id INTEGER PRIMARY KEY, t TEXT)");
    const values = [
      "😀 👨‍👩‍👧‍👦 🏳️‍🌈 𝄞",
      "漢字 かな カナ 한국어 中文",
      "e\u0301 a\u0308 n\u0303 \u1E9B\u0323", // decomposed: must not be normalized
      "a\u0000b", // embedded NUL
      "\u0000",
      "",
      "tab\tnewline\nquote\"apostrophe'backslash\\",
      "x".repeat(100_000) + "✓",
    ];
    for (const [i, t] of values.entries()) await c.execute({ sql: "INSERT INTO texts VALUES (?, ?)", args: [i + 1, t] });
    const rs = await c.execute("SELECT t, typeof(t) AS ty, hex(t) AS h FROM texts ORDER BY id");
    assert.equal(rs.rows.length, values.length);
    for (const [i, expected] of values.entries()) {
      const row = rs.rows[i];
      assert.equal(row.t, expected, `value ${i}`);
      assert.equal(row.ty, "text", `value ${i}`);
      assert.equal(row.h, Buffer.from(expected, "utf8").toString("hex").toUpperCase(), `value ${i}: UTF-8 bytes on the server`);
    }
    // The decomposed string is not normalized on its way through.
    assert.notEqual(rs.rows[2].t, rs.rows[2].t.normalize("NFC"));
    // Text with NUL compared as a bound value.
    const nul = await c.execute({ sql: "SELECT id FROM texts WHERE t = ?", args: ["a\u0000b"] });
    assert.deepEqual(
      nul.rows.map((r) => r.id),
      [4],
    );
    // Unicode in SQL text: a literal and a column name.
    const lit = await c.execute("SELECT '漢字😀e\u0301' AS \"列😀\", length('😀') AS len");
    assert.deepEqual(lit.columns, ["列😀", "len"]);
    assert.equal(lit.rows[0]["列😀"], "漢字😀e\u0301");
    assert.equal(lit.rows[0].len, 1);
  });

  // ---------------------------------------------------------------------------------------------
  // concurrency

  test("100 concurrent write batches from several clients all succeed with exact counts", async () => {
    const setup = client();
    await setup.batch(
      ["CREATE TABLE conc(id INTEGER PRIMARY KEY, batch INTEGER, k INTEGER)", "CREATE TABLE counter(id INTEGER PRIMARY KEY, n INTEGER)", "INSERT INTO counter VALUES (1, 0)"],
      "write",
    );
    const writers = Array.from({ length: 5 }, () => client());
    const N = 100;
    const results = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        writers[i % writers.length].batch(
          [
            { sql: "INSERT INTO conc(batch, k) VALUES (?, 0)", args: [i] },
            { sql: "INSERT INTO conc(batch, k) VALUES (?, 1)", args: [i] },
            "UPDATE counter SET n = n + 1 WHERE id = 1",
            { sql: "SELECT count(*) AS n FROM conc WHERE batch = ?", args: [i] },
          ],
          "write",
        ),
      ),
    );
    assert.equal(results.length, N);
    const rowids = new Set();
    for (const r of results) {
      assert.equal(r.length, 4);
      assert.equal(r[0].rowsAffected, 1);
      assert.equal(r[1].rowsAffected, 1);
      assert.equal(r[2].rowsAffected, 1);
      assert.equal(r[3].rows[0].n, 2, "each batch sees exactly its own two rows");
      assert.equal(r[1].lastInsertRowid, r[0].lastInsertRowid + 1n, "a batch's inserts are consecutive");
      rowids.add(r[0].lastInsertRowid);
      rowids.add(r[1].lastInsertRowid);
    }
    assert.equal(rowids.size, 2 * N, "every insert reported its own rowid");
    const check = await setup.execute(
      "SELECT (SELECT count(*) FROM conc) AS rows_, (SELECT count(DISTINCT batch) FROM conc) AS batches, (SELECT n FROM counter) AS counter",
    );
    assert.deepEqual([check.rows[0].rows_, check.rows[0].batches, check.rows[0].counter], [2 * N, N, N]);
    assert.ok(server.alive());
  });
}
