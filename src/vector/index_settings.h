// A vector index's definition: libSQL's `libsql_vector_idx(column, 'key=value', ...)` options and
// the indexed column's declared type, parsed with libSQL's rules and error messages
// (vectorIndex.c: vectorIdxParseColumnType, parseVectorIdxParam; vectordiskann.c's defaults), and
// the text form in which Litehouse keeps the settings (the `settings` column of the index table,
// index_sql.h).
//
// Options (each at most once; names and enum values case-insensitive, as libSQL):
//   type=diskann                      the only kind
//   metric=cosine|l2                  cosine by default
//   compress_neighbors=float1bit|float8|float16|floatb16|float32   the edges' vector type (default:
//                                     the column's); float1bit only with cosine
//   alpha=<real>                      RobustPrune's alpha, 1.2 by default
//   search_l=<int>, insert_l=<int>    candidate list lengths, 200 and 70 by default; at most
//                                     kMaxListLength (a larger value is taken as it)
//   max_neighbors=<int>               edges per node, 3 * (floor(sqrt(dims)) + 1) by default; at
//                                     most kMaxNeighborsLimit (likewise)
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "vector/index_graph.h"

namespace litehouse::vector {

// The bounds of the options that size one walk's work and memory, and a node's row (its edge count
// is a u16: index_sql.h).
inline constexpr uint32_t kMaxListLength = 65535;
inline constexpr uint32_t kMaxNeighborsLimit = 1024;

// The element type and dimensions a declared column type names (F32_BLOB(128), FLOAT32(3), ...).
// Errors: "<reason>: <type>" without the "vector index: " prefix.
Result<std::pair<Type, uint32_t>> ParseColumnType(std::string_view declared);

// The settings from the column's declared type and the option strings. Errors are libSQL's
// ("vector index: invalid vector index parameter 'a=1': invalid parameter", ...), SQLITE_ERROR.
Result<GraphSettings> ParseIndexOptions(std::string_view column_type, const std::vector<std::string>& options);

// The settings as kept in the index table ("type=1 dims=3 metric=cosine edge_type=1 alpha=1.2
// search_l=200 insert_l=70 max_neighbors=6"), and back; Corruption when the text is not one.
std::string FormatSettings(const GraphSettings& settings);
Result<GraphSettings> ParseSettings(std::string_view text);

}  // namespace litehouse::vector
