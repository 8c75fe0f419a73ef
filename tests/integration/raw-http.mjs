// A raw HTTP/1.1 connection for tests that need to hold a socket open, count connections exactly,
// pipeline requests or stop reading: nothing pools, retries or reads ahead on the client side.
import net from "node:net";
import { patience } from "./harness.mjs";

// One keep-alive connection. `request` writes one request and resolves with {status, headers, body}
// once its response is complete (Content-Length framing; the server's replies all carry one, except
// GET /dump, which these tests do not use).
export class RawHttp {
  constructor(socket) {
    this.socket = socket;
    this.buffer = Buffer.alloc(0);
    this.pending = [];
    this.closed = new Promise((resolve) => socket.once("close", resolve));
    socket.on("data", (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.#drain();
    });
    socket.on("error", () => {});
    socket.once("close", () => {
      for (const p of this.pending.splice(0)) p.reject(new Error("connection closed before the response"));
    });
  }

  #drain() {
    while (this.pending.length) {
      const end = this.buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = this.buffer.subarray(0, end).toString("latin1").split("\r\n");
      const headers = {};
      for (const line of head.slice(1)) {
        const i = line.indexOf(":");
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      const length = Number(headers["content-length"] ?? 0);
      if (this.buffer.length < end + 4 + length) return;
      const body = this.buffer.subarray(end + 4, end + 4 + length).toString("utf8");
      this.buffer = this.buffer.subarray(end + 4 + length);
      const status = Number(head[0].split(" ")[1]);
      this.pending.shift().resolve({ status, headers, body });
    }
  }

  // Writes `method path` with an optional JSON body; resolves with the parsed response.
  request(method, path, body) {
    const payload = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body);
    const text =
      `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`;
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.write(text);
    });
  }

  close() {
    this.socket.destroy();
    return this.closed;
  }
}

// Opens a TCP connection to `server` (no request sent). Resolves once connected: the kernel completes
// the handshake even before the server accepts, so this says nothing about the server having taken it.
export function connectRaw(server) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port: server.port });
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

// A RawHttp connection the server has accepted and served once (GET /health answered).
export async function openHttp(server) {
  const conn = new RawHttp(await connectRaw(server));
  const res = await conn.request("GET", "/health");
  if (res.status !== 200) throw new Error(`GET /health answered ${res.status}`);
  return conn;
}

// Resolves once `pred()` holds, checking every `everyMs`; rejects after `timeoutMs` (patience: five
// times that against a sanitizer build) naming `what`.
export async function waitUntil(pred, what, timeoutMs = 10_000, everyMs = 20) {
  timeoutMs = patience(timeoutMs);
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
