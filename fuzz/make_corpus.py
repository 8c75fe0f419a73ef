#!/usr/bin/env python3
"""Writes the seed corpora of fuzz/corpus/<target>/ from the requests the tests send.

Each seed below is a request, message, token or script taken from a unit or integration test (named
beside it), so the fuzzers start from inputs that reach deep into each decoder. The Protobuf seeds are
written in protobuf's text format and encoded by protoc from src/protocol/proto/hrana.proto.
The output is committed; run this again (from anywhere) after changing the seeds:
    python3 fuzz/make_corpus.py
"""
import hashlib
import json
import pathlib
import shutil
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent
PROTO_DIR = ROOT.parent / "src" / "protocol" / "proto"
CORPUS = ROOT / "corpus"


def stmt(sql, args=None, named=None, want_rows=None):
    s = {"sql": sql}
    if args is not None:
        s["args"] = args
    if named is not None:
        s["named_args"] = named
    if want_rows is not None:
        s["want_rows"] = want_rows
    return s


INT_MIN = {"type": "integer", "value": "-9223372036854775808"}
VALUES = [{"type": "null"}, {"type": "integer", "value": "42"}, {"type": "float", "value": 0.1},
          {"type": "text", "value": "h\u00e9\u0000x"}, {"type": "blob", "base64": "AAH/"},
          {"type": "blob", "base64": "AAE"}]
BATCH = {"steps": [
    {"stmt": stmt("BEGIN")},
    {"condition": {"type": "ok", "step": 0}, "stmt": stmt("INSERT INTO t VALUES (?)", [INT_MIN])},
    {"condition": {"type": "and", "conds": [{"type": "ok", "step": 1},
                                            {"type": "not", "cond": {"type": "is_autocommit"}}]},
     "stmt": stmt("COMMIT")},
    {"condition": {"type": "or", "conds": [{"type": "error", "step": 1}, {"type": "error", "step": 2}]},
     "stmt": {"sql_id": 3}},
]}

# tests/unit/json_codec_test.cc (ParsesEveryRequestType, ParsesEveryValueType, the refusals),
# tests/integration/bad-input.test.mjs, hrana-client-http.test.mjs (what @libsql/client sends).
PIPELINES = {
    "every_request_type": {"baton": "1.ab", "requests": [
        {"type": "execute", "stmt": stmt("SELECT ?", [INT_MIN], want_rows=False)},
        {"type": "batch", "batch": {"steps": [{"stmt": {"sql": "A"}},
                                              {"condition": {"type": "not", "cond": {"type": "ok", "step": 0}},
                                               "stmt": {"sql_id": 3}}]}},
        {"type": "sequence", "sql": "X;Y"}, {"type": "describe", "sql_id": 7},
        {"type": "store_sql", "sql_id": 7, "sql": "S"}, {"type": "close_sql", "sql_id": 7},
        {"type": "get_autocommit"}, {"type": "close"}]},
    "every_value_type": {"requests": [{"type": "execute", "stmt": stmt("S", VALUES, named=[])}]},
    "named_args": {"requests": [{"type": "execute", "stmt": stmt(
        "SELECT :a, @b, $c", named=[{"name": ":a", "value": {"type": "integer", "value": 1}},
                                    {"name": "b", "value": {"type": "float", "value": -2.5e300}},
                                    {"name": "$c", "value": {"type": "text", "value": "x"}}])}]},
    "batch_conditions": {"baton": None, "requests": [{"type": "batch", "batch": BATCH}, {"type": "close"}]},
    "client_transaction": {"baton": "2.9f3c", "requests": [
        {"type": "execute", "stmt": stmt("BEGIN IMMEDIATE", want_rows=False)},
        {"type": "execute", "stmt": stmt("INSERT INTO t(v) VALUES (?)", [{"type": "text", "value": "a"}])},
        {"type": "get_autocommit"}]},
    "bad_integer": {"requests": [{"type": "execute", "stmt": stmt("S", [{"type": "integer", "value": "12x"}])}]},
    "bad_base64": {"requests": [{"type": "execute", "stmt": stmt("S", [{"type": "blob", "base64": "!!"}])}]},
    "bad_condition": {"requests": [{"type": "batch", "batch": {"steps": [
        {"condition": {"type": "maybe"}, "stmt": {"sql": "S"}}]}}]},
    "bad_baton": {"baton": 7, "requests": []},
}
CURSORS = {
    "batch": {"baton": None, "batch": BATCH},
    "values": {"baton": "3.77", "batch": {"steps": [{"stmt": stmt("SELECT ?, ?, ?, ?, ?, ?", VALUES)}]}},
    "empty": {"batch": {"steps": []}},
}
# tests/integration/ws-protocol.test.mjs, hrana-client-ws.test.mjs.
WS = {
    "hello": {"type": "hello", "jwt": None},
    "hello_jwt": {"type": "hello", "jwt": "eyJhbGciOiJFZERTQSJ9.eyJhIjoicnciffQ.c2ln"},
    "open_stream": {"type": "request", "request_id": 1, "request": {"type": "open_stream", "stream_id": 1}},
    "execute": {"type": "request", "request_id": 2,
                "request": {"type": "execute", "stream_id": 1, "stmt": stmt("SELECT ? + 1", VALUES[:3])}},
    "batch": {"type": "request", "request_id": 3, "request": {"type": "batch", "stream_id": 1, "batch": BATCH}},
    "open_cursor": {"type": "request", "request_id": 4,
                    "request": {"type": "open_cursor", "stream_id": 1, "cursor_id": 9, "batch": BATCH}},
    "fetch_cursor": {"type": "request", "request_id": 5,
                     "request": {"type": "fetch_cursor", "cursor_id": 9, "max_count": 100}},
    "close_cursor": {"type": "request", "request_id": 6, "request": {"type": "close_cursor", "cursor_id": 9}},
    "sequence": {"type": "request", "request_id": 7, "request": {"type": "sequence", "stream_id": 1, "sql": "A;B"}},
    "describe": {"type": "request", "request_id": 8, "request": {"type": "describe", "stream_id": 1, "sql_id": 2}},
    "store_sql": {"type": "request", "request_id": 9, "request": {"type": "store_sql", "sql_id": 2, "sql": "SELECT 1"}},
    "close_sql": {"type": "request", "request_id": 10, "request": {"type": "close_sql", "sql_id": 2}},
    "get_autocommit": {"type": "request", "request_id": 11, "request": {"type": "get_autocommit", "stream_id": 1}},
    "close_stream": {"type": "request", "request_id": 12, "request": {"type": "close_stream", "stream_id": 1}},
}
# tests/integration/bad-input.test.mjs and auth.test.mjs (POST /).
LEGACY = {
    "statements": {"statements": ["SELECT 1", {"q": "SELECT ?", "params": [1, "a", None, 2.5]},
                                  {"q": "SELECT :x", "params": {":x": True}}]},
    "blob": {"statements": [{"q": "INSERT INTO t VALUES (?)", "params": [{"base64": "AP8"}]}]},
    "failure": {"statements": ["INSERT INTO legacy(a) VALUES (3)", "SELECT * FROM missing", "SELECT 1"]},
    "not_a_statement": {"statements": [5]},
}
# tests/unit/json_codec_test.cc (the client's side) and client_test.cc: what a server answers.
STMT_RESULT = {"cols": [{"name": "a", "decltype": "INTEGER"}, {"name": "b", "decltype": None}],
               "rows": [[{"type": "integer", "value": "9007199254740993"}, {"type": "text", "value": "x"}],
                        [{"type": "float", "value": 1.5}, {"type": "blob", "base64": "AP8"}]],
               "affected_row_count": 3, "last_insert_rowid": "7", "replication_index": None,
               "rows_read": 4, "rows_written": 3, "query_duration_ms": 0.25}
CLIENT = {
    "pipeline_execute_error": "pipeline xx\n" + json.dumps({"baton": "1.b", "base_url": None, "results": [
        {"type": "ok", "response": {"type": "execute", "result": STMT_RESULT}},
        {"type": "error", "error": {"message": "boom", "code": "SQLITE_CONSTRAINT"}}]}),
    "pipeline_every_type": "pipeline bsdSCac\n" + json.dumps({"baton": None, "base_url": None, "results": [
        {"type": "ok", "response": {"type": "batch", "result": {
            "step_results": [STMT_RESULT, None], "step_errors": [None, {"message": "m", "code": "C"}],
            "replication_index": None}}},
        {"type": "ok", "response": {"type": "sequence"}},
        {"type": "ok", "response": {"type": "describe", "result": {
            "params": [{"name": ":a"}], "cols": [{"name": "x", "decltype": None}],
            "is_explain": False, "is_readonly": True}}},
        {"type": "ok", "response": {"type": "store_sql"}}, {"type": "ok", "response": {"type": "close_sql"}},
        {"type": "ok", "response": {"type": "get_autocommit", "is_autocommit": True}},
        {"type": "ok", "response": {"type": "close"}}]}),
    "error_body": "error\n" + json.dumps({"message": "The JWT is invalid", "code": "AUTH_JWT_INVALID"}),
    "ws_hello_ok": "ws x\n" + json.dumps({"type": "hello_ok"}),
    "ws_hello_error": "ws x\n" + json.dumps({"type": "hello_error", "error": {"message": "no", "code": "AUTH"}}),
    "ws_open_stream": "ws x\n" + json.dumps({"type": "response_ok", "request_id": 1, "response": {"type": "open_stream"}}),
    "ws_execute": "ws x\n" + json.dumps({"type": "response_ok", "request_id": 2,
                                          "response": {"type": "execute", "result": STMT_RESULT}}),
    "ws_autocommit": "ws a\n" + json.dumps({"type": "response_ok", "request_id": 3,
                                             "response": {"type": "get_autocommit", "is_autocommit": False}}),
    "ws_response_error": "ws b\n" + json.dumps({"type": "response_error", "request_id": 4,
                                                 "error": {"message": "SQLite error: no such table: t",
                                                           "code": "SQLITE_UNKNOWN"}}),
}

# Protobuf seeds, in protobuf's text format (tests/unit/protobuf_codec_test.cc, DecodesRequests).
PB_STMT = 'sql: "SELECT ?, ?, ?, ?, ?" args { null {} } args { integer: -9223372036854775808 } ' \
          'args { float: 0.5 } args { text: "h\\303\\251llo" } args { blob: "\\000\\001" } want_rows: false'
PB_BATCH = 'steps { stmt { sql_id: 3 } } steps { stmt { sql: "COMMIT" } condition { and { conds { step_ok: 0 } ' \
           'conds { not { is_autocommit {} } } } } } ' \
           'steps { stmt { sql: "ROLLBACK" named_args { name: ":a" value { text: "x" } } } ' \
           'condition { or { conds { step_error: 1 } conds { step_error: 0 } } } }'
PB_PIPELINES = {
    "every_request_type": f'baton: "1.abc" requests {{ execute {{ stmt {{ {PB_STMT} }} }} }} '
                          f'requests {{ batch {{ batch {{ {PB_BATCH} }} }} }} '
                          'requests { sequence { sql: "A;B" } } requests { describe { sql_id: 2 } } '
                          'requests { store_sql { sql_id: 2 sql: "SELECT 1" } } requests { close_sql { sql_id: 2 } } '
                          'requests { get_autocommit {} } requests { close {} }',
    "execute": f'requests {{ execute {{ stmt {{ {PB_STMT} }} }} }}',
}
PB_CURSORS = {
    "batch": f'baton: "2.x" batch {{ {PB_BATCH} }}',
    "values": f'batch {{ steps {{ stmt {{ {PB_STMT} }} }} }}',
}
PB_WS = {
    "hello": 'hello { jwt: "eyJhbGciOiJFZERTQSJ9.eyJhIjoicnciffQ.c2ln" }',
    "hello_null": "hello {}",
    "open_stream": "request { request_id: 1 open_stream { stream_id: 1 } }",
    "execute": f"request {{ request_id: 2 execute {{ stream_id: 1 stmt {{ {PB_STMT} }} }} }}",
    "batch": f"request {{ request_id: 3 batch {{ stream_id: 1 batch {{ {PB_BATCH} }} }} }}",
    "open_cursor": f"request {{ request_id: 4 open_cursor {{ stream_id: 1 cursor_id: 9 batch {{ {PB_BATCH} }} }} }}",
    "fetch_cursor": "request { request_id: 5 fetch_cursor { cursor_id: 9 max_count: 100 } }",
    "close_cursor": "request { request_id: 6 close_cursor { cursor_id: 9 } }",
    "sequence": 'request { request_id: 7 sequence { stream_id: 1 sql: "A;B" } }',
    "describe": "request { request_id: 8 describe { stream_id: 1 sql_id: 2 } }",
    "store_sql": 'request { request_id: 9 store_sql { sql_id: 2 sql: "SELECT 1" } }',
    "close_sql": "request { request_id: 10 close_sql { sql_id: 2 } }",
    "get_autocommit": "request { request_id: 11 get_autocommit { stream_id: 1 } }",
    "close_stream": "request { request_id: 12 close_stream { stream_id: 1 } }",
}

# tests/unit/auth_test.cc: headers and payloads ('S' mode: signed by the target) and raw
# Authorization values ('T' mode).
JWT_HEADER = '{"alg":"EdDSA","typ":"JWT"}'
JWT_SIGNED = {
    "rw": (JWT_HEADER, '{"a":"rw","iat":1700000000}'),
    "ro_exp": (JWT_HEADER, '{"a":"ro","exp":1700003600,"iat":1700000000}'),
    "expired": (JWT_HEADER, '{"a":"rw","exp":1600000000}'),
    "a_null": ('{"alg":"EdDSA"}', '{"a":null}'),
    "a_twice": (JWT_HEADER, '{"a":"ro","a":"rw"}'),
    "turso": (JWT_HEADER, '{"a":"rw","iat":1772781324,"id":"019cc200-1401","rid":"d8af0d17"}'),
    "id": (JWT_HEADER, '{"id":"default","a":"ro"}'),
    "p_rw": (JWT_HEADER, '{"p":{"rw":{"ns":["default"]}}}'),
    "p_ro": (JWT_HEADER, '{"p":{"ro":{"ns":["x","default"]},"roa":{"tags":["g"]}}}'),
    "p_both": (JWT_HEADER, '{"a":"rw","id":"other","p":{"ro":{"ns":["default"]},"rw":{"ns":["default"]}}}'),
    "aud": (JWT_HEADER, '{"aud":"x","a":"rw"}'),
    "kid": ('{"alg":"EdDSA","kid":"k1","x":[1]}', "{}"),
    "bad_alg": ('{"alg":"HS256","typ":"JWT"}', "{}"),
}
JWT_RAW = {
    "bearer": "Bearer eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJhIjoicnciLCJpYXQiOjE3MDAwMDAwMDB9."
              "c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXI",
    "none": "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJhIjoicncifQ.",
    "basic": "Basic dXNlcjpwYXNz",
    "basic_as_bearer": "Bearer dXNlcjpwYXNz==",
    "two_parts": "bearer a.b",
}
# tests/unit/tools_test.cc (the splitter's script) and datamove.test.mjs (a dump's shape). The first
# byte is the piece size the target feeds.
SCRIPTS = {
    "script": b"\x02" + b"-- a comment; with a semicolon\n"
              b"CREATE TABLE t(a, \"b;c\", [d;e], `f;g`);\n"
              b"INSERT INTO t VALUES('x;y', 'it''s', 'two\nlines;', X'00ff'); INSERT INTO t VALUES(1,2,3,4);\n"
              b".tables\n"
              b"/* block; comment */ CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n"
              b"  UPDATE t SET a = 1; DELETE FROM t WHERE a = 2;\nEND;\n"
              b"   ;  ;\nSELECT 1 -- trailing; comment\n;\nSELECT 'unfinished",
    "dot_after_select": b"\x02SELECT\n.5;\n.mode csv",
    "comments_only": b"\x03-- nothing\n/* at all */\n  ",
    "dump": b"\x07PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);\n"
            b"INSERT INTO t VALUES(1,'a');\nSAVEPOINT s; ROLLBACK TO s; RELEASE s;\nCOMMIT;\n",
}

# The inputs of docs/FUZZING.md's findings (minimized), so every run, the smoke included, replays them.
FINDINGS = {
    "script_splitter": {"finding2": b"\x02SELEC\x01\x00\x00\x00\x00\x00\x00\x06\x15\n;o..\n0mde 0sv"},
    "client_json": {
        "finding3_ws_response": 'ws x\n{"type":"response_ok","request_id":1,"response":5}',
        "finding3_cols": 'pipeline x\n{"results":[{"type":"ok","response":{"type":"execute","result":'
                         '{"cols":[5],"rows":[]}}}]}',
        "finding4": 'pipeline x\n{"results":[{"type":"ok","response":{"type":"execute","result":'
                    '{"cols":[{"name":"z"}],"rows":[[{"type":"float","value":0e99}]]}}}]}',
    },
    "http_json_pipeline": {
        "finding1": '{"requests":' + "[" * 200 + "]" * 200 + "}",
        "finding4": '{"requests":[{"type":"execute","stmt":{"sql":"S","args":[{"type":"float","value":0e99}]}}]}',
        "finding5": '{"requests":[{"type":"execute","stmt":{"sql":"S","args":[{"type":"float","value":'
                    + "92" + "5" * 90 + 'e+300},{"type":"float","value":2e308}]}}]}',
    },
    "http_json_cursor": {"finding4": '{"batch":{"steps":[{"stmt":{"sql":"S","args":[{"type":"float","value":0e99}]}}]}}'},
    "ws_json": {"finding1": '{"type":"hello","jwt":' + "[" * 200, "finding4": '{"type":"request","request_id":0e99}'},
    "legacy": {"finding4": '{"statements":[{"q":"S","params":[0e99, 2e308]}]}'},
}


# --- LTX files (backup/ltx.h), for the `ltx` target ---

# A real L0 file as Litestream 0.5.17's VFS wrote it (tests/unit/ltx_test.cc, kRealLtx).
REAL_LTX = bytes.fromhex(
    "4c54583100000002000010000000000200000000000000010000000000000001000001a22d02465f00000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00000001000100000081f30d53514c69746520666f726d617420330010000101004020200000000204000402005301000000"
    "040c000410000f02000dff0002002e63010d000000010fda000fda2f000d0f0200ffffffffffffffffffffffffffffff48f0"
    "17240106170f0f01397461626c65747402435245415445205441424c452074286120544558542900000002000100000041cf"
    "0d000000010fe0000fe000000200ffffffffffffffffffffffffffffffd0f0111e01024568656c6c6f2066726f6d206c6974"
    "6573747265616d20302e352e313700000000000001648b0102ef014b0000000000000000090000000000000000d1327216ce"
    "5dbf2e")


def crc64_iso(data, crc=0):
    crc ^= 0xFFFFFFFFFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xD800000000000000 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFFFFFFFFFF


def xxh32(data, seed=0):
    p1, p2, p3, p4, p5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
    m = 0xFFFFFFFF
    rotl = lambda x, r: ((x << r) | (x >> (32 - r))) & m
    assert len(data) < 16  # enough for a frame descriptor and small pages
    h = (seed + p5 + len(data)) & m
    i = 0
    while i + 4 <= len(data):
        h = (rotl((h + int.from_bytes(data[i:i + 4], "little") * p3) & m, 17) * p4) & m
        i += 4
    while i < len(data):
        h = (rotl((h + data[i] * p5) & m, 11) * p1) & m
        i += 1
    h ^= h >> 15
    h = (h * p2) & m
    h ^= h >> 13
    h = (h * p3) & m
    return h ^ (h >> 16)


def lz4_literals(data):
    """One LZ4 block of literals only (valid LZ4, no compression)."""
    n = len(data)
    out = bytearray([0xF0 if n >= 15 else n << 4])
    if n >= 15:
        rest = n - 15
        while rest >= 255:
            out.append(255)
            rest -= 255
        out.append(rest)
    return bytes(out) + data


def lz4_frame(data):
    """An LZ4 frame of one uncompressed block, no content checksum (the decoder takes any frame)."""
    desc = bytes([0x60, 0x40])  # version 1, independent blocks; 64 KiB blocks
    return (b"\x04\x22\x4d\x18" + desc + bytes([(xxh32(desc) >> 8) & 0xFF]) +
            (len(data) | 0x80000000).to_bytes(4, "little") + data + b"\x00\x00\x00\x00")


def ltx(min_txid, max_txid, commit, pages, frame=False, page_size=512):
    """An LTX file (NoChecksum) of `pages` {pgno: bytes}, in the block or the frame encoding."""
    out = bytearray(b"LTX1" + (2).to_bytes(4, "big") + page_size.to_bytes(4, "big") + commit.to_bytes(4, "big") +
                    min_txid.to_bytes(8, "big") + max_txid.to_bytes(8, "big") + (1700000000000).to_bytes(8, "big") +
                    bytes(60))
    crc = crc64_iso(out)
    index = bytearray()
    for pgno in sorted(pages):
        page = pages[pgno]
        at = len(out)
        head = pgno.to_bytes(4, "big") + ((0).to_bytes(2, "big") if frame else (1).to_bytes(2, "big"))
        body = lz4_frame(page) if frame else lz4_literals(page)
        if not frame:
            head += len(body).to_bytes(4, "big")
        crc = crc64_iso(page, crc64_iso(head, crc))
        out += head + body
        for v in (pgno, at, len(out) - at):
            while v >= 0x80:
                index.append((v & 0x7F) | 0x80)
                v >>= 7
            index.append(v)
    index.append(0)
    tail = bytes(6) + bytes(index) + len(index).to_bytes(8, "big") + bytes(8)
    crc = crc64_iso(tail, crc)
    return bytes(out) + tail + ((1 << 63) | crc).to_bytes(8, "big")


LTX = {
    "real_vfs_0.5.17": REAL_LTX,  # tests/unit/ltx_test.cc DecodesARealFileFromLitestreamsVfs
    # tests/unit/ltx_test.cc BothPageEncodingsRoundTrip: a snapshot and a later file, each encoding
    "snapshot_block": ltx(1, 1, 3, {1: b"a" * 512, 2: b"b" * 512, 3: bytes(512)}),
    "snapshot_frame": ltx(1, 1, 3, {1: b"a" * 512, 2: b"b" * 512, 3: bytes(512)}, frame=True),
    "later_block": ltx(2, 5, 9, {2: b"B" * 512, 9: b"i" * 512}),
    "later_frame": ltx(2, 5, 9, {2: b"B" * 512, 9: b"i" * 512}, frame=True),
}


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)


def protoc_encode(message, text):
    return subprocess.run(["protoc", f"--encode=litehouse.hrana.pb.{message}", f"-I{PROTO_DIR}", "hrana.proto"],
                          input=text.encode(), capture_output=True, check=True).stdout


def main():
    shutil.rmtree(CORPUS, ignore_errors=True)
    for name, req in PIPELINES.items():
        write("http_json_pipeline", name, json.dumps(req))
    for name, req in CURSORS.items():
        write("http_json_cursor", name, json.dumps(req))
    for name, msg in WS.items():
        write("ws_json", name, json.dumps(msg))
    for name, req in LEGACY.items():
        write("legacy", name, json.dumps(req))
    for name, text in CLIENT.items():
        write("client_json", name, text)
    for name, text in PB_PIPELINES.items():
        write("http_protobuf_pipeline", name, protoc_encode("PipelineReqBody", text))
    for name, text in PB_CURSORS.items():
        write("http_protobuf_cursor", name, protoc_encode("CursorReqBody", text))
    for name, text in PB_WS.items():
        write("ws_protobuf", name, protoc_encode("ClientMsg", text))
    for name, (header, payload) in JWT_SIGNED.items():
        write("jwt", "signed_" + name, "S" + header + "\n" + payload)
    for name, value in JWT_RAW.items():
        write("jwt", "raw_" + name, "T" + value)
    for name, script in SCRIPTS.items():
        write("script_splitter", name, script)
    for name, data in LTX.items():
        write("ltx", name, data)
    for target, inputs in FINDINGS.items():
        for name, data in inputs.items():
            write(target, name, data)


if __name__ == "__main__":
    main()
