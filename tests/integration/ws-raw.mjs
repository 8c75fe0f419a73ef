// A raw WebSocket client for Hrana tests that need to see the wire: the negotiated subprotocol,
// exact JSON messages, binary frames, close codes and handshake refusals. Built on `ws` directly (no
// Hrana library), so nothing is corrected or hidden on the client side.
import WebSocket from "ws";
import { patience } from "./harness.mjs";

export { WebSocket };

// The ws:// URL of a server started by the harness.
export const wsUrl = (server) => `ws://127.0.0.1:${server.port}`;

// The subprotocols @libsql/hrana-client offers for version 3, in its order.
export const ALL_SUBPROTOCOLS = ["hrana3-protobuf", "hrana3", "hrana2", "hrana1"];

// One raw connection. Every frame received is kept (text parsed as JSON when it parses) until a
// `waitFor` takes it; `closed` resolves with the close frame's {code, reason} once the socket closes.
export class RawWs {
  constructor(ws) {
    this.ws = ws;
    this.inbox = [];
    this.waiters = [];
    this.closeInfo = undefined;
    this.closed = new Promise((resolve) => {
      ws.on("close", (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        for (const w of this.waiters.splice(0)) w.reject(new Error(`socket closed (${code} ${reason}) while waiting for ${w.what}`));
      });
    });
    ws.on("error", () => {}); // surfaced through `closed`
    ws.on("message", (data, isBinary) => {
      const frame = { isBinary, data: Buffer.from(data) };
      if (!isBinary) {
        frame.text = frame.data.toString("utf8");
        try {
          frame.json = JSON.parse(frame.text);
        } catch {}
      }
      const i = this.waiters.findIndex((w) => w.pred(frame));
      if (i >= 0) {
        const [w] = this.waiters.splice(i, 1);
        clearTimeout(w.timer);
        w.resolve(frame);
      } else {
        this.inbox.push(frame);
      }
    });
  }

  get protocol() {
    return this.ws.protocol;
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  // Sends an object as JSON text, a string as text, or a Buffer/Uint8Array as a binary frame.
  send(msg) {
    if (typeof msg === "string") this.ws.send(msg, { binary: false });
    else if (msg instanceof Uint8Array) this.ws.send(msg, { binary: true });
    else this.ws.send(JSON.stringify(msg), { binary: false });
  }

  // The first frame (received already or later) for which `pred` holds; rejects after `timeoutMs`
  // (five times that against a sanitizer build: the harness's patience) or when the socket closes first.
  waitFor(pred, what = "a frame", timeoutMs = 10_000) {
    timeoutMs = patience(timeoutMs);
    const i = this.inbox.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]);
    if (this.closeInfo) return Promise.reject(new Error(`socket closed (${this.closeInfo.code} ${this.closeInfo.reason}) before ${what}`));
    return new Promise((resolve, reject) => {
      const w = { pred, what, resolve, reject };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  // The next JSON message of the given type (hello_ok, hello_error).
  async nextOfType(type, timeoutMs) {
    return (await this.waitFor((f) => f.json?.type === type, `a ${type} message`, timeoutMs)).json;
  }

  // The response message (response_ok or response_error) for `requestId`.
  async responseTo(requestId, timeoutMs) {
    const f = await this.waitFor(
      (f) => f.json && (f.json.type === "response_ok" || f.json.type === "response_error") && f.json.request_id === requestId,
      `the response to request ${requestId}`,
      timeoutMs,
    );
    return f.json;
  }

  // Sends a JSON hello and waits for hello_ok (returns the message).
  async hello() {
    this.send({ type: "hello", jwt: null });
    return this.nextOfType("hello_ok");
  }

  // Sends one JSON request and returns the whole response message.
  async request(requestId, request, timeoutMs) {
    this.send({ type: "request", request_id: requestId, request });
    return this.responseTo(requestId, timeoutMs);
  }

  // Sends one JSON request and returns `response` of a response_ok, throwing on response_error.
  async ok(requestId, request, timeoutMs) {
    const msg = await this.request(requestId, request, timeoutMs);
    if (msg.type !== "response_ok") throw new Error(`request ${requestId} (${request.type}) failed: ${JSON.stringify(msg)}`);
    return msg.response;
  }

  // Resolves with {code, reason} once closed; rejects if still open after `timeoutMs` (patience).
  closedWithin(timeoutMs = 10_000) {
    timeoutMs = patience(timeoutMs);
    let timer;
    return Promise.race([
      this.closed.finally(() => clearTimeout(timer)),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the server did not close the connection within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  }

  // A normal close from our side; resolves once the socket is closed.
  async close() {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close(1000);
    await this.closedWithin(5_000).catch(() => this.ws.terminate());
  }

  terminate() {
    this.ws.terminate();
  }
}

// Opens a WebSocket to `server` offering `protocols` (undefined: no Sec-WebSocket-Protocol header).
// Resolves with a RawWs once open. Rejects when the handshake fails, with `error.status` set to the
// HTTP status when the server answered the upgrade with an ordinary response.
export function openRaw(server, protocols, options = {}) {
  return new Promise((resolve, reject) => {
    const ws = protocols === undefined ? new WebSocket(wsUrl(server), options) : new WebSocket(wsUrl(server), protocols, options);
    let settled = false;
    const raw = new RawWs(ws);
    ws.once("open", () => {
      settled = true;
      resolve(raw);
    });
    ws.once("unexpected-response", (req, res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => {
        if (settled) return;
        settled = true;
        const e = new Error(`handshake refused with HTTP ${res.statusCode}: ${body}`);
        e.status = res.statusCode;
        e.body = body;
        reject(e);
        ws.terminate();
      });
    });
    ws.once("error", (e) => {
      if (settled) return;
      settled = true;
      reject(e);
    });
  });
}

// Opens a JSON connection (hrana3 by default) and completes the hello.
export async function openHello(server, protocols = ["hrana3"]) {
  const raw = await openRaw(server, protocols);
  await raw.hello();
  return raw;
}

// Statement and value helpers for JSON messages.
export const stmt = (sql, args = [], extra = {}) => ({ sql, args, ...extra });
export const int = (v) => ({ type: "integer", value: String(v) });
export const text = (v) => ({ type: "text", value: v });
export const float = (v) => ({ type: "float", value: v });
// Blobs in the form the server sends them: unpadded standard base64, as sqld (both forms are accepted).
export const blob = (bytes) => ({ type: "blob", base64: Buffer.from(bytes).toString("base64").replace(/=+$/, "") });
export const NULL = { type: "null" };
