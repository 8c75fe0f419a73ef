// libSQL's vector functions: the cases of libSQL's own test/libsql_vector.test (inputs and expected
// outputs, byte for byte), plus the blob layout of each type, round trips, the C++ API under the SQL
// functions, and the error messages.
#include "vector/vector.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "vector/distance.h"
#include "vector/elements.h"
#include "vector/sql_functions.h"

namespace litehouse::vector {
namespace {

// One conversion of libSQL's test: vector_extract(outer(inner(V))) and hex(outer(inner(V))).
struct ConversionCase {
  const char* outer;
  const char* inner;
  const char* text;
  const char* hex;
};

class VectorSqlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(sqlite3_open(":memory:", &db_), SQLITE_OK);
    Status s = RegisterSqlFunctions(db_);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void TearDown() override { sqlite3_close(db_); }

  // The first column of the first row as text (a REAL with "%!.15g", as libSQL's Tcl tests print
  // it), "" for NULL; "ERROR: message" when the statement fails.
  std::string One(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) return "ERROR: " + std::string(sqlite3_errmsg(db_));
    std::string out;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) == SQLITE_FLOAT) {
      char buf[64];
      sqlite3_snprintf(sizeof buf, buf, "%!.15g", sqlite3_column_double(stmt, 0));
      out = buf;
    } else if (rc == SQLITE_ROW) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      out = text ? text : "";
    } else if (rc != SQLITE_DONE) {
      out = "ERROR: " + std::string(sqlite3_errmsg(db_));
    }
    sqlite3_finalize(stmt);
    return out;
  }
  std::string Error(const std::string& sql) {
    std::string r = One(sql);
    return r.rfind("ERROR: ", 0) == 0 ? r.substr(7) : "(no error: " + r + ")";
  }
  void CheckConversions(const std::string& input, const std::vector<ConversionCase>& cases) {
    for (const ConversionCase& c : cases) {
      const std::string expr = std::string(c.outer) + "(" + c.inner + "('" + input + "'))";
      EXPECT_EQ(One("SELECT vector_extract(" + expr + ")"), c.text) << expr;
      EXPECT_EQ(One("SELECT hex(" + expr + ")"), c.hex) << expr;
    }
  }
  void Exec(const std::string& sql) {
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  }

  sqlite3* db_ = nullptr;
};

// --- libsql_vector.test ---------------------------------------------------------------------------

TEST_F(VectorSqlTest, LibsqlFuncValid) {
  const std::pair<const char*, const char*> cases[] = {
      {"SELECT vector_extract(vector('[]'))", "[]"},
      {"SELECT vector_extract(vector(x''))", "[]"},
      {"SELECT vector_extract(vector('  [  1  ,  2  ,  3  ]  '))", "[1,2,3]"},
      {"SELECT vector_extract(vector('[-1000000000000000000]'))", "[-1e+18]"},
      {"SELECT hex(vector('[1.10101010101010101010101010]'))", "E6ED8C3F"},
      {"SELECT hex(vector32('[1.10101010101010101010101010]'))", "E6ED8C3F"},
      {"SELECT hex(vector64('[1.10101010101010101010101010]'))", "F37686C4BC9DF13F02"},
      {"SELECT vector_extract(x'E6ED8C3F')", "[1.10101]"},
      {"SELECT vector_extract(x'F37686C4BC9DF13F02')", "[1.10101]"},
      {"SELECT vector_extract(vector(x'F37686C4BC9DF13F01'))", "[-1075.72,1.88763]"},
      {"SELECT vector_distance_cos('[1,1]', '[1,1]')", "0.0"},
      {"SELECT vector_distance_cos('[1,1]', '[-1,-1]')", "2.0"},
      {"SELECT vector_distance_cos('[1,1]', '[-1,1]')", "1.0"},
      {"SELECT vector_distance_cos('[1,2]', '[2,1]')", "0.200000002980232"},
      {"SELECT vector_distance_cos(vector1bit('[10,-10]'), vector1bit('[-5,4]'))", "2.0"},
      {"SELECT vector_distance_cos(vector1bit('[10,-10]'), vector1bit('[20,4]'))", "1.0"},
      {"SELECT vector_distance_cos(vector1bit('[10,-10]'), vector1bit('[20,-2]'))", "0.0"},
      {"SELECT vector_distance_cos(vector8('[10,-10]'), vector8('[10,-10]'))", "-6.10352568486405e-09"},
      {"SELECT vector_distance_cos(vector16('[10,-10]'), vector16('[10,-10]'))", "0.0"},
      {"SELECT vector_distance_cos(vectorb16('[10,-10]'), vectorb16('[10,-10]'))", "0.0"},
      {"SELECT vector_distance_cos(vector32('[10,-10]'), vector32('[10,-10]'))", "0.0"},
      {"SELECT vector_distance_cos(vector8('[-21,-31,0,2,2.1,2.2,105]'), vector8('[-20,-30,0,1,1.1,1.2,100]'))",
       "0.000111237335659098"},
      {"SELECT vector_distance_cos(vector16('[-21,-31,0,2,2.1,2.2,105]'), vector16('[-20,-30,0,1,1.1,1.2,100]'))",
       "0.000117182018584572"},
      {"SELECT vector_distance_cos(vectorb16('[-21,-31,0,2,2.1,2.2,105]'), vectorb16('[-20,-30,0,1,1.1,1.2,100]'))",
       "0.000116735325718764"},
      {"SELECT vector_distance_cos(vector32('[-21,-31,0,2,2.1,2.2,105]'), vector32('[-20,-30,0,1,1.1,1.2,100]'))",
       "0.000117244853754528"},
      {"SELECT vector_distance_cos(vector8('[-20,-30,0,1,1.1,1.2,100]'), vector8('[-20,-30,0,1,1.1,1.2,10000]'))",
       "0.0576796568930149"},
      {"SELECT vector_distance_cos(vector16('[-20,-30,0,1,1.1,1.2,100]'), vector16('[-20,-30,0,1,1.1,1.2,10000]'))",
       "0.0582110174000263"},
      {"SELECT vector_distance_cos(vectorb16('[-20,-30,0,1,1.1,1.2,100]'), vectorb16('[-20,-30,0,1,1.1,1.2,10000]'))",
       "0.0582080148160458"},
      {"SELECT vector_distance_cos(vector32('[-20,-30,0,1,1.1,1.2,100]'), vector32('[-20,-30,0,1,1.1,1.2,10000]'))",
       "0.0582110174000263"},
      {"SELECT vector_distance_cos(vector8('[-1000000,1000000]'), vector8('[1000000,-1000000]'))", "2.0"},
      {"SELECT vector_distance_cos(vector16('[-1000000,1000000]'), vector16('[1000000,-1000000]'))", ""},  // NaN: NULL
      {"SELECT vector_distance_cos(vectorb16('[-1000000,1000000]'), vectorb16('[1000000,-1000000]'))", "2.0"},
      {"SELECT vector_distance_cos(vector32('[-1000000,1000000]'), vector32('[1000000,-1000000]'))", "2.0"},
      {"SELECT vector_distance_l2(vector('[1,2,2,3,4,1,5]'), vector('[2,3,1,-1,2,4,5]'))", "5.65685415267944"},
      {"SELECT vector_distance_l2(vector8('[1,2,2,3,4,1,5]'), vector8('[2,3,1,-1,2,4,5]'))", "5.65413522720337"},
      {"SELECT vector_distance_l2(vector16('[1,2,2,3,4,1,5]'), vector16('[2,3,1,-1,2,4,5]'))", "5.65685415267944"},
      {"SELECT vector_distance_l2(vectorb16('[1,2,2,3,4,1,5]'), vectorb16('[2,3,1,-1,2,4,5]'))", "5.65685415267944"},
      // vector-1-conversion-simple
      {"SELECT hex(vector32('[]'))", ""},
      {"SELECT hex(vector64(vector32('[]')))", "02"},
  };
  for (const auto& [sql, expected] : cases) EXPECT_EQ(One(sql), expected) << sql;
}

TEST_F(VectorSqlTest, LibsqlConversionToF32AndF64) {
  const std::string input = "[-0.000001,1e-100,1e100,-1e10,1e-10,0,1.5]";
  CheckConversions(input, {
      {"vector32", "vector1bit", "[-1,-1,1,-1,1,-1,1]", "000080BF000080BF0000803F000080BF0000803F000080BF0000803F"},
      {"vector32", "vector32", "[-1e-06,0,Inf,-1e+10,1e-10,0,1.5]", "BD3786B5000000000000807FF90215D0FFE6DB2E000000000000C03F"},
      {"vector32", "vector64", "[-1e-06,0,Inf,-1e+10,1e-10,0,1.5]", "BD3786B5000000000000807FF90215D0FFE6DB2E000000000000C03F"},
      {"vector32", "vector16", "[-1.01328e-06,0,Inf,-Inf,0,0,1.5]", "000088B5000000000000807F000080FF00000000000000000000C03F"},
      {"vector32", "vectorb16", "[-9.98378e-07,0,Inf,-9.99922e+09,9.95897e-11,0,1.5]", "000086B5000000000000807F000015D00000DB2E000000000000C03F"},
      {"vector64", "vector1bit", "[-1,-1,1,-1,1,-1,1]", "000000000000F0BF000000000000F0BF000000000000F03F000000000000F0BF000000000000F03F000000000000F0BF000000000000F03F02"},
      {"vector64", "vector32", "[-1e-06,0,Inf,-1e+10,1e-10,0,1.5]", "000000A0F7C6B0BE0000000000000000000000000000F07F000000205FA002C2000000E0DF7CDB3D0000000000000000000000000000F83F02"},
      {"vector64", "vector64", "[-1e-06,1e-100,1e+100,-1e+10,1e-10,0,1.5]", "8DEDB5A0F7C6B0BE30058EE42EFF2B2B7DC39425AD49B254000000205FA002C2BBBDD7D9DF7CDB3D0000000000000000000000000000F83F02"},
      {"vector64", "vector16", "[-1.01328e-06,0,Inf,-Inf,0,0,1.5]", "000000000000B1BE0000000000000000000000000000F07F000000000000F0FF00000000000000000000000000000000000000000000F83F02"},
      {"vector64", "vectorb16", "[-9.98378e-07,0,Inf,-9.99922e+09,9.95897e-11,0,1.5]", "0000000000C0B0BE0000000000000000000000000000F07F0000000000A002C2000000000060DB3D0000000000000000000000000000F83F02"},
      {"vector1bit", "vector1bit", "[-1,-1,1,-1,1,-1,1]", "540903"},
      {"vector1bit", "vector32", "[-1,-1,1,-1,1,-1,1]", "540903"},
      {"vector1bit", "vector64", "[-1,1,1,-1,1,-1,1]", "560903"},
      {"vector1bit", "vector16", "[-1,-1,1,-1,-1,-1,1]", "440903"},
      {"vector1bit", "vectorb16", "[-1,-1,1,-1,1,-1,1]", "540903"},
  });
}

TEST_F(VectorSqlTest, LibsqlConversionToF16) {
  const std::string input = "[-20,-35.44,1,1.5,2,3,10,100,105,110]";
  CheckConversions(input, {
      {"vector16", "vector1bit", "[-1,-1,1,1,1,1,1,1,1,1]", "00BC00BC003C003C003C003C003C003C003C003C05"},
      {"vector16", "vector32", "[-20,-35.4375,1,1.5,2,3,10,100,105,110]", "00CD6ED0003C003E00400042004940569056E05605"},
      {"vector16", "vector64", "[-20,-35.4375,1,1.5,2,3,10,100,105,110]", "00CD6ED0003C003E00400042004940569056E05605"},
      {"vector16", "vector16", "[-20,-35.4375,1,1.5,2,3,10,100,105,110]", "00CD6ED0003C003E00400042004940569056E05605"},
      {"vector16", "vectorb16", "[-20,-35.25,1,1.5,2,3,10,100,105,110]", "00CD68D0003C003E00400042004940569056E05605"},
  });
}

TEST_F(VectorSqlTest, LibsqlConversionF8) {
  const std::string input = "[-20,-35.44,1,1.5,2,3,10,100,105,110]";
  const char* f8_text = "[-20.0405,-35.44,1.06259,1.63295,2.2033,2.77365,10.1882,99.7337,104.867,110]";
  const char* f8_hex = "1B004041424350EDF6FF0000A702123F8FC20DC2000204";
  CheckConversions(input, {
      {"vector8", "vector8", f8_text, f8_hex},
      {"vector8", "vector1bit", "[-1,-1,1,1,1,1,1,1,1,1]", "0000FFFFFFFFFFFFFFFF00008180003C000080BF000204"},
      {"vector8", "vector32", f8_text, f8_hex},
      {"vector8", "vector64", f8_text, f8_hex},
      {"vector8", "vector16", "[-20.0382,-35.4375,1.06446,1.6348,2.20515,2.77549,10.1899,99.7338,104.867,110]",
       "1B004041424350EDF6FF00000202123F00C00DC2000204"},
      {"vector8", "vectorb16", "[-19.8706,-35.25,1.2049,1.77451,1.77451,2.91373,9.74902,99.7471,104.874,110]",
       "1B00404141434FEDF6FF0000D2D1113F00000DC2000204"},
      {"vector1bit", "vector8", "[-1,-1,1,1,1,1,1,1,1,1]", "FC03001603"},
      {"vector32", "vector8", f8_text,
       "E152A0C18FC20DC20003883F6004D13FD0020D408083314008032341A277C742D0BBD1420000DC42"},
      {"vector64", "vector8", f8_text,
       "000000205C0A34C0000000E051B841C0000000006000F13F000000008C20FA3F000000005AA001400000000070300640000000006160244000000040F4EE5840000000007A375A400000000000805B4002"},
      {"vector16", "vector8", "[-20.0469,-35.4375,1.0625,1.63281,2.20313,2.77344,10.1875,99.75,104.875,110]",
       "03CD6ED0403C883E68408C4118493C568E56E05605"},
      {"vectorb16", "vector8", "[-20,-35.25,1.0625,1.63281,2.20313,2.76563,10.1875,99.5,104.5,110]",
       "A0C10DC2883FD13F0D4031402341C742D142DC4206"},
  });
}

TEST_F(VectorSqlTest, LibsqlFuncErrors) {
  const std::pair<const char*, const char*> cases[] = {
      {"SELECT vector(1.2)", "vector: unexpected value type: got FLOAT, expected TEXT or BLOB"},
      {"SELECT vector(10)", "vector: unexpected value type: got INTEGER, expected TEXT or BLOB"},
      {"SELECT vector(NULL)", "vector: unexpected value type: got NULL, expected TEXT or BLOB"},
      {"SELECT vector('')", "vector: must start with '['"},
      {"SELECT vector('test')", "vector: must start with '['"},
      {"SELECT vector('[1]]')", "vector: non-space symbols after closing ']' are forbidden"},
      {"SELECT vector('[[1]')", "vector: invalid float at position 0: '[1'"},
      {"SELECT vector('[1, 2, 1.1.1, 4]')", "vector: invalid float at position 2: '1.1.1'"},
      {"SELECT vector('[1.2')", "vector: must end with ']'"},
      {"SELECT vector(x'0000000000')", "vector: unexpected binary type: 0"},
      {"SELECT vector_distance_cos('[1,2,3]', '[1,2]')", "vector_distance: vectors must have the same length: 3 != 2"},
      {"SELECT vector_distance_cos(vector32('[1,2,3]'), vector64('[1,2,3]'))",
       "vector_distance: vectors must have the same type: 1 != 2"},
      {"SELECT vector_distance_l2(vector1bit('[1,2,2,3,4,1,5]'), vector1bit('[2,3,1,-1,2,4,5]'))",
       "vector_distance: l2 distance is not supported for float1bit vectors"},
  };
  for (const auto& [sql, expected] : cases) EXPECT_EQ(Error(sql), expected) << sql;
}

// --- Beyond libSQL's test file (each checked against the libsql npm package's engine) ---------------

TEST_F(VectorSqlTest, EachTypesBlobLayout) {
  EXPECT_EQ(One("SELECT hex(vector32('[1,2]'))"), "0000803F00000040");
  EXPECT_EQ(One("SELECT hex(vector64('[1,2]'))"), "000000000000F03F000000000000004002");
  EXPECT_EQ(One("SELECT hex(vector16('[1,2]'))"), "003C004005");
  EXPECT_EQ(One("SELECT hex(vectorb16('[1,2]'))"), "803F004006");
  // f8: data, padding to 4, alpha, shift, 00, padding count, 04.
  EXPECT_EQ(One("SELECT hex(vector8('[1,2,3]'))"), "007FFF008180003C0000803F000104");
  // (libSQL leaves the 3 padding bytes uninitialized: "00407FBFFF7F0000..." from its npm engine.)
  EXPECT_EQ(One("SELECT hex(vector8('[1,2,3,4,5]'))"), "00407FBFFF0000008180803C0000803F000304");
  // 1-bit: bits, a pad byte when the data is even, the trailing-bits count, 03.
  EXPECT_EQ(One("SELECT hex(vector1bit('[1,-1,1]'))"), "050D03");
  EXPECT_EQ(One("SELECT hex(vector1bit('[1,1,1,1,1,1,1,1,-1,1]'))"), "FF02001603");
  // The empty vector of each type.
  EXPECT_EQ(One("SELECT typeof(vector32('[]')) || length(vector32('[]'))"), "blob0");
  EXPECT_EQ(One("SELECT hex(vector64('[]'))"), "02");
  EXPECT_EQ(One("SELECT hex(vector16('[]'))"), "05");
  EXPECT_EQ(One("SELECT hex(vectorb16('[]'))"), "06");
  EXPECT_EQ(One("SELECT hex(vector1bit('[]'))"), "001003");
  EXPECT_EQ(One("SELECT hex(vector8('[]'))"), "0000000000000000000004");
  // An f32 blob with its optional type byte reads as the same vector; re-encoded without it.
  EXPECT_EQ(One("SELECT hex(vector32(x'0000803F01'))"), "0000803F");
}

TEST_F(VectorSqlTest, TextSyntaxIsSqlitesRealNumbers) {
  EXPECT_EQ(One("SELECT vector_extract(vector('[+1, .5, 5., 1e5, -0, 1E-2]'))"), "[1,0.5,5,100000,0,0.01]");
  EXPECT_EQ(One("SELECT vector_extract(vector('[ 1 2 ,3]'))"), "[12,3]");  // spaces vanish, even inside a number
  EXPECT_EQ(One("SELECT vector_extract(vector64('[1e400, 0.1, 1e-400]'))"), "[Inf,0.1,0]");
  EXPECT_EQ(One("SELECT hex(vector64('[0.1,0.30000000000000004,4.9e-324]'))"),
            "9A9999999999B93F343333333333D33F010000000000000002");
  EXPECT_EQ(Error("SELECT vector('[nan]')"), "vector: invalid float at position 0: 'nan'");
  EXPECT_EQ(Error("SELECT vector('[1e]')"), "vector: invalid float at position 0: '1e'");
  EXPECT_EQ(Error("SELECT vector('[0x10]')"), "vector: invalid float at position 0: '0x10'");
  EXPECT_EQ(Error("SELECT vector('[1,,2]')"), "vector: invalid float at position 1: ''");
  EXPECT_EQ(Error("SELECT vector('[1,2,]')"), "vector: invalid float at position 2: ''");
  EXPECT_EQ(Error("SELECT vector('[.]')"), "vector: invalid float at position 0: '.'");
  EXPECT_EQ(Error("SELECT vector('[1] x')"), "vector: non-space symbols after closing ']' are forbidden");
  EXPECT_EQ(Error("SELECT vector('[' || printf('%.*c', 1026, '1') || ']')"),
            "vector: float string length exceeded 1024 characters: '" + std::string(1025, '1') + "'");
}

TEST_F(VectorSqlTest, AtMost65536Dimensions) {
  EXPECT_EQ(One("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 65536) "
                "SELECT length(vector32('[' || group_concat('1', ',') || ']')) FROM n"),
            std::to_string(65536 * 4));
  EXPECT_EQ(Error("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 65537) "
                  "SELECT vector32('[' || group_concat('1', ',') || ']') FROM n"),
            "vector: max size exceeded 65536");
  EXPECT_EQ(Error("SELECT vector_extract(zeroblob(4 * 65537))"), "vector: max size exceeded: 65537 > 65536");
  EXPECT_EQ(Error("SELECT vector_distance_cos(zeroblob(4 * 65537), zeroblob(4 * 65537))"),
            "vector: max size exceeded: 65537 > 65536");
}

TEST_F(VectorSqlTest, MalformedBlobsAreErrors) {
  EXPECT_EQ(One("SELECT vector_extract(x'00000001')"), "[2.35099e-38]");
  EXPECT_EQ(Error("SELECT vector_extract(x'00000000000001')"),
            "vector: float32 vector blob length must be divisible by 4 (excluding optional 'type'-byte): length=6");
  EXPECT_EQ(Error("SELECT vector_extract(x'00000000000002')"),
            "vector: float64 vector blob length must be divisible by 8 (excluding 'type'-byte): length=6");
  EXPECT_EQ(Error("SELECT vector_extract(x'03')"),
            "vector: float1bit vector blob length must be divisible by 2 and not be empty (excluding 'type'-byte): length=0");
  EXPECT_EQ(Error("SELECT vector_extract(x'04')"),
            "vector: float8 vector blob length must be divisible by 2 and has at least 2 bytes (excluding 'type'-byte): length=0");
  EXPECT_EQ(Error("SELECT vector_extract(x'07')"), "vector: unexpected binary type: 7");
  EXPECT_EQ(Error("SELECT vector_extract(x'01020304050607')"), "vector: unexpected binary type: 7");
  // An even length that is not a multiple of 4 is an f32 blob with a stray tail (libSQL's vector()
  // says so; its vector_extract reads uninitialized memory instead: here it is the same error).
  EXPECT_EQ(Error("SELECT vector32(x'0102')"), "vector: unexpected data part size: type=1, dims=0, 2 != 0");
  EXPECT_EQ(Error("SELECT vector_extract(x'0102')"), "vector: unexpected data part size: type=1, dims=0, 2 != 0");
  // An f8 blob whose padding count disagrees with its length.
  EXPECT_EQ(Error("SELECT vector_extract(x'00000000000000000000000104')"),
            "vector: unexpected data part size: type=4, dims=1, 10 != 12");
  // Counts that leave fewer than no elements (libSQL answers "out of memory").
  EXPECT_EQ(Error("SELECT vector_extract(x'00000000000000000000000504')"), "vector: malformed blob: type=4, dims=-3");
  EXPECT_EQ(Error("SELECT vector_extract(x'00ff03')"), "vector: malformed blob: type=3, dims=-239");
}

TEST_F(VectorSqlTest, DistancesCheckTypesAndLengthsBeforeParsing) {
  // libSQL estimates a text's length (commas + 1) before it parses it, and reports a mismatch first.
  EXPECT_EQ(Error("SELECT vector_distance_cos('[1,a]', '[1]')"), "vector_distance: vectors must have the same length: 2 != 1");
  EXPECT_EQ(Error("SELECT vector_distance_cos('[1,a]', '[1,2]')"), "vector: invalid float at position 1: 'a'");
  EXPECT_EQ(Error("SELECT vector_distance_l2('[1]', vector64('[1]'))"), "vector_distance: vectors must have the same type: 1 != 2");
  EXPECT_EQ(Error("SELECT vector_distance_l2(NULL, '[1]')"), "vector: unexpected value type: got NULL, expected TEXT or BLOB");
  EXPECT_EQ(Error("SELECT vector_distance_l2('[1]', 3)"), "vector: unexpected value type: got INTEGER, expected TEXT or BLOB");
  EXPECT_EQ(One("SELECT vector_distance_l2('[0,0]', '[3,4]')"), "5.0");
  EXPECT_EQ(One("SELECT vector_distance_l2(vector64('[0,0]'), vector64('[3,4]'))"), "5.0");
  EXPECT_EQ(One("SELECT vector_distance_cos('[0,0]', '[3,4]')"), "");  // 0/0: NaN, which SQLite makes NULL
  EXPECT_EQ(One("SELECT vector_distance_cos(vector1bit('[1,1,1,1,1,1,1,1,1]'), vector1bit('[-1,-1,-1,-1,-1,-1,-1,-1,-1]'))"),
            "9.0");
  EXPECT_EQ(Error("SELECT vector_distance_cos('[1]')"), "wrong number of arguments to function vector_distance_cos()");
}

TEST_F(VectorSqlTest, UsableInSchemaAndExactSearch) {
  // Deterministic and innocuous: a CHECK, a generated column and an expression index may use them.
  Exec("CREATE TABLE docs (id INTEGER PRIMARY KEY, emb F32_BLOB(3) CHECK (emb IS NULL OR length(vector_extract(emb)) > 0),"
       " norm REAL GENERATED ALWAYS AS (vector_distance_l2(emb, vector32('[0,0,0]'))) VIRTUAL)");
  Exec("CREATE INDEX docs_norm ON docs (vector_distance_l2(emb, vector32('[0,0,0]')))");
  Exec("INSERT INTO docs (id, emb) VALUES (1, vector32('[1,0,0]')), (2, vector32('[0,1,0]')), (3, vector32('[0.9,0.1,0]')),"
       " (4, vector32('[-1,0,0]'))");
  EXPECT_EQ(One("SELECT group_concat(id) FROM (SELECT id FROM docs ORDER BY vector_distance_cos(emb, vector32('[1,0.05,0]')) LIMIT 3)"),
            "1,3,2");
  EXPECT_EQ(One("SELECT norm FROM docs WHERE id = 4"), "1.0");
  // The generated column is computed first: libSQL estimates 'text' at 0 elements before parsing it.
  EXPECT_EQ(Error("INSERT INTO docs (id, emb) VALUES (6, 'text')"),
            "vector_distance: vectors must have the same length: 0 != 3");
  // F32_BLOB(2) is only a declared type, as in libSQL: BLOB affinity (FLOAT32(2): REAL), nothing
  // checked on insert.
  Exec("CREATE TABLE loose (v F32_BLOB(2), w FLOAT32(2))");
  Exec("INSERT INTO loose VALUES ('[1,2]', '3'), (x'00', vector32('[1,2,3]'))");
  EXPECT_EQ(One("SELECT group_concat(typeof(v) || ',' || typeof(w), ';') FROM loose"), "text,real;blob,blob");
}

// --- The C++ API -----------------------------------------------------------------------------------

Vector RandomVector(Type type, uint32_t dims, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  Vector f32(Type::kFloat32, dims);
  for (uint32_t i = 0; i < dims; ++i) StoreF32(f32.data() + 4 * i, normal(rng));
  return Convert(f32.ref(), type);
}

TEST(VectorApi, EveryTypeRoundTripsThroughItsBlob) {
  std::mt19937 rng(42);
  for (Type type : {Type::kFloat32, Type::kFloat64, Type::kFloat16, Type::kFloatB16, Type::kFloat8, Type::kFloat1Bit}) {
    for (uint32_t dims : {0u, 1u, 3u, 4u, 7u, 8u, 9u, 16u, 17u, 128u, 1000u}) {
      Vector v = RandomVector(type, dims, rng);
      std::vector<uint8_t> blob = EncodeBlob(v.ref());
      auto decoded = DecodeBlob(blob);
      ASSERT_TRUE(decoded.ok()) << decoded.status().ToString() << " type " << int(type) << " dims " << dims;
      EXPECT_EQ(decoded->type, type);
      EXPECT_EQ(decoded->dims, dims);
      EXPECT_EQ(EncodeBlob(*decoded), blob);
      EXPECT_EQ(blob.size() % 2, type == Type::kFloat32 ? 0u : 1u) << "only f32 blobs have an even length";
      // The text form of f32 and f64 vectors reads back to the same vector (to the printed precision).
      auto text = ParseText(FormatText(v.ref()), Type::kFloat32);
      ASSERT_TRUE(text.ok());
      EXPECT_EQ(text->dims(), dims);
    }
  }
}

TEST(VectorApi, DistancesOfEveryTypeAgreeWithF32) {
  std::mt19937 rng(7);
  Vector a = RandomVector(Type::kFloat32, 128, rng), b = RandomVector(Type::kFloat32, 128, rng);
  const float cos32 = DistanceCos(a.ref(), b.ref()), l2_32 = DistanceL2(a.ref(), b.ref());
  EXPECT_NEAR(DistanceCos(a.ref(), a.ref()), 0.0, 1e-6);
  for (Type type : {Type::kFloat64, Type::kFloat16, Type::kFloatB16, Type::kFloat8}) {
    Vector x = Convert(a.ref(), type), y = Convert(b.ref(), type);
    EXPECT_NEAR(DistanceCos(x.ref(), y.ref()), cos32, 0.02) << int(type);
    EXPECT_NEAR(DistanceL2(x.ref(), y.ref()), l2_32, 0.05 * l2_32) << int(type);
  }
  // The Hamming distance counts the elements whose signs differ.
  int differing = 0;
  for (uint32_t i = 0; i < 128; ++i) differing += (a.ref().ElementF32(i) > 0) != (b.ref().ElementF32(i) > 0);
  Vector x = Convert(a.ref(), Type::kFloat1Bit), y = Convert(b.ref(), Type::kFloat1Bit);
  EXPECT_EQ(DistanceCos(x.ref(), y.ref()), static_cast<float>(differing));
  // The kernels take any alignment.
  std::vector<uint8_t> shifted(1 + 4 * 128);
  std::memcpy(shifted.data() + 1, a.data(), 4 * 128);
  EXPECT_EQ(CosF32(std::span(shifted).subspan(1), std::span(b.data(), 4 * 128), 128), cos32);
}

TEST(VectorApi, HalfPrecisionConversionsAreLibsqls) {
  // Every f16 value survives f16 -> float -> f16 (NaNs become the quiet NaN).
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint16_t bits = static_cast<uint16_t>(h);
    const bool nan = (bits & 0x7c00) == 0x7c00 && (bits & 0x3ff) != 0;
    EXPECT_EQ(FloatToF16(F16ToFloat(bits)), nan ? static_cast<uint16_t>((bits & 0x8000) | 0x7e00) : bits) << h;
  }
  EXPECT_EQ(FloatToF16(65520.0f), 0x7c00);   // rounds up past the largest f16: infinity
  EXPECT_EQ(FloatToF16(65519.0f), 0x7bff);
  EXPECT_EQ(FloatToF16(1e10f), 0x7c00);
  EXPECT_EQ(FloatToF16(-1e-10f), 0x8000);
  EXPECT_EQ(FloatToF16(5.960464477539063e-08f), 0x0001);  // the smallest subnormal
  EXPECT_EQ(FloatToF16(1.0f + 1.0f / 2048), 0x3c00);       // a tie rounds to even
  EXPECT_EQ(FloatToF16(1.0f + 3.0f / 2048), 0x3c02);
  EXPECT_EQ(FloatToBF16(1.00390625f), 0x3f80);             // bf16 truncates
  EXPECT_EQ(BF16ToFloat(0x3f80), 1.0f);
}

TEST(VectorApi, ParseErrorsAreStatuses) {
  auto bad = ParseText("[1,x]", Type::kFloat32);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().IsInvalidArgument());
  EXPECT_EQ(bad.status().message(), "vector: invalid float at position 1: 'x'");
  EXPECT_EQ(EstimateTextDims("[1, 2, 3]"), 3);
  EXPECT_EQ(EstimateTextDims("[]"), 0);
}

}  // namespace
}  // namespace litehouse::vector
