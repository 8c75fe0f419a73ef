import { createClient } from "@libsql/client";
import { startServer, postJson } from "./harness.mjs";
const s = await startServer();
const show = async (label, p) => { try { const r = await p; console.log(label, "OK", JSON.stringify(r, (k,v)=>typeof v==="bigint"? v+"n": v)); } catch (e) { console.log(label, "ERR", e.constructor.name, e.code, e.message); } };
try {
  const c = createClient({ url: s.url });
  await show("fk default", c.execute("PRAGMA foreign_keys"));
  await c.executeMultiple("CREATE TABLE p(id INTEGER PRIMARY KEY); CREATE TABLE ch(id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id));");
  await show("fk insert default", c.execute("INSERT INTO ch VALUES (1, 99)"));
  await show("fk multi", c.executeMultiple("PRAGMA foreign_keys=ON; INSERT INTO ch VALUES (2, 98);"));
  await show("fk default after", c.execute("PRAGMA foreign_keys"));
  await show("read batch write", c.batch(["INSERT INTO p VALUES (5)"], "read"));
  await show("read batch", c.batch(["SELECT count(*) FROM p"], "read"));
  const t = await c.transaction("read");
  await show("rtx sel", t.execute("SELECT count(*) AS n FROM p"));
  await show("rtx ins", t.execute("INSERT INTO p VALUES (6)"));
  await show("rtx sel2", t.execute("SELECT count(*) AS n FROM p"));
  t.close();
  await show("count", c.execute("SELECT count(*) FROM p"));
} finally { await s.stop(); }
