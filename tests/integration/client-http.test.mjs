// @libsql/client over http:// (Hrana 2 JSON over /v2/pipeline); the tests are in client-suite.mjs.
import { defineClientSuite } from "./client-suite.mjs";
defineClientSuite("http");
