// @libsql/hrana-client over HTTP at protocol version 3. The client negotiates by probing
// GET /v3-protobuf, so everything here travels as Protobuf: /v3-protobuf/pipeline and /v3-protobuf/cursor.
// It also checks the v2 JSON fallback the same client uses when asked for version 2.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as hrana from "@libsql/hrana-client";
import { startServer } from "./harness.mjs";

let server;
let client;

before(async () => {
  server = await startServer();
  client = hrana.openHttp(server.url, undefined, undefined, undefined, 3);
});

after(async () => {
  client?.close();
  assert.equal(await server.stop(), 0, "the server exits cleanly on SIGTERM");
});

test("negotiates protocol version 3", async () => {
  assert.equal(await client.getVersion(), 3);
});

test("execute, values and decltypes over protobuf", async () => {
  const s = client.openStream();
  try {
    await s.run("CREATE TABLE vals(i INTEGER, r REAL, t TEXT, b BLOB, n)");
    await s.run([
      "INSERT INTO vals VALUES (?, ?, ?, ?, ?)",
      [9007199254740993n, 0.1, "héllo 🌍", new Uint8Array([0, 1, 255]), null],
    ]);
    s.intMode = "bigint";
    const rs = await s.query("SELECT i, r, t, b, n FROM vals");
    assert.deepEqual(rs.columnNames, ["i", "r", "t", "b", "n"]);
    assert.deepEqual(rs.columnDecltypes, ["INTEGER", "REAL", "TEXT", "BLOB", undefined]);
    const row = rs.rows[0];
    assert.equal(row.i, 9007199254740993n);
    assert.equal(row.r, 0.1);
    assert.equal(row.t, "héllo 🌍");
    assert.deepEqual(new Uint8Array(row.b), new Uint8Array([0, 1, 255]));
    assert.equal(row.n, null);
    const ins = await s.run(["INSERT INTO vals(i) VALUES (?)", [-9223372036854775808n]]);
    assert.equal(ins.affectedRowCount, 1);
    assert.equal(ins.lastInsertRowid, 2n);
  } finally {
    s.close();
  }
});

test("describe reports params, columns and flags", async () => {
  const s = client.openStream();
  try {
    await s.run("CREATE TABLE d(id INTEGER PRIMARY KEY, name TEXT)");
    const d = await s.describe("SELECT id, name FROM d WHERE id = :id");
    assert.deepEqual(d.paramNames, [":id"]);
    assert.deepEqual(
      d.columns.map((c) => [c.name, c.decltype]),
      [
        ["id", "INTEGER"],
        ["name", "TEXT"],
      ],
    );
    assert.equal(d.isReadonly, true);
    assert.equal(d.isExplain, false);
    const w = await s.describe("DELETE FROM d");
    assert.equal(w.isReadonly, false);
    const e = await s.describe("EXPLAIN SELECT 1");
    assert.equal(e.isExplain, true);
  } finally {
    s.close();
  }
});

test("sequence runs a script and reports the first failure", async () => {
  const s = client.openStream();
  try {
    await s.sequence("CREATE TABLE seq(x UNIQUE); INSERT INTO seq VALUES (1); INSERT INTO seq VALUES (2);");
    assert.equal((await s.queryValue("SELECT count(*) FROM seq")).value, 2);
    await assert.rejects(s.sequence("INSERT INTO seq VALUES (3); INSERT INTO seq VALUES (1); INSERT INTO seq VALUES (4)"), (e) => {
      assert.equal(e.code, "SQLITE_CONSTRAINT");
      return true;
    });
    assert.equal((await s.queryValue("SELECT count(*) FROM seq")).value, 3, "statements before the failure stay applied");
  } finally {
    s.close();
  }
});

test("stored SQL is executed by id and refused after close", async () => {
  const s = client.openStream();
  try {
    const sql = s.storeSql("SELECT ? * 2");
    assert.equal((await s.queryValue([sql, [21]])).value, 42);
    assert.equal((await s.queryValue([sql, [5]])).value, 10);
    sql.close();
    assert.throws(() => s.queryValue([sql, [1]]));
  } finally {
    s.close();
  }
});

test("get_autocommit follows the transaction", async () => {
  const s = client.openStream();
  try {
    assert.equal(await s.getAutocommit(), true);
    await s.run("BEGIN");
    assert.equal(await s.getAutocommit(), false);
    await s.run("ROLLBACK");
    assert.equal(await s.getAutocommit(), true);
  } finally {
    s.close();
  }
});

test("cursor batch with ok, error, not, and, or and is_autocommit conditions", async () => {
  const setup = client.openStream();
  await setup.run("CREATE TABLE cur(x INTEGER NOT NULL)");
  setup.close();

  const st = client.openStream();
  try {
    const batch = st.batch(true);
    const b0 = batch.step();
    const r0 = b0.run("BEGIN");
    const b1 = batch.step().condition(hrana.BatchCond.ok(b0));
    const r1 = b1.run("INSERT INTO cur VALUES (NULL)"); // fails: NOT NULL
    const b2 = batch.step().condition(hrana.BatchCond.error(b1));
    const r2 = b2.query("SELECT 'after error' AS m");
    const b3 = batch.step().condition(hrana.BatchCond.ok(b1));
    const r3 = b3.query("SELECT 'skipped'");
    const b4 = batch.step().condition(hrana.BatchCond.not(hrana.BatchCond.isAutocommit(batch)));
    const r4 = b4.run("INSERT INTO cur VALUES (7)");
    const b5 = batch.step().condition(hrana.BatchCond.and(batch, [hrana.BatchCond.ok(b0), hrana.BatchCond.ok(b4)]));
    const r5 = b5.run("COMMIT");
    const b6 = batch.step().condition(hrana.BatchCond.or(batch, [hrana.BatchCond.ok(b3), hrana.BatchCond.isAutocommit(batch)]));
    const r6 = b6.query("SELECT x FROM cur");
    const done = batch.execute();
    const settled = await Promise.allSettled([r0, r1, r2, r3, r4, r5, r6]);
    await done;
    assert.equal(settled[0].status, "fulfilled");
    assert.equal(settled[1].status, "rejected");
    assert.equal(settled[1].reason.code, "SQLITE_CONSTRAINT");
    assert.equal(settled[2].value.rows[0].m, "after error");
    assert.equal(settled[3].value, undefined, "a step whose condition is false does not run");
    assert.equal(settled[4].value.affectedRowCount, 1);
    assert.notEqual(settled[5].value, undefined);
    assert.deepEqual(settled[6].value.rows.map((r) => r.x), [7]);
  } finally {
    st.close();
  }
});

test("a cursor streams many rows", async () => {
  const s = client.openStream();
  try {
    await s.run("CREATE TABLE many(x)");
    await s.run("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c WHERE n < 5000) INSERT INTO many SELECT n FROM c");
    const batch = s.batch(true);
    const q = batch.step().query("SELECT x FROM many ORDER BY x");
    await batch.execute();
    const rs = await q;
    assert.equal(rs.rows.length, 5000);
    assert.equal(rs.rows[4999].x, 5000);
  } finally {
    s.close();
  }
});

// Issue #10 item 7: the Protobuf cursor's encoder used to be quadratic in the number of entries
// (200k rows took 18 s). The timeout only guards against a hang; correctness is what is asserted.
test("a protobuf cursor of 300,000 rows arrives whole", { timeout: 120_000 }, async () => {
  const s = client.openStream();
  try {
    const batch = s.batch(true);
    const q = batch
      .step()
      .query("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c WHERE n < 300000) SELECT n, n % 7 AS m FROM c");
    await batch.execute();
    const rs = await q;
    assert.equal(rs.rows.length, 300_000);
    assert.equal(rs.rows[0].n, 1);
    assert.equal(rs.rows[299_999].n, 300_000);
    assert.equal(rs.rows[123_456].m, 123_457 % 7);
  } finally {
    s.close();
  }
});

test("an interactive transaction spans requests on one stream", async () => {
  const a = client.openStream();
  const b = client.openStream();
  try {
    await a.run("CREATE TABLE tx(x)");
    await a.run("BEGIN");
    await a.run("INSERT INTO tx VALUES (1)");
    assert.equal((await b.queryValue("SELECT count(*) FROM tx")).value, 0, "uncommitted rows are invisible to others");
    await a.run("COMMIT");
    assert.equal((await b.queryValue("SELECT count(*) FROM tx")).value, 1);
  } finally {
    a.close();
    b.close();
  }
});

test("version 2 JSON fallback works with the same client", async () => {
  const v2 = hrana.openHttp(server.url);
  try {
    assert.equal(await v2.getVersion(), 2);
    const s = v2.openStream();
    assert.equal((await s.queryValue("SELECT 40 + 2")).value, 42);
    const d = await s.describe("SELECT :a");
    assert.deepEqual(d.paramNames, [":a"]);
    s.close();
  } finally {
    v2.close();
  }
});
