// The one way JSON text from a peer becomes a RapidJSON document: the server's request bodies and
// WebSocket messages, the client library's responses, and JWT headers and payloads all parse here.
//
// Why not rapidjson::Document::Parse: its default reader recurses once per nesting level, so about
// 130,000 '[' overflow the stack and kill the process (before any credential is checked), and its
// iterative reader, which does not recurse, still builds whatever the text describes: one 32 MiB
// body of '[' is sixteen million nested arrays. Here the iterative reader feeds the document through
// a SAX filter that counts open arrays and objects and stops the parse the moment the count passes
// the bound, so a hostile text costs at most `max_depth` levels and one pass over its bytes.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/reader.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace litehouse::json {

// serde_json's recursion limit, which is what sqld parses Hrana with: a text sqld reads, we read.
inline constexpr int kMaxDepth = 128;

namespace internal {

// Forwards every SAX event to `Handler`, refusing (ending the parse) when arrays and objects nest
// deeper than `max_depth`.
template <typename Handler>
class DepthLimit {
 public:
  using Ch = char;
  DepthLimit(Handler& h, int max_depth) : h_(h), max_depth_(max_depth) {}

  bool too_deep() const { return too_deep_; }

  bool Null() { return h_.Null(); }
  bool Bool(bool b) { return h_.Bool(b); }
  bool Int(int i) { return h_.Int(i); }
  bool Uint(unsigned u) { return h_.Uint(u); }
  bool Int64(int64_t i) { return h_.Int64(i); }
  bool Uint64(uint64_t u) { return h_.Uint64(u); }
  bool Double(double d) { return h_.Double(d); }
  bool RawNumber(const Ch* s, rapidjson::SizeType n, bool copy) { return h_.RawNumber(s, n, copy); }
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
};

}  // namespace internal

// Parses `text` into `doc` with RapidJSON's flags `kFlags` (the iterative reader is always used).
// On bad JSON, or nesting deeper than `max_depth`, returns InvalidArgument whose message says why and
// at which byte ("nested deeper than 128 levels (at byte 129)"), and `doc` holds nothing useful.
template <unsigned kFlags = rapidjson::kParseDefaultFlags>
Status Parse(std::string_view text, rapidjson::Document* doc, int max_depth = kMaxDepth) {
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
  rapidjson::Reader reader;
  bool too_deep = false;
  auto generate = [&](rapidjson::Document& handler) {
    internal::DepthLimit<rapidjson::Document> limited(handler, max_depth);
    reader.Parse<kFlags | rapidjson::kParseIterativeFlag>(is, limited);
    too_deep = limited.too_deep();
    return !reader.HasParseError();
  };
  doc->Populate(generate);
  if (!reader.HasParseError()) return Status::OK();
  std::string why = too_deep ? "nested deeper than " + std::to_string(max_depth) + " levels"
                             : std::string(rapidjson::GetParseError_En(reader.GetParseErrorCode()));
  return Status::InvalidArgument(why + " (at byte " + std::to_string(reader.GetErrorOffset()) + ")");
}

}  // namespace litehouse::json
