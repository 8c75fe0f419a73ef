// WsCodec: Hrana over WebSocket's messages in either encoding. JSON travels in text frames,
// Protobuf in binary frames (HRANA_3_SPEC.md "Hrana over WebSocket").
//
// A message that cannot be decoded is a protocol violation: the session closes the connection
// (code 1007), so ParseClientMsg's error is a kInvalidArgument Status with the reason.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "protocol/codec.h"
#include "protocol/hrana.h"

namespace litehouse::protocol {

class WsCodec {
 public:
  virtual ~WsCodec() = default;
  virtual Result<ClientMsg> ParseClientMsg(std::string_view data) const = 0;
  virtual std::string EncodeServerMsg(const ServerMsg& msg) const = 0;
};

// A static instance per encoding, safe to share between threads.
const WsCodec& WsCodecFor(Encoding encoding);

}  // namespace litehouse::protocol
