// Fuzz target: one WebSocket binary message of the hrana3-protobuf subprotocol (a ClientMsg), as the
// server decodes it, before authentication as for the JSON subprotocols.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/ws_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace litehouse::protocol;  // NOLINT
  std::string_view message(reinterpret_cast<const char*>(data), size);
  auto parsed = WsCodecFor(Encoding::kProtobuf).ParseClientMsg(message);
  (void)parsed;
  return 0;
}
