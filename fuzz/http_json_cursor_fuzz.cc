// Fuzz target: the body of POST /v3/cursor (Hrana JSON over HTTP), as the server decodes it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace litehouse::protocol;  // NOLINT
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto parsed = CodecFor(Encoding::kJson).ParseCursorRequest(body);
  (void)parsed;
  return 0;
}
