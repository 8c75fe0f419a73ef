// Fuzz target: one WebSocket text message of the JSON subprotocols (hrana1, hrana2, hrana3), as the
// server decodes it before anything else, authentication included: the first message of a
// connection is read by this decoder whoever sent it. The three versions share the decoder; which
// request types a version allows is decided after decoding (server/ws_session.cc).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/ws_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace litehouse::protocol;  // NOLINT
  std::string_view message(reinterpret_cast<const char*>(data), size);
  auto parsed = WsCodecFor(Encoding::kJson).ParseClientMsg(message);
  (void)parsed;
  return 0;
}
