// Fuzz target: what auth/ reads from a peer's Authorization header or WebSocket hello: a JWT (its
// splitting, base64url, header and payload JSON, claims), the Bearer scheme, and a basic credential.
//
// Input: a mode byte, then the rest.
//   'T' <text>                 the text as an Authorization value (BearerToken, BasicAuth::Check) and
//                              as a token (VerifyToken): forged tokens stop at the signature check;
//   'S' <header>\n<payload>    the two JSON texts signed with the target's own key (SignToken), then
//                              verified, so the claims are parsed as they are only for a genuine token.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "auth/jwt.h"
#include "fuzz_check.h"

namespace {

using namespace litehouse::auth;  // NOLINT

constexpr int64_t kNow = 1'700'000'000;  // a fixed clock: an input means the same thing on every run

struct Keys {
  PrivateKey private_key;
  KeySet public_keys;
};

const Keys& TheKeys() {
  static const Keys* keys = [] {
    auto key = PrivateKey::Generate();
    FUZZ_CHECK(key.ok());
    auto pem = key->PublicPem();
    FUZZ_CHECK(pem.ok());
    auto set = KeySet::FromPem(*pem);
    FUZZ_CHECK(set.ok());
    return new Keys{std::move(*key), std::move(*set)};
  }();
  return *keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Keys& keys = TheKeys();
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] == 'T') {
    static const auto basic = BasicAuth::Parse("basic:dXNlcjpwYXNz");
    FUZZ_CHECK(basic.ok());
    (void)basic->Check(rest);
    auto claims = VerifyToken(keys.public_keys, rest, kNow);
    // Nobody but this target holds the key: a token it did not sign must be refused.
    FUZZ_CHECK(!claims.ok());
    (void)SqldReason(claims.status());
    (void)IsForbidden(claims.status());
    if (auto token = BearerToken(rest); token.ok()) FUZZ_CHECK(!VerifyToken(keys.public_keys, *token, kNow).ok());
  } else if (data[0] == 'S') {
    size_t eol = rest.find('\n');
    if (eol == std::string_view::npos) return 0;
    auto token = SignToken(keys.private_key, rest.substr(0, eol), rest.substr(eol + 1));
    if (!token.ok()) return 0;
    auto claims = VerifyToken(keys.public_keys, *token, kNow);
    if (!claims.ok()) {
      (void)SqldReason(claims.status());
      (void)IsForbidden(claims.status());
    }
  }
  return 0;
}
