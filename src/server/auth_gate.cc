#include "server/auth_gate.h"

#include <ctime>

namespace litehouse::server {

std::optional<AuthRefusal> AuthGate::Refuse(const Status& status) const {
  bool forbidden = auth::IsForbidden(status);
  return AuthRefusal{forbidden ? 403u : 401u, forbidden ? "FORBIDDEN" : "UNAUTHORIZED",
                     (forbidden ? "Forbidden: " : "Unauthorized: ") + status.message()};
}

std::optional<AuthRefusal> AuthGate::CheckHeader(std::string_view authorization, Principal* who) const {
  *who = Principal{};
  if (!enabled()) return std::nullopt;
  if (authorization.empty()) {
    return AuthRefusal{401, "UNAUTHORIZED", "Unauthorized: authentication is required (Authorization: Bearer <JWT>)"};
  }
  if (basic_ && basic_->Check(authorization)) {
    who->id = "basic";
    return std::nullopt;
  }
  if (jwt_keys_.empty()) return AuthRefusal{401, "UNAUTHORIZED", "Unauthorized: the basic credential is wrong"};
  auto token = auth::BearerToken(authorization);
  if (!token.ok()) return Refuse(token.status());
  return CheckJwt(std::string(*token), who);
}

std::optional<AuthRefusal> AuthGate::CheckJwt(const std::optional<std::string>& jwt, Principal* who) const {
  *who = Principal{};
  if (!enabled()) return std::nullopt;
  if (!jwt || jwt->empty()) return AuthRefusal{401, "UNAUTHORIZED", "Unauthorized: authentication is required (a JWT)"};
  if (jwt_keys_.empty()) return AuthRefusal{401, "UNAUTHORIZED", "Unauthorized: this server accepts only basic credentials"};
  auto claims = auth::VerifyToken(jwt_keys_, *jwt, static_cast<int64_t>(std::time(nullptr)));
  if (!claims.ok()) return Refuse(claims.status());
  who->grant = claims->access == auth::Access::kReadOnly ? Grant::kReadOnly : Grant::kReadWrite;
  who->id = "jwt:" + auth::Sha256(*jwt);
  return std::nullopt;
}

}  // namespace litehouse::server
