// The one way JSON text from a peer becomes a RapidJSON document: the server's request bodies and
// WebSocket messages, the client library's responses, and JWT headers and payloads all parse here.
//
// Why not rapidjson::Document::Parse: its default reader recurses once per nesting level, so about
// 130,000 '[' overflow the stack and kill the process (before any credential is checked), and its
// iterative reader, which does not recurse, still builds whatever the text describes: one 32 MiB
// body of '[' is sixteen million nested arrays. Here the iterative reader feeds the document through
// a SAX filter that counts open arrays and objects and stops the parse the moment the count passes
// the bound, so a hostile text costs at most `max_depth` levels and one pass over its bytes.
//
// Numbers reach the document as their text (kParseNumbersAsStringsFlag) and are converted here with
// std::from_chars, because RapidJSON 1.1.0's (Debian 12's) full-precision conversion is wrong at the
// edges (docs/FUZZING.md, findings 4 and 5): "0e99" became 6.5e296, and a number past a double's
// range (2e308, 7777...7e300) became NaN, a negative or a finite number, reading past a table on the way.
//   - an integer (no '.', 'e', 'E') that fits int64 or uint64 is that integer, as RapidJSON reads it;
//   - any other number is the nearest double (correctly rounded); one too large for a double is
//     refused ("Number too big to be stored in double", as RapidJSON refuses 1e400), and one too
//     small to be told from zero is zero.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/reader.h>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

#include "common/status.h"

namespace litehouse::json {

// serde_json's recursion limit, which is what sqld parses Hrana with: a text sqld reads, we read.
inline constexpr int kMaxDepth = 128;

namespace internal {

// For a number std::from_chars found out of a double's range: whether it is too large (else too
// small). Its magnitude is past 1e308 or below 1e-323, so the sign of (the digits before the point, or
// minus the zeros after it) + the exponent tells which.
inline bool Overflows(std::string_view text) {
  size_t e = text.find_first_of("eE");
  size_t begin = text[0] == '-' ? 1 : 0;
  std::string_view significand = text.substr(begin, e == std::string_view::npos ? text.npos : e - begin);
  int64_t exponent = 0;
  if (e != std::string_view::npos) {
    std::string_view digits = text.substr(e + 1);
    bool negative = !digits.empty() && digits[0] == '-';
    if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) digits.remove_prefix(1);
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), exponent);
    if (ec == std::errc::result_out_of_range) exponent = INT64_MAX / 2;  // saturated: only the sign matters
    if (negative) exponent = -exponent;
  }
  size_t point = significand.find('.');
  std::string_view whole = significand.substr(0, point);
  size_t first = whole.find_first_not_of('0');
  int64_t magnitude = 0;
  if (first != std::string_view::npos) {
    magnitude = static_cast<int64_t>(whole.size() - first);
  } else if (point != std::string_view::npos) {
    std::string_view fraction = significand.substr(point + 1);
    size_t nonzero = fraction.find_first_not_of('0');
    magnitude = -static_cast<int64_t>(nonzero == std::string_view::npos ? fraction.size() : nonzero);
  }
  return magnitude + exponent > 0;
}

// Forwards every SAX event to `Handler`, refusing (ending the parse) when arrays and objects nest
// deeper than `max_depth`.
template <typename Handler>
class DepthLimit {
 public:
  using Ch = char;
  DepthLimit(Handler& h, int max_depth) : h_(h), max_depth_(max_depth) {}

  bool too_deep() const { return too_deep_; }
  // Whether the parse stopped at a number too large for a double.
  bool number_too_big() const { return number_too_big_; }

  bool Null() { return h_.Null(); }
  bool Bool(bool b) { return h_.Bool(b); }
  bool Int(int i) { return h_.Int(i); }
  bool Uint(unsigned u) { return h_.Uint(u); }
  bool Int64(int64_t i) { return h_.Int64(i); }
  bool Uint64(uint64_t u) { return h_.Uint64(u); }
  bool Double(double d) { return h_.Double(d); }
  // `s` is a number as JSON's grammar allows it (the reader checked): converted as the header says.
  bool RawNumber(const Ch* s, rapidjson::SizeType n, bool /*copy*/) {
    std::string_view text(s, n);
    const char* end = s + n;
    if (text.find_first_of(".eE") == std::string_view::npos) {
      if (text[0] == '-') {
        int64_t i = 0;
        if (auto [p, ec] = std::from_chars(s, end, i); ec == std::errc() && p == end) return h_.Int64(i);
      } else {
        uint64_t u = 0;
        if (auto [p, ec] = std::from_chars(s, end, u); ec == std::errc() && p == end) return h_.Uint64(u);
      }
    }
    double d = 0;
    auto [p, ec] = std::from_chars(s, end, d);
    if (ec == std::errc() && p == end) return h_.Double(d);
    if (ec == std::errc::result_out_of_range && !Overflows(text)) return h_.Double(text[0] == '-' ? -0.0 : 0.0);
    number_too_big_ = true;
    return false;
  }
  bool String(const Ch* s, rapidjson::SizeType n, bool copy) { return h_.String(s, n, copy); }
  bool Key(const Ch* s, rapidjson::SizeType n, bool copy) { return h_.Key(s, n, copy); }
  bool StartObject() { return Enter() && h_.StartObject(); }
  bool EndObject(rapidjson::SizeType n) { --depth_; return h_.EndObject(n); }
  bool StartArray() { return Enter() && h_.StartArray(); }
  bool EndArray(rapidjson::SizeType n) { --depth_; return h_.EndArray(n); }

 private:
  bool Enter() {
    if (++depth_ <= max_depth_) return true;
    too_deep_ = true;
    return false;
  }

  Handler& h_;
  const int max_depth_;
  int depth_ = 0;
  bool too_deep_ = false;
  bool number_too_big_ = false;
};

}  // namespace internal

namespace internal {

// The parse behind Parse and ParseInsitu, from `is`.
template <unsigned kFlags, typename Stream>
Status ParseFrom(Stream& is, rapidjson::Document* doc, int max_depth) {
  rapidjson::Reader reader;
  bool too_deep = false;
  bool number_too_big = false;
  auto generate = [&](rapidjson::Document& handler) {
    DepthLimit<rapidjson::Document> limited(handler, max_depth);
    reader.Parse<kFlags | rapidjson::kParseIterativeFlag | rapidjson::kParseNumbersAsStringsFlag>(is, limited);
    too_deep = limited.too_deep();
    number_too_big = limited.number_too_big();
    return !reader.HasParseError();
  };
  doc->Populate(generate);
  if (!reader.HasParseError()) return Status::OK();
  std::string why = too_deep         ? "nested deeper than " + std::to_string(max_depth) + " levels"
                    : number_too_big ? std::string(rapidjson::GetParseError_En(rapidjson::kParseErrorNumberTooBig))
                                     : std::string(rapidjson::GetParseError_En(reader.GetParseErrorCode()));
  return Status::InvalidArgument(why + " (at byte " + std::to_string(reader.GetErrorOffset()) + ")");
}

}  // namespace internal

// Parses `text` into `doc` with RapidJSON's flags `kFlags` (the iterative reader and numbers as text,
// converted as above, are always used).
// On bad JSON, or nesting deeper than `max_depth`, returns InvalidArgument whose message says why and
// at which byte ("nested deeper than 128 levels (at byte 129)"), and `doc` holds nothing useful.
template <unsigned kFlags = rapidjson::kParseDefaultFlags>
Status Parse(std::string_view text, rapidjson::Document* doc, int max_depth = kMaxDepth) {
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
  return internal::ParseFrom<kFlags>(is, doc, max_depth);
}

// As Parse, in place: `text` (`size` bytes, then a NUL) is overwritten, and `doc`'s strings point
// into it, so it must outlive them. Strings are neither copied out of the reader nor into the
// document. A text with a NUL byte of its own is parsed by Parse instead (in place, the NUL would end
// it), so both answer alike.
inline Status ParseInsitu(char* text, size_t size, rapidjson::Document* doc, int max_depth = kMaxDepth) {
  if (std::memchr(text, '\0', size) != nullptr) return Parse(std::string_view(text, size), doc, max_depth);
  rapidjson::InsituStringStream is(text);
  return internal::ParseFrom<rapidjson::kParseInsituFlag>(is, doc, max_depth);
}

}  // namespace litehouse::json
