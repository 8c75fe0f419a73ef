// Fuzz target: the body of the legacy API (POST / with {"statements": [...]}), as the server decodes it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/json_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace litehouse::protocol;  // NOLINT
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto parsed = json::ParseLegacyRequest(body);
  (void)parsed;
  return 0;
}
