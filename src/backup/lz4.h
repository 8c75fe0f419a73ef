// LZ4 frames (the LZ4 frame format, https://github.com/lz4/lz4/blob/dev/doc/lz4_Frame_format.md),
// as Litestream 0.3 writes each snapshot and WAL segment: one frame per file. liblz4's defaults
// (64 KiB linked blocks, content checksum) are what we write; every standard frame is read.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace litehouse::backup {

std::string Lz4Compress(std::string_view data);

// Bytes in a buffer that is never zeroed first: a restore's segments go straight to a file, and
// zero-filling fresh pages only to overwrite them cost it a third of its time.
struct Bytes {
  std::unique_ptr<char[]> data;
  size_t size = 0;
  std::string_view view() const { return {data.get(), size}; }
};

// The frame's content; an error for anything that is not one whole, valid LZ4 frame.
Result<Bytes> Lz4DecompressBytes(std::string_view frame);
Result<std::string> Lz4Decompress(std::string_view frame);

}  // namespace litehouse::backup
