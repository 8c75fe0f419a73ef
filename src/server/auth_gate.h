// AuthGate: what a request may do, decided from its credentials, as sqld decides it.
//
// No key and no basic credential configured: everything is open (read-write), as sqld. Otherwise an
// HTTP request needs "Authorization: Bearer <JWT>" verified by one of the keys, or "Authorization:
// Basic <credential>" matching --http-auth; a WebSocket client sends the JWT in its hello (or
// authenticated its upgrade request with the same header). A token's `a`/`p` claims can make the
// grant read-only.
//
// Thread safety: immutable after construction; Check* may run on any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "auth/jwt.h"
#include "common/status.h"

namespace litehouse::server {

enum class Grant { kReadWrite, kReadOnly };

// Who sent a request, as far as its streams are concerned: the credential and what it grants. An
// HTTP stream is bound to the principal that opened it (StreamRegistry::Take refuses another one),
// and --max-streams-per-token counts streams per principal.
struct Principal {
  Grant grant = Grant::kReadWrite;
  // Names the credential, never holds it: "jwt:" + the SHA-256 of the whole token (so two tokens are
  // two principals, even with the same claims, and a read-only token is never the principal of a
  // read-write one), "basic" for the one --http-auth credential, "open" for every request of a
  // server without authentication.
  std::string id = "open";

  bool operator==(const Principal& o) const { return grant == o.grant && id == o.id; }
};

// A refusal: the HTTP status (401 or 403) and the message, as sqld words it.
struct AuthRefusal {
  unsigned http_status = 401;
  std::string code;     // UNAUTHORIZED or FORBIDDEN
  std::string message;  // "Unauthorized: The JWT has expired: ..."
};

class AuthGate {
 public:
  AuthGate() = default;
  AuthGate(auth::KeySet jwt_keys, std::optional<auth::BasicAuth> basic)
      : jwt_keys_(std::move(jwt_keys)), basic_(std::move(basic)) {}

  bool enabled() const { return !jwt_keys_.empty() || basic_.has_value(); }

  // From an HTTP Authorization header value (empty when the header is absent). On success (nullopt)
  // `*who` is the request's principal.
  std::optional<AuthRefusal> CheckHeader(std::string_view authorization, Principal* who) const;
  // From the JWT of a WebSocket hello (nullopt when the hello carries none).
  std::optional<AuthRefusal> CheckJwt(const std::optional<std::string>& jwt, Principal* who) const;

 private:
  std::optional<AuthRefusal> Refuse(const Status& status) const;

  auth::KeySet jwt_keys_;
  std::optional<auth::BasicAuth> basic_;
};

}  // namespace litehouse::server
