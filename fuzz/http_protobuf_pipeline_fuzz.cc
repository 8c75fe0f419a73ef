// Fuzz target: the body of POST /v3-protobuf/pipeline (Hrana Protobuf over HTTP), as the server
// decodes it (protobuf's parser, then our conversion of the messages into hrana.h requests).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace litehouse::protocol;  // NOLINT
  std::string_view body(reinterpret_cast<const char*>(data), size);
  auto parsed = CodecFor(Encoding::kProtobuf).ParsePipelineRequest(body);
  (void)parsed;
  return 0;
}
