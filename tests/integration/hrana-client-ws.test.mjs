// @libsql/hrana-client over WebSocket at protocol version 3, against the real litehouse binary,
// twice: once offering what hrana.openWs(url, jwt, 3) offers (hrana3-protobuf, hrana3, hrana2,
// hrana1), where the server must pick hrana3-protobuf so everything travels as binary Protobuf
// frames; and once offering only hrana3, so the same client code speaks JSON v3 in text frames.
// (openWs always offers the full list, so the JSON run builds the socket itself and hands it to the
// exported WsClient class, which is all openWs does.)
// The explicit cursor requests (open_cursor, fetch_cursor with max_count, close_cursor) are also
// driven with raw JSON v3 messages at the end, to check the entries and `done` on the wire.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import * as hrana from "@libsql/hrana-client";
import { startServer } from "./harness.mjs";
import { ALL_SUBPROTOCOLS, wsUrl, openHello, stmt, int } from "./ws-raw.mjs";

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  assert.ok(server.alive(), `the server is still up at the end:\n${server.stderr}`);
  assert.equal(await server.stop(), 0, "the server exits cleanly on SIGTERM");
});

test("hrana.openWs(url, undefined, 3) negotiates version 3; the default openWs negotiates version 2", async () => {
  const v3 = hrana.openWs(wsUrl(server), undefined, 3);
  const v2 = hrana.openWs(wsUrl(server));
  try {
    assert.equal(await v3.getVersion(), 3);
    assert.equal(await v2.getVersion(), 2);
    for (const c of [v3, v2]) {
      const s = c.openStream();
      assert.equal((await s.queryValue("SELECT 40 + 2")).value, 42);
      s.close();
    }
  } finally {
    v3.close();
    v2.close();
  }
});

const variants = [
  { name: "protobuf", offer: ALL_SUBPROTOCOLS, subprotocol: "hrana3-protobuf" },
  { name: "json", offer: ["hrana3"], subprotocol: "hrana3" },
];

for (const { name, offer, subprotocol } of variants) {
  describe(`hrana3 over WebSocket (${name})`, () => {
    let socket;
    let client;
    // Tables are prefixed per variant: both runs share one database.
    const t = (table) => `${name}_${table}`;

    before(async () => {
      socket = new hrana.WebSocket(wsUrl(server), offer);
      client = new hrana.WsClient(socket, null);
      await client.getVersion();
    });

    after(() => {
      client?.close();
    });

    test(`negotiates protocol version 3 with subprotocol ${subprotocol}`, async () => {
      assert.equal(await client.getVersion(), 3);
      assert.equal(socket.protocol, subprotocol);
    });

    test("execute with every value type, decltypes, affected rows and rowids", async () => {
      const s = client.openStream();
      try {
        s.intMode = "bigint";
        await s.run(`CREATE TABLE ${t("vals")}(id INTEGER PRIMARY KEY, i INTEGER, r REAL, tx TEXT, b BLOB, n)`);
        const rows = [
          [9223372036854775807n, 1.7976931348623157e308, "héllo 🌍 漢字", new Uint8Array([0, 1, 255]), null],
          [-9223372036854775808n, -0.1, "", new Uint8Array(0), "text in an untyped column"],
          [9007199254740993n, 5e-324, "a\u0000b", Uint8Array.from({ length: 256 }, (_, i) => i), 3.25],
          [0n, 0.5, "x".repeat(50_000), new Uint8Array([42]), 7n],
        ];
        for (const [k, row] of rows.entries()) {
          const ins = await s.run([`INSERT INTO ${t("vals")}(i, r, tx, b, n) VALUES (?, ?, ?, ?, ?)`, row]);
          assert.equal(ins.affectedRowCount, 1);
          assert.equal(ins.lastInsertRowid, BigInt(k + 1));
        }
        const rs = await s.query(`SELECT i, r, tx, b, n, typeof(i) AS ti, typeof(n) AS tn FROM ${t("vals")} ORDER BY id`);
        assert.deepEqual(rs.columnNames, ["i", "r", "tx", "b", "n", "ti", "tn"]);
        assert.deepEqual(rs.columnDecltypes, ["INTEGER", "REAL", "TEXT", "BLOB", undefined, undefined, undefined]);
        assert.equal(rs.rows.length, rows.length);
        for (const [k, [i, r, tx, b, n]] of rows.entries()) {
          const row = rs.rows[k];
          assert.equal(row.i, i, `row ${k} integer`);
          assert.equal(row.ti, "integer");
          assert.equal(row.r, r, `row ${k} real`);
          assert.equal(row.tx, tx, `row ${k} text`);
          assert.ok(row.b instanceof ArrayBuffer, `row ${k} blob is an ArrayBuffer`);
          assert.deepEqual(new Uint8Array(row.b), b, `row ${k} blob`);
          assert.equal(row.n, n, `row ${k} untyped`);
          // By index too.
          assert.equal(row[0], i);
        }
        assert.deepEqual(
          rs.rows.map((r) => r.tn),
          ["null", "text", "real", "integer"],
        );
        // Literals: a float that is integral stays a float; -0.0; a blob; NULL.
        const lit = await s.queryRow("SELECT 1.0 AS one, -0.0 AS nz, X'CAFE' AS bl, NULL AS nul");
        assert.equal(lit.row.one, 1);
        assert.equal(typeof lit.row.one, "number");
        assert.ok(Object.is(lit.row.nz, -0), `-0.0 comes back as -0, got ${lit.row.nz}`);
        assert.deepEqual(Array.from(new Uint8Array(lit.row.bl)), [0xca, 0xfe]);
        assert.equal(lit.row.nul, null);
        // A named argument in each style, with and without the prefix.
        const named = await s.queryRow(new hrana.Stmt("SELECT :a AS a, @b AS b, $c AS c").bindName("a", 1n).bindName("@b", "two").bindName("$c", 3.5));
        assert.deepEqual([named.row.a, named.row.b, named.row.c], [1n, "two", 3.5]);
        // UPDATE and DELETE report affected rows.
        assert.equal((await s.run(`UPDATE ${t("vals")} SET r = r + 1 WHERE id > 2`)).affectedRowCount, 2);
        assert.equal((await s.run(`DELETE FROM ${t("vals")} WHERE id = 4`)).affectedRowCount, 1);
        // A failing statement rejects with the SQLite code and the stream stays usable.
        await assert.rejects(s.run(`INSERT INTO ${t("vals")}(id) VALUES (1)`), (e) => {
          assert.ok(e instanceof hrana.ResponseError, `expected a ResponseError, got ${e?.constructor?.name}: ${e?.message}`);
          assert.equal(e.code, "SQLITE_CONSTRAINT");
          assert.match(e.message, /UNIQUE constraint failed/);
          return true;
        });
        assert.equal((await s.queryValue(`SELECT count(*) FROM ${t("vals")}`)).value, 3n);
      } finally {
        s.close();
      }
    });

    for (const useCursor of [false, true]) {
      test(`batch(${useCursor}) with ok, error, not, and, or and is_autocommit conditions`, async () => {
        const table = t(`cond_${useCursor}`);
        const setup = client.openStream();
        await setup.run(`CREATE TABLE ${table}(x INTEGER NOT NULL)`);
        setup.close();

        const st = client.openStream();
        try {
          const batch = st.batch(useCursor);
          const b0 = batch.step();
          const r0 = b0.run("BEGIN");
          const b1 = batch.step().condition(hrana.BatchCond.ok(b0));
          const r1 = b1.run(`INSERT INTO ${table} VALUES (NULL)`); // fails: NOT NULL
          const b2 = batch.step().condition(hrana.BatchCond.error(b1));
          const r2 = b2.query("SELECT 'after error' AS m");
          const b3 = batch.step().condition(hrana.BatchCond.ok(b1));
          const r3 = b3.query("SELECT 'skipped'");
          const b4 = batch.step().condition(hrana.BatchCond.not(hrana.BatchCond.isAutocommit(batch)));
          const r4 = b4.run(`INSERT INTO ${table} VALUES (7)`);
          // error() of a skipped step is false too, so not(error(b3)) holds.
          const b5 = batch.step().condition(hrana.BatchCond.and(batch, [hrana.BatchCond.ok(b0), hrana.BatchCond.ok(b4), hrana.BatchCond.not(hrana.BatchCond.error(b3))]));
          const r5 = b5.run("COMMIT");
          const b6 = batch.step().condition(hrana.BatchCond.or(batch, [hrana.BatchCond.ok(b3), hrana.BatchCond.isAutocommit(batch)]));
          const r6 = b6.query(`SELECT x FROM ${table}`);
          const b7 = batch.step().condition(hrana.BatchCond.and(batch, [hrana.BatchCond.ok(b6), hrana.BatchCond.not(hrana.BatchCond.isAutocommit(batch))]));
          const r7 = b7.query("SELECT 'not in a transaction any more, so skipped'");
          const b8 = batch.step().condition(hrana.BatchCond.or(batch, []));
          const r8 = b8.query("SELECT 'empty or is false'");
          const b9 = batch.step().condition(hrana.BatchCond.and(batch, []));
          const r9 = b9.query("SELECT 'empty and is true' AS m");
          const done = batch.execute();
          const settled = await Promise.allSettled([r0, r1, r2, r3, r4, r5, r6, r7, r8, r9]);
          await done;
          assert.equal(settled[0].status, "fulfilled");
          assert.equal(settled[1].status, "rejected");
          assert.equal(settled[1].reason.code, "SQLITE_CONSTRAINT");
          assert.match(settled[1].reason.message, /NOT NULL constraint failed/);
          assert.equal(settled[2].value.rows[0].m, "after error");
          assert.equal(settled[3].value, undefined, "a step whose condition is false does not run");
          assert.equal(settled[4].value.affectedRowCount, 1);
          assert.notEqual(settled[5].value, undefined, "COMMIT ran");
          assert.deepEqual(
            settled[6].value.rows.map((r) => r.x),
            [7],
          );
          assert.equal(settled[7].status, "fulfilled");
          assert.equal(settled[7].value, undefined);
          assert.equal(settled[8].value, undefined);
          assert.equal(settled[9].value.rows[0].m, "empty and is true");
          assert.equal(await st.getAutocommit(), true);
        } finally {
          st.close();
        }
        const other = client.openStream();
        assert.equal((await other.queryValue(`SELECT count(*) FROM ${table}`)).value, 1, "the batch committed");
        other.close();
      });
    }

    test("a cursor (batch(true)) streams 5000 rows, then a second step, in order", async () => {
      const s = client.openStream();
      try {
        await s.run(`CREATE TABLE ${t("many")}(x INTEGER, pad TEXT)`);
        await s.run(
          `WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c WHERE n < 5000) INSERT INTO ${t("many")} SELECT n, printf('%050d', n) FROM c`,
        );
        const batch = s.batch(true);
        const q = batch.step().query(`SELECT x, pad FROM ${t("many")} ORDER BY x`);
        const n = batch.step().queryValue(`SELECT count(*) FROM ${t("many")}`);
        await batch.execute();
        const rs = await q;
        assert.equal(rs.rows.length, 5000);
        assert.deepEqual(rs.columnNames, ["x", "pad"]);
        assert.deepEqual(rs.columnDecltypes, ["INTEGER", "TEXT"]);
        for (let i = 0; i < 5000; i++) {
          if (rs.rows[i].x !== i + 1) assert.fail(`row ${i} is ${rs.rows[i].x}, expected ${i + 1}`);
        }
        assert.equal(rs.rows[4999].pad, "0".repeat(46) + "5000");
        assert.equal((await n).value, 5000);
        // The stream takes ordinary requests again once the cursor is closed.
        assert.equal((await s.queryValue("SELECT 'after the cursor'")).value, "after the cursor");
      } finally {
        s.close();
      }
    });

    test("describe reports params, columns and flags", async () => {
      const s = client.openStream();
      try {
        await s.run(`CREATE TABLE ${t("d")}(id INTEGER PRIMARY KEY, name TEXT)`);
        const d = await s.describe(`SELECT id, name, ? AS anon FROM ${t("d")} WHERE id = :id OR name = $name`);
        assert.deepEqual(d.paramNames, [undefined, ":id", "$name"]);
        assert.deepEqual(
          d.columns.map((c) => [c.name, c.decltype]),
          [
            ["id", "INTEGER"],
            ["name", "TEXT"],
            ["anon", undefined],
          ],
        );
        assert.equal(d.isReadonly, true);
        assert.equal(d.isExplain, false);
        const w = await s.describe(`DELETE FROM ${t("d")}`);
        assert.equal(w.isReadonly, false);
        assert.deepEqual(w.columns, []);
        const e = await s.describe("EXPLAIN SELECT 1");
        assert.equal(e.isExplain, true);
        await assert.rejects(s.describe("SELEC 1"), (err) => {
          assert.equal(typeof err.code, "string");
          assert.match(err.message, /syntax error/);
          return true;
        });
        assert.equal((await s.queryValue("SELECT 1")).value, 1, "the stream survives a failed describe");
      } finally {
        s.close();
      }
    });

    test("sequence runs a script and stops at the first failure", async () => {
      const s = client.openStream();
      try {
        await s.sequence(`CREATE TABLE ${t("seq")}(x UNIQUE); INSERT INTO ${t("seq")} VALUES (1); INSERT INTO ${t("seq")} VALUES (2);`);
        assert.equal((await s.queryValue(`SELECT count(*) FROM ${t("seq")}`)).value, 2);
        await assert.rejects(
          s.sequence(`INSERT INTO ${t("seq")} VALUES (3); INSERT INTO ${t("seq")} VALUES (1); INSERT INTO ${t("seq")} VALUES (4)`),
          (e) => {
            assert.equal(e.code, "SQLITE_CONSTRAINT");
            return true;
          },
        );
        assert.deepEqual(
          (await s.query(`SELECT x FROM ${t("seq")} ORDER BY x`)).rows.map((r) => r.x),
          [1, 2, 3],
          "statements before the failure stay applied, the ones after it do not run",
        );
      } finally {
        s.close();
      }
    });

    test("store_sql / close_sql: stored SQL runs by id in execute, batch, sequence and describe", async () => {
      const s = client.openStream();
      try {
        const doubled = client.storeSql("SELECT ? * 2 AS v");
        assert.equal((await s.queryValue([doubled, [21]])).value, 42);
        assert.equal((await s.queryValue([doubled, [5]])).value, 10);
        const d = await s.describe(doubled);
        assert.deepEqual(
          d.columns.map((c) => c.name),
          ["v"],
        );
        const batch = s.batch(false);
        const b = batch.step().queryValue([doubled, [100]]);
        await batch.execute();
        assert.equal((await b).value, 200);

        const script = client.storeSql(`CREATE TABLE ${t("stored")}(x); INSERT INTO ${t("stored")} VALUES (1), (2);`);
        await s.sequence(script);
        assert.equal((await s.queryValue(`SELECT sum(x) FROM ${t("stored")}`)).value, 3);

        // Stored SQL belongs to the connection: another stream uses it too.
        const s2 = client.openStream();
        assert.equal((await s2.queryValue([doubled, [-4]])).value, -8);
        s2.close();

        doubled.close();
        script.close();
        assert.equal(doubled.closed, true);
        assert.throws(() => s.queryValue([doubled, [1]]), "the client refuses a closed SQL text");
        // The connection is fine after the close_sql requests.
        assert.equal((await s.queryValue("SELECT 'still here'")).value, "still here");
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
        await s.run("SELECT 1");
        assert.equal(await s.getAutocommit(), false);
        await s.run("ROLLBACK");
        assert.equal(await s.getAutocommit(), true);
      } finally {
        s.close();
      }
    });

    test("an interactive transaction on a stream is invisible to other streams until commit", async () => {
      const a = client.openStream();
      const b = client.openStream(); // same connection
      const otherClient = new hrana.WsClient(new hrana.WebSocket(wsUrl(server), offer), null);
      const c = otherClient.openStream(); // another connection
      try {
        await a.run(`CREATE TABLE ${t("tx")}(x)`);
        await a.run("BEGIN");
        await a.run(`INSERT INTO ${t("tx")} VALUES (1)`);
        await a.run(`INSERT INTO ${t("tx")} VALUES (2)`);
        assert.equal((await a.queryValue(`SELECT count(*) FROM ${t("tx")}`)).value, 2, "the transaction sees its own rows");
        assert.equal((await b.queryValue(`SELECT count(*) FROM ${t("tx")}`)).value, 0, "invisible to another stream on the same socket");
        assert.equal((await c.queryValue(`SELECT count(*) FROM ${t("tx")}`)).value, 0, "invisible to a stream on another socket");
        await a.run("COMMIT");
        assert.equal((await b.queryValue(`SELECT count(*) FROM ${t("tx")}`)).value, 2);
        assert.equal((await c.queryValue(`SELECT count(*) FROM ${t("tx")}`)).value, 2);

        // And a rolled-back one leaves nothing.
        await a.run("BEGIN");
        await a.run(`DELETE FROM ${t("tx")}`);
        assert.equal((await c.queryValue(`SELECT count(*) FROM ${t("tx")}`)).value, 2);
        await a.run("ROLLBACK");
        assert.equal((await b.queryValue(`SELECT count(*) FROM ${t("tx")}`)).value, 2);
      } finally {
        a.close();
        b.close();
        c.close();
        otherClient.close();
      }
    });

    test("many streams on one connection run concurrently and each gets its own answers", async () => {
      const streams = Array.from({ length: 50 }, () => client.openStream());
      try {
        const values = await Promise.all(streams.map((s, i) => s.queryValue([`SELECT ? * 3`, [i]])));
        assert.deepEqual(
          values.map((v) => v.value),
          streams.map((_, i) => i * 3),
        );
      } finally {
        for (const s of streams) s.close();
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The cursor requests as raw JSON v3 messages.

test("raw JSON v3: open_cursor, fetch_cursor in chunks of max_count until done, close_cursor", async () => {
  const ws = await openHello(server, ["hrana3"]);
  try {
    assert.equal(ws.protocol, "hrana3");
    await ws.ok(1, { type: "open_stream", stream_id: 1 });
    await ws.ok(2, { type: "execute", stream_id: 1, stmt: stmt("CREATE TABLE rawcur(x INTEGER)") });
    await ws.ok(3, {
      type: "execute",
      stream_id: 1,
      stmt: stmt("WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM c WHERE n < 5000) INSERT INTO rawcur SELECT n FROM c"),
    });
    const open = await ws.request(4, {
      type: "open_cursor",
      stream_id: 1,
      cursor_id: 7,
      batch: {
        steps: [
          { stmt: stmt("SELECT x FROM rawcur ORDER BY x") },
          { stmt: stmt("INSERT INTO rawcur VALUES (?)", [int(5001)]) },
          { condition: { type: "is_autocommit" }, stmt: stmt("SELECT nope FROM rawcur") },
          { condition: { type: "error", step: 0 }, stmt: stmt("SELECT 'skipped'") },
        ],
      },
    });
    assert.deepEqual(open, { type: "response_ok", request_id: 4, response: { type: "open_cursor" } });

    const entries = [];
    let done = false;
    let fetches = 0;
    let id = 5;
    while (!done) {
      const res = await ws.ok(id++, { type: "fetch_cursor", cursor_id: 7, max_count: 1000 });
      assert.equal(res.type, "fetch_cursor");
      assert.ok(Array.isArray(res.entries));
      assert.ok(res.entries.length <= 1000, `at most max_count entries, got ${res.entries.length}`);
      assert.equal(typeof res.done, "boolean");
      entries.push(...res.entries);
      done = res.done;
      if (++fetches > 100) assert.fail("the cursor never reported done");
    }
    assert.ok(fetches >= 6, `5000+ entries in chunks of at most 1000 take at least 6 fetches, took ${fetches}`);
    // After done, fetching again returns no entries and done.
    assert.deepEqual(await ws.ok(id++, { type: "fetch_cursor", cursor_id: 7, max_count: 1000 }), { type: "fetch_cursor", entries: [], done: true });

    assert.deepEqual(entries[0], { type: "step_begin", step: 0, cols: [{ name: "x", decltype: "INTEGER" }] });
    const rows = entries.slice(1, 5001);
    assert.ok(rows.every((e) => e.type === "row"));
    assert.deepEqual(
      rows.map((e) => e.row),
      Array.from({ length: 5000 }, (_, i) => [int(i + 1)]),
    );
    const end0 = entries[5001];
    assert.equal(end0.type, "step_end");
    assert.equal(end0.affected_row_count, 0);
    assert.deepEqual(entries[5002], { type: "step_begin", step: 1, cols: [] });
    const end1 = entries[5003];
    assert.equal(end1.type, "step_end");
    assert.equal(end1.affected_row_count, 1);
    assert.equal(end1.last_insert_rowid, "5001");
    // Step 2 runs (autocommit) and fails: a step_error for step 2, possibly after its step_begin.
    const rest = entries.slice(5004);
    const err = rest.find((e) => e.type === "step_error");
    assert.ok(err, `a step_error entry: ${JSON.stringify(rest)}`);
    assert.equal(err.step, 2);
    assert.match(err.error.message, /no such column/);
    assert.ok(rest.every((e) => e.type === "step_error" || (e.type === "step_begin" && e.step === 2)), `nothing for the skipped step 3: ${JSON.stringify(rest)}`);

    assert.deepEqual(await ws.request(100, { type: "close_cursor", cursor_id: 7 }), {
      type: "response_ok",
      request_id: 100,
      response: { type: "close_cursor" },
    });
    // The stream is free again, and the cursor's insert was applied.
    const after = await ws.ok(101, { type: "execute", stream_id: 1, stmt: stmt("SELECT count(*) FROM rawcur") });
    assert.deepEqual(after.result.rows, [[int(5001)]]);

    // A cursor closed part-way: the rest is dropped and the stream is usable.
    await ws.ok(102, { type: "open_cursor", stream_id: 1, cursor_id: 8, batch: { steps: [{ stmt: stmt("SELECT x FROM rawcur") }] } });
    const part = await ws.ok(103, { type: "fetch_cursor", cursor_id: 8, max_count: 10 });
    assert.ok(part.entries.length > 0 && part.entries.length <= 10, `1..10 entries, got ${part.entries.length}`);
    assert.equal(part.done, false);
    await ws.ok(104, { type: "close_cursor", cursor_id: 8 });
    const again = await ws.ok(105, { type: "execute", stream_id: 1, stmt: stmt("SELECT 1") });
    assert.deepEqual(again.result.rows, [[int(1)]]);
    assert.ok(ws.isOpen);
  } finally {
    await ws.close();
  }
});
