// SQL tokens, as SQLite's tokenizer cuts text, as far as the engine's own recognisers need them
// (libSQL's statements that stock SQLite cannot parse: alter_column.h, libsql_schema.h): spaces and
// comments, identifiers (bare, "quoted", `quoted`, [quoted]), 'strings', numbers, and one-byte
// punctuation. Not a parser: what a token means is the caller's business.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/strings.h"

namespace litehouse::engine::sql {

enum class Kind { kSpace, kComment, kIdent, kQuoted, kString, kNumber, kPunct };

struct Token {
  Kind kind;
  size_t begin, end;  // bytes of the text
};

// The token at `pos` (< s.size()). An unterminated quote or comment runs to the end of the text.
Token Next(std::string_view s, size_t pos);
// The significant tokens of `s` (no spaces, no comments), in order.
std::vector<Token> Tokens(std::string_view s);

inline std::string_view Text(std::string_view s, const Token& t) { return s.substr(t.begin, t.end - t.begin); }
inline bool IsKeyword(std::string_view s, const Token& t, const char* word) {
  return t.kind == Kind::kIdent && EqualsIgnoreCase(Text(s, t), word);
}
// A token that SQLite takes as a name: an identifier, quoted or not, or a string in its place.
inline bool IsName(const Token& t) { return t.kind == Kind::kIdent || t.kind == Kind::kQuoted || t.kind == Kind::kString; }
inline bool IsPunct(std::string_view s, const Token& t, char c) { return t.kind == Kind::kPunct && s[t.begin] == c; }
// The first token of `s` past spaces and comments, if it is a bare word (a statement's keyword):
// the engine's recognisers look at it before tokenizing the rest. Empty otherwise.
std::string_view FirstWord(std::string_view s);
// A name token's text without its quotes ("a""b" -> a"b).
std::string Dequote(std::string_view text);

}  // namespace litehouse::engine::sql
