// A proxy before s3rver (npm) for tools that list with a delimiter, as `litestream restore` does.
// s3rver answers such a listing without the common prefixes of nested keys, so Litestream finds no
// generation in it; this proxy answers those listings itself, from s3rver's full listing of the
// prefix, as S3 does. Every other request passes unchanged. Used by backup-s3.test.mjs and by
// bench/backup.mjs (both tools restore through it there, for a fair comparison).
import http from "node:http";

// Listens on a free loopback port before the s3rver at `s3port` (path-style requests: /BUCKET/KEY).
export async function s3ListingProxy(s3port) {
  const forward = (req, body, path) =>
    new Promise((res, rej) => {
      const up = http.request({ host: "127.0.0.1", port: s3port, method: req.method, path, headers: { ...req.headers, host: `127.0.0.1:${s3port}` } }, (r) => {
        const chunks = [];
        r.on("data", (c) => chunks.push(c));
        r.on("end", () => res({ status: r.statusCode, headers: r.headers, body: Buffer.concat(chunks) }));
      });
      up.on("error", rej);
      up.end(body);
    });
  const xmlEscape = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const delimiter = url.searchParams.get("delimiter");
    if (req.method !== "GET" || !delimiter) {
      // Streamed both ways: a 100 MB object is not held here.
      const up = http.request({ host: "127.0.0.1", port: s3port, method: req.method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${s3port}` } }, (r) => {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
      });
      up.on("error", () => res.destroy());
      req.pipe(up);
      return;
    }
    req.resume();
    req.on("end", async () => {
      try {
        const prefix = url.searchParams.get("prefix") ?? "";
        const contents = [], prefixes = new Set();
        // s3rver's whole listing of the prefix, page by page (ListObjects v1, by marker).
        for (let marker = "", pages = 0; pages < 10000; pages++) {
          const q = new URLSearchParams({ prefix });
          if (marker) q.set("marker", marker);
          const r = await forward(req, Buffer.alloc(0), `${url.pathname}?${q}`);
          const xml = r.body.toString("utf8");
          if (r.status !== 200) throw new Error(`s3rver listing: HTTP ${r.status} ${xml}`);
          for (const m of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
            const key = /<Key>([\s\S]*?)<\/Key>/.exec(m[1])[1];
            marker = key;
            const rest = key.slice(prefix.length);
            const cut = rest.indexOf(delimiter);
            if (cut < 0) contents.push(`<Contents>${m[1]}</Contents>`);
            else prefixes.add(prefix + rest.slice(0, cut + delimiter.length));
          }
          if (!/<IsTruncated>true<\/IsTruncated>/.test(xml)) break;
        }
        const v2 = url.searchParams.get("list-type") === "2";
        const out =
          `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
          `<Name>${xmlEscape(url.pathname.split("/")[1] ?? "")}</Name><Prefix>${xmlEscape(prefix)}</Prefix><Delimiter>${xmlEscape(delimiter)}</Delimiter>` +
          (v2 ? `<KeyCount>${contents.length + prefixes.size}</KeyCount>` : "<Marker></Marker>") +
          `<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>${contents.join("")}` +
          [...prefixes].map((p) => `<CommonPrefixes><Prefix>${xmlEscape(p)}</Prefix></CommonPrefixes>`).join("") +
          `</ListBucketResult>`;
        res.writeHead(200, { "content-type": "application/xml" });
        res.end(out);
      } catch (e) {
        res.writeHead(500);
        res.end(String(e));
      }
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return server;
}
