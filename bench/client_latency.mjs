// Per-call latency of a point SELECT through @libsql/client, one call at a time, for a fixed time:
// the peer of client_latency.cc in the same run. Run from tests/integration (where the package is).
//   node client_latency.mjs URL SECONDS   -> RESULT calls=N seconds=S p50_us=X p99_us=Y errors=E
import { createRequire } from "node:module";
import { resolve } from "node:path";

const require = createRequire(resolve(process.cwd(), "package.json"));
const { createClient } = require("@libsql/client");
const [url, seconds] = process.argv.slice(2);
const client = createClient({ url });
const latencies = [];
let errors = 0;
let seed = 1;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648), 1 + (seed % 10000));
const start = performance.now();
const end = start + Number(seconds) * 1000;
while (performance.now() < end) {
  const t0 = performance.now();
  try {
    const rs = await client.execute({ sql: "SELECT id, name, value FROM bench WHERE id = ?", args: [rand()] });
    if (rs.rows.length !== 1) errors++;
  } catch {
    errors++;
  }
  latencies.push(Math.round((performance.now() - t0) * 1000));
}
const elapsed = (performance.now() - start) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
console.log(`RESULT calls=${latencies.length} seconds=${elapsed.toFixed(3)} p50_us=${pct(0.5)} p99_us=${pct(0.99)} errors=${errors}`);
client.close();
process.exit(errors ? 1 : 0);
