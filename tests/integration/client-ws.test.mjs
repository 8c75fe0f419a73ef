// @libsql/client over ws:// (Hrana 2 JSON over one WebSocket per client); the tests are in client-suite.mjs.
import { defineClientSuite } from "./client-suite.mjs";
defineClientSuite("ws");
