// libSQL's scalar vector functions, registered on a SQLite connection:
//
//   vector(X), vector32(X)   X (text or a vector blob of any type) as an f32 blob
//   vector64(X) vector16(X) vectorb16(X) vector8(X) vector1bit(X)   ... as f64, f16, bf16, f8, 1-bit
//   vector_extract(X)        the text form ('[1,2,3]'; types other than f32/f64 printed through f32)
//   vector_distance_cos(X, Y), vector_distance_l2(X, Y)   a REAL, NULL when NaN
//
// A text argument is parsed as f32 (as f64 by vector64). Errors are libSQL's messages (vector.h);
// NULL and numbers are errors too ("vector: unexpected value type: got NULL, expected TEXT or BLOB"),
// as in libSQL. All are deterministic and innocuous: usable in indexes, CHECK constraints,
// generated columns, and by a connection that runs untrusted schema.
#pragma once

#include <sqlite3.h>

#include "common/status.h"

namespace litehouse::vector {

// Registers the functions on `db`; a failure leaves some registered (harmless) and is reported.
Status RegisterSqlFunctions(sqlite3* db);

}  // namespace litehouse::vector
