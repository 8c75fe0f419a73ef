// Base64 (RFC 4648): the standard alphabet for Hrana blobs, the URL-safe one for JWT and keys.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace litehouse {

enum class Base64Alphabet { kStandard, kUrlSafe };

// Encodes `bytes`; `pad` appends '=' to a multiple of four characters.
std::string Base64Encode(std::string_view bytes, Base64Alphabet alphabet = Base64Alphabet::kStandard, bool pad = true);
// Decodes padded or unpadded text in either alphabet; nullopt if `text` is not base64.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace litehouse
