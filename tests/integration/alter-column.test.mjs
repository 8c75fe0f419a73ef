// libSQL's ALTER TABLE ... ALTER COLUMN ... TO ... (issue #15, item 1), over the real server with
// @libsql/client (HTTP and WebSocket): every case of libSQL's document and of its own tests
// (libsql-sqlite3/test/libsql_alter.test, test/rust_suite/src/alter_column.rs), the refusals with
// libSQL's messages, a read-only token, a replica, and the real drizzle-kit push (dialect turso)
// changing a column's type and adding and removing a foreign key.
import { test, after, describe } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@libsql/client";
import { startServer, BIN, tempDirMaker } from "./harness.mjs";
import { waitUntil } from "./raw-http.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const tempDir = tempDirMaker("litehouse-alter-");

const schemaOf = async (c, name) => (await c.execute({ sql: "SELECT sql FROM sqlite_schema WHERE name = ?", args: [name] })).rows[0]?.sql;
const fails = async (promise, pattern) => {
  let error;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(error, `expected an error matching ${pattern}`);
  assert.match(error.message, pattern);
  return error;
};

for (const transport of ["http", "ws"]) {
  describe(`ALTER COLUMN over ${transport}`, () => {
    let server, c;
    const open = async () => {
      server = await startServer();
      c = createClient({ url: transport === "ws" ? server.url.replace("http:", "ws:") : server.url });
    };
    const close = async () => {
      c.close();
      assert.equal(await server.stop(), 0);
    };

    test("libSQL's document: foreign keys added and removed, other attributes, back to bare", async () => {
      await open();
      try {
        await c.execute("CREATE TABLE users (id INT PRIMARY KEY)");
        await c.execute("CREATE TABLE emails (user_id INT, email TEXT)");
        await c.execute("ALTER TABLE emails ALTER COLUMN user_id TO user_id INT REFERENCES users(id)");
        assert.equal(await schemaOf(c, "emails"), "CREATE TABLE emails (user_id INT REFERENCES users(id), email TEXT)");
        // Foreign keys are on (as on sqld): the new constraint holds for new rows.
        await c.execute("INSERT INTO users VALUES (1)");
        await c.execute("INSERT INTO emails VALUES (1, 'a@x')");
        await fails(c.execute("INSERT INTO emails VALUES (42, 'b@x')"), /FOREIGN KEY constraint failed/);
        await c.execute("ALTER TABLE emails ALTER COLUMN user_id TO user_id INT");
        assert.equal(await schemaOf(c, "emails"), "CREATE TABLE emails (user_id INT, email TEXT)");
        await c.execute("INSERT INTO emails VALUES (42, 'b@x')");

        await c.execute("CREATE TABLE t(id, v)");
        await c.execute("INSERT INTO t VALUES (1, 100)"); // existing rows are not checked again
        await c.execute("ALTER TABLE t ALTER COLUMN v TO v NOT NULL CHECK(v < 42)");
        assert.equal(await schemaOf(c, "t"), "CREATE TABLE t(id, v NOT NULL CHECK(v < 42))");
        await fails(c.execute("INSERT INTO t VALUES (2, 50)"), /CHECK constraint failed/);
        await fails(c.execute("INSERT INTO t VALUES (2, NULL)"), /NOT NULL constraint failed/);
        await c.execute("INSERT INTO t VALUES (2, 41)");
        await c.execute("ALTER TABLE t ALTER COLUMN v TO v TEXT DEFAULT 'hai'");
        assert.equal(await schemaOf(c, "t"), "CREATE TABLE t(id, v TEXT DEFAULT 'hai')");
        await c.execute("INSERT INTO t(id) VALUES (3)");
        assert.equal((await c.execute("SELECT v FROM t WHERE id = 3")).rows[0].v, "hai");
        await c.execute("ALTER TABLE t ALTER COLUMN v TO v");
        assert.equal(await schemaOf(c, "t"), "CREATE TABLE t(id, v)");
        assert.deepEqual((await c.execute("SELECT id, v FROM t ORDER BY id")).rows.map((r) => [r.id, r.v]), [[1, 100], [2, 41], [3, "hai"]]);
        assert.equal((await c.execute("PRAGMA integrity_check")).rows[0][0], "ok");
      } finally {
        await close();
      }
    });

    test("libSQL's own tests: the text written, a trailing ; and comment, an index kept, quoted names with ; ) , in them", async () => {
      await open();
      try {
        for (const [create, alter, expected] of [
          ["CREATE TABLE t1(x)", "ALTER TABLE t1 ALTER COLUMN x TO x;", "CREATE TABLE t1(x)"],
          ["CREATE TABLE t2(x)", "ALTER TABLE t2 ALTER COLUMN x TO x INTEGER DEFAULT(-1);", "CREATE TABLE t2(x INTEGER DEFAULT(-1))"],
          ["CREATE TABLE t3(x)", " ALTER TABLE t3 ALTER COLUMN x TO x INTEGER DEFAULT(-1);   ", "CREATE TABLE t3(x INTEGER DEFAULT(-1))"],
          ["CREATE TABLE t4(x)", " ALTER TABLE t4 ALTER COLUMN x TO x INTEGER DEFAULT(-1); -- explain alter command ", "CREATE TABLE t4(x INTEGER DEFAULT(-1))"],
          ["CREATE TABLE t6(a, b DEFAULT (1 + 2), c)", "alter table t6 alter column b to b text check (b in ('x', ')', ','))", "CREATE TABLE t6(a, b text check (b in ('x', ')', ',')), c)"],
          ['CREATE TABLE ";;)),"(id, "v,);")', 'ALTER TABLE ";;)),"ALTER COLUMN "v,);" TO "v,);" float', 'CREATE TABLE ";;)),"(id, "v,);" float)'],
          ['CREATE TABLE ";;)),"(id, "v,);")', 'ALTER TABLE ";;)),"ALTER COLUMN "v,);" TO "v,);" REFERENCES "x;;,)"("y;,,,,")', 'CREATE TABLE ";;)),"(id, "v,);" REFERENCES "x;;,)"("y;,,,,"))'],
        ]) {
          const name = /TABLE ("[^"]*"|\w+)/.exec(create)[1].replaceAll('"', "");
          if (!(await schemaOf(c, name))) await c.execute(create);
          await c.execute(alter);
          assert.equal(await schemaOf(c, name), expected, alter);
        }
        await c.execute("CREATE TABLE t5(x)");
        await c.execute("CREATE INDEX t5_idx ON t5(x)");
        await c.execute("ALTER TABLE t5 ALTER COLUMN x TO x TEXT");
        assert.equal(await schemaOf(c, "t5"), "CREATE TABLE t5(x TEXT)");
        assert.equal(await schemaOf(c, "t5_idx"), "CREATE INDEX t5_idx ON t5(x)");
        // In a batch and in an interactive transaction: whole, or not at all.
        await c.batch(["CREATE TABLE b(x)", "ALTER TABLE b ALTER COLUMN x TO x INT NOT NULL", "INSERT INTO b VALUES (1)"], "write");
        assert.equal(await schemaOf(c, "b"), "CREATE TABLE b(x INT NOT NULL)");
        const tx = await c.transaction("write");
        await tx.execute("ALTER TABLE b ALTER COLUMN x TO x TEXT");
        assert.equal(await schemaOf(tx, "b"), "CREATE TABLE b(x TEXT)");
        await tx.rollback();
        tx.close();
        assert.equal(await schemaOf(c, "b"), "CREATE TABLE b(x INT NOT NULL)", "rolled back with its transaction");
        await fails(c.batch(["ALTER TABLE b ALTER COLUMN x TO x BLOB", "INSERT INTO nope VALUES (1)"], "write"), /no such table: nope/);
        assert.equal(await schemaOf(c, "b"), "CREATE TABLE b(x INT NOT NULL)", "a failed batch leaves it as it was");
        assert.equal((await c.execute("PRAGMA integrity_check")).rows[0][0], "ok");
      } finally {
        await close();
      }
    });

    test("refusals, with libSQL's messages; nothing changes", async () => {
      await open();
      try {
        await c.execute("CREATE TABLE t(id, v)");
        await c.execute("CREATE TABLE p(id int PRIMARY KEY, g GENERATED ALWAYS AS (id * 2))");
        await c.execute("CREATE VIEW w AS SELECT 1 AS a");
        const before = (await c.execute("SELECT group_concat(sql, ';') AS s FROM sqlite_schema")).rows[0].s;
        for (const [sql, pattern] of [
          ["ALTER TABLE nope ALTER COLUMN id TO id", /no such table: nope/],
          ["ALTER TABLE t ALTER COLUMN nope TO nope", /no such column: "nope"/],
          ["ALTER TABLE t ALTER COLUMN id TO id2", /UPDATE cannot also rename column: "id" to "id2". Use ALTER TABLE RENAME instead/],
          ["ALTER TABLE t ALTER COLUMN id TO id 1 2 3", /near "1": syntax error/],
          ["ALTER TABLE t ALTER COLUMN id TO id REFERENCES x(y) TEXT", /syntax error/],
          ["ALTER TABLE t ALTER COLUMN id TO id PRIMARY KEY", /error in adding id PRIMARY KEY to t: PRIMARY KEY constraint cannot be altered/],
          ["ALTER TABLE t ALTER COLUMN v TO v INTEGER UNIQUE", /error in adding v INTEGER UNIQUE to t: UNIQUE constraint cannot be altered/],
          ["ALTER TABLE t ALTER COLUMN v TO v GENERATED ALWAYS AS (2 * id) VIRTUAL", /GENERATED constraint cannot be altered/],
          ["ALTER TABLE p ALTER COLUMN id TO id", /PRIMARY KEY constraint cannot be altered/],
          ["ALTER TABLE p ALTER COLUMN g TO g", /GENERATED constraint cannot be altered/],
          ["ALTER TABLE w ALTER COLUMN a TO a", /cannot rename columns of view "w"/],
          ["ALTER TABLE sqlite_schema ALTER COLUMN sql TO sql", /may not be altered|no such table/],
          ["ALTER TABLE t ALTER COLUMN id TO", /syntax error|incomplete input/],
        ]) {
          await fails(c.execute(sql), pattern);
        }
        assert.equal((await c.execute("SELECT group_concat(sql, ';') AS s FROM sqlite_schema")).rows[0].s, before);
        // The server is fine after them.
        await c.execute("INSERT INTO t VALUES (1, 2)");
      } finally {
        await close();
      }
    });
  });
}

test("a read-only token cannot ALTER COLUMN; a read-write one can", async () => {
  const keysDir = tempDir();
  const r = spawn(BIN, ["token", "keygen", "--dir", keysDir]);
  await new Promise((res) => r.on("exit", res));
  const token = async (ro) => {
    const p = spawn(BIN, ["token", "create", "--key", join(keysDir, "jwt_private.pem"), ...(ro ? ["--read-only"] : [])]);
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    await new Promise((res) => p.on("exit", res));
    return out.trim();
  };
  const server = await startServer({ args: ["--auth-jwt-key-file", join(keysDir, "jwt_public.pem")] });
  const rw = createClient({ url: server.url, authToken: await token(false) });
  const ro = createClient({ url: server.url, authToken: await token(true) });
  try {
    await rw.execute("CREATE TABLE t(x)");
    const e = await fails(ro.execute("ALTER TABLE t ALTER COLUMN x TO x INT"), /not authorized|read-only|readonly/i);
    assert.match(e.code, /SQLITE_AUTH|SQLITE_READONLY/);
    assert.equal(await schemaOf(rw, "t"), "CREATE TABLE t(x)");
    await rw.execute("ALTER TABLE t ALTER COLUMN x TO x INT");
    assert.equal(await schemaOf(ro, "t"), "CREATE TABLE t(x INT)");
  } finally {
    rw.close();
    ro.close();
    assert.equal(await server.stop(), 0);
  }
});

test("replicated like any write: a read replica sees the new schema, and its constraint", async () => {
  const primary = await startServer();
  const replica = await startServer({ args: ["--primary-url", primary.url] });
  const p = createClient({ url: primary.url });
  const r = createClient({ url: replica.url });
  try {
    await p.execute("CREATE TABLE t(x)");
    await p.execute("ALTER TABLE t ALTER COLUMN x TO x INT CHECK (x > 0)");
    await waitUntil(async () => (await schemaOf(r, "t")) === "CREATE TABLE t(x INT CHECK (x > 0))", "the replica has the new schema");
    // A write through the replica goes to the primary, whose schema refuses it.
    await fails(r.execute("INSERT INTO t VALUES (-1)"), /CHECK constraint failed/);
  } finally {
    p.close();
    r.close();
    await replica.stop();
    await primary.stop();
  }
});

// drizzle-kit push (dialect turso) is what sends ALTER COLUMN in the wild: a column's type changed,
// a foreign key added, then removed, each pushed with --force against the real server.
test("drizzle-kit push --force (dialect turso): a column's type changed, a foreign key added and removed", async () => {
  const server = await startServer();
  const dir = tempDir("litehouse-drizzle-");
  const c = createClient({ url: server.url });
  const push = (schema) => {
    writeFileSync(join(dir, "schema.mjs"), schema);
    return new Promise((res) => {
      const p = spawn(join(here, "node_modules/.bin/drizzle-kit"), ["push", "--force", "--verbose", "--dialect", "turso", "--schema", join(dir, "schema.mjs"), "--url", server.url], {
        cwd: dir,
        env: { ...process.env, NO_COLOR: "1", NODE_PATH: join(here, "node_modules") },  // the schema file imports drizzle-orm
      });
      let out = "";
      p.stdout.on("data", (d) => (out += d));
      p.stderr.on("data", (d) => (out += d));
      const timer = setTimeout(() => p.kill("SIGKILL"), 120_000);
      p.on("exit", (code) => {
        clearTimeout(timer);
        res({ code: /Changes applied/.test(out) && !/Error/.test(out) ? code : `failed (${code})`, out });
      });
    });
  };
  const header = `import { sqliteTable, integer, text, real } from "drizzle-orm/sqlite-core";\n`;
  const users = `export const users = sqliteTable("d_users", { id: integer("id").primaryKey(), name: text("name").notNull(), score: SCORE });\n`;
  const posts = (fk) =>
    `export const posts = sqliteTable("d_posts", { id: integer("id").primaryKey(), authorId: integer("author_id")${fk ? ".references(() => users.id)" : ""}, title: text("title") });\n`;
  try {
    let r = await push(header + users.replace("SCORE", 'text("score")') + posts(false));
    assert.equal(r.code, 0, r.out);
    await c.execute("INSERT INTO d_users VALUES (1, 'ann', '7')");
    await c.execute("INSERT INTO d_posts VALUES (1, 1, 'hello')");

    r = await push(header + users.replace("SCORE", 'integer("score")') + posts(false));
    assert.equal(r.code, 0, r.out);
    // (A NOT NULL without a default would make drizzle-kit itself delete the rows, with --force.)
    assert.match(await schemaOf(c, "d_users"), /["`]score["`] integer\s*[,)]/);
    assert.match(r.out, /ALTER TABLE `d_users` ALTER COLUMN "score" TO "score" integer/, "sent as libSQL's ALTER COLUMN");
    assert.equal((await c.execute("SELECT count(*) AS n FROM d_users")).rows[0].n, 1, "rows kept");

    r = await push(header + users.replace("SCORE", 'integer("score")') + posts(true));
    assert.equal(r.code, 0, r.out);
    assert.match(await schemaOf(c, "d_posts"), /["`]author_id["`] integer REFERENCES ["`]?d_users["`]?\(["`]?id["`]?\)/);
    await fails(c.execute("INSERT INTO d_posts VALUES (2, 99, 'orphan')"), /FOREIGN KEY constraint failed/);

    r = await push(header + users.replace("SCORE", 'integer("score")') + posts(false));
    assert.equal(r.code, 0, r.out);
    assert.doesNotMatch(await schemaOf(c, "d_posts"), /REFERENCES/);
    await c.execute("INSERT INTO d_posts VALUES (2, 99, 'orphan')");
    assert.equal((await c.execute("SELECT count(*) AS n FROM d_posts")).rows[0].n, 2);
    // libSQL's caveat: rows are not rewritten. The '7' stored while score was text stays text in a
    // column of integer affinity now, which SQLite's integrity_check points out (as on libSQL).
    assert.deepEqual((await c.execute("PRAGMA integrity_check")).rows.map((row) => row[0]), ["TEXT value in d_users.score"]);
    assert.equal((await c.execute("SELECT typeof(score) AS t FROM d_users")).rows[0].t, "text");
  } finally {
    c.close();
    assert.equal(await server.stop(), 0);
  }
});
