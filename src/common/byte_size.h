// Byte sizes as people write them on a command line, as sqld reads --max-response-size:
// "1048576", "512KB", "10MB", "1GB" (powers of 1000), "64KiB", "10MiB", "1GiB" (powers of 1024),
// case-insensitive, an optional "B", no spaces required.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace litehouse {

// The number of bytes `text` names, or nullopt when it is not a size (or overflows).
std::optional<uint64_t> ParseByteSize(std::string_view text);

}  // namespace litehouse
