// auth: sqld-compatible client authentication. Ed25519 JWTs (verification and creation) and the
// legacy HTTP basic credential, with OpenSSL 3's EVP API doing every cryptographic operation.
//
// What is accepted, and how it matches libsql-server's src/auth, is in auth/DESIGN.md. In short:
//   - keys: Ed25519 public keys, as PEM "PUBLIC KEY" blocks (one or several concatenated) or one raw
//     32-byte key in base64 (--auth-jwt-key-file, SQLD_AUTH_JWT_KEY);
//   - tokens: compact JWS, header alg "EdDSA", signature valid under any key of the set; `exp`
//     optional, checked with sqld's 60 s leeway; `nbf` and `iat` not checked (sqld does not); a
//     token carrying `aud` is refused (sqld does);
//   - access to the database, named by its namespace ("default" in a single-database server): from
//     `p` when present, else from `id` and `a` ("ro"/"roa" read-only, "rw" or absent read-write).
//
// Refusals are Status::InvalidArgument whose message is "<sqld's sentence>: <what exactly>", e.g.
// "The JWT is invalid: the signature matches none of the 2 keys"; SqldReason() gives the sentence
// alone (what sqld puts in its response) and IsForbidden() tells a 403 from a 401.
//
// Thread safety: KeySet, PrivateKey and BasicAuth are immutable after construction; their const
// methods and the free functions may be called from any number of threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

// OpenSSL's key type, kept out of our headers' includes.
struct evp_pkey_st;

namespace litehouse::auth {

// The namespace of the one database of a server without namespaces (sqld's NamespaceName::default()).
inline constexpr std::string_view kDefaultNamespace = "default";
// A token is expired once `exp` is more than this many seconds in the past (jsonwebtoken's default
// leeway, which sqld keeps).
inline constexpr int64_t kExpLeewaySeconds = 60;

// One or more Ed25519 public keys; a token is accepted if its signature is valid under any of them.
// Copying shares the keys (they are immutable).
class KeySet {
 public:
  KeySet() = default;

  // The contents of --auth-jwt-key-file or SQLD_AUTH_JWT_KEY, read as sqld reads them: PEM when the
  // text has a line starting "-----BEGIN" (sqld: the text starts so) (FromPem), else one raw key
  // in base64 (FromRawBase64).
  static Result<KeySet> Parse(std::string_view text);
  // Reads `path` and Parse()s it: what --auth-jwt-key-file means.
  static Result<KeySet> FromFile(const std::string& path);
  // Every PEM block of `pem`, each of which must be an Ed25519 SubjectPublicKeyInfo
  // ("-----BEGIN PUBLIC KEY-----"); text between blocks is ignored. A private key, another PEM type
  // or another key algorithm is an error, as is text with no PEM block at all.
  static Result<KeySet> FromPem(std::string_view pem);
  // Reads `path` and FromPem()s it.
  static Result<KeySet> FromPemFile(const std::string& path);
  // One raw 32-byte Ed25519 public key in base64: URL-safe unpadded as sqld wants (what
  // `PrivateKey::PublicRawBase64Url` writes), the standard alphabet and '=' padding accepted too;
  // surrounding whitespace is ignored.
  static Result<KeySet> FromRawBase64(std::string_view text);

  bool empty() const { return keys_.empty(); }
  size_t size() const { return keys_.size(); }
  // The keys of `other` are tried after those of this set.
  void Append(const KeySet& other) { keys_.insert(keys_.end(), other.keys_.begin(), other.keys_.end()); }

 private:
  friend class KeySetAccess;
  std::vector<std::shared_ptr<evp_pkey_st>> keys_;
};

enum class Access { kReadWrite, kReadOnly };

// What a verified token grants on the namespace it was verified for.
struct Claims {
  Access access = Access::kReadWrite;
  std::optional<int64_t> exp;  // unix seconds; nullopt: the token never expires
};

// Verifies `token` (compact JWS "<header>.<payload>.<signature>", base64url without padding) at
// `now_unix_seconds`, and returns what it grants on `namespace_name`. Checked, in sqld's order:
// three parts; the header (JSON object, "alg": "EdDSA"; "typ" optional); the signature, under each
// key in turn; the payload (JSON object; `a`, `id`, `p`, `exp` well-typed); `exp` (expired when
// exp < now - kExpLeewaySeconds); no `aud`; then access: with `p`, read-write if the namespace is in
// p.rw/p.rwa/p.ddl, read-only if in p.ro/p.roa, else forbidden (`a` and `id` are then ignored);
// without `p`, forbidden if `id` names another namespace, else read-only for a = "ro"/"roa",
// read-write for "rw" or no `a`. Every refusal is InvalidArgument, its message saying which check
// failed (SqldReason/IsForbidden classify it). Claims are read only from a correctly signed token.
Result<Claims> VerifyToken(const KeySet& keys, std::string_view token, int64_t now_unix_seconds,
                           std::string_view namespace_name = kDefaultNamespace);

// The token of an "Authorization: Bearer <token>" value, as sqld splits it: at the first space, the
// scheme compared case-insensitively. InvalidArgument if the value has no space or another scheme.
Result<std::string_view> BearerToken(std::string_view authorization_header_value);

// The sentence sqld answers with for a refusal of this module ("The JWT is invalid", "The JWT has
// expired", "Authentication failed", "Authorization forbidden", ...): `status`'s message up to the
// detail. Empty for an OK status; sqld's catch-all "Authentication failed" for a Status this module
// did not make.
std::string_view SqldReason(const Status& status);
// True for a refusal sqld reports as 403 Forbidden (a valid token that grants nothing on the
// namespace); every other refusal is 401 Unauthorized.
bool IsForbidden(const Status& status);

// An Ed25519 private key (RAII over EVP_PKEY); move-only.
class PrivateKey {
 public:
  PrivateKey(PrivateKey&&) noexcept;
  PrivateKey& operator=(PrivateKey&&) noexcept;
  ~PrivateKey();

  // A fresh key from OpenSSL's CSPRNG.
  static Result<PrivateKey> Generate();
  // One unencrypted PKCS#8 "-----BEGIN PRIVATE KEY-----" Ed25519 key (what PrivatePem() writes and
  // `openssl genpkey -algorithm ed25519` prints). Encrypted keys are refused, never prompted for.
  static Result<PrivateKey> FromPem(std::string_view pem);
  static Result<PrivateKey> FromPemFile(const std::string& path);

  Result<std::string> PrivatePem() const;  // PKCS#8, unencrypted
  Result<std::string> PublicPem() const;   // SubjectPublicKeyInfo: for --auth-jwt-key-file
  // The raw 32-byte public key, base64url without padding: for SQLD_AUTH_JWT_KEY.
  Result<std::string> PublicRawBase64Url() const;

 private:
  friend class PrivateKeyAccess;
  explicit PrivateKey(evp_pkey_st* pkey) : pkey_(pkey) {}
  evp_pkey_st* pkey_ = nullptr;  // owned
};

// A token as `turso db tokens create` shapes them: header {"alg":"EdDSA","typ":"JWT"}, payload
// {"a":"rw"|"ro","exp":<exp_unix>,"iat":<iat_unix>} ("exp" only when set), base64url unpadded.
// No `id`: in sqld an `id` other than the server's namespace forbids everything. CreateToken takes
// iat from the clock; CreateTokenAt is deterministic (Ed25519 signatures are). InvalidArgument if
// exp_unix is negative.
Result<std::string> CreateToken(const PrivateKey& key, Access access, std::optional<int64_t> exp_unix);
Result<std::string> CreateTokenAt(const PrivateKey& key, Access access, std::optional<int64_t> exp_unix,
                                  int64_t iat_unix);
// Signs the given header and payload JSON texts as they are (no checks): for tests and tools.
Result<std::string> SignToken(const PrivateKey& key, std::string_view header_json, std::string_view payload_json);

// Whether a == b, in time that depends on their lengths only (CRYPTO_memcmp); unequal lengths still
// cost one full pass over `a`.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// Fills `out` with `n` bytes from OpenSSL's CSPRNG (RAND_bytes). Internal if the generator cannot
// supply them (its entropy source failed); `out` is then unusable as a secret.
Status RandomBytes(void* out, size_t n);

// The SHA-256 digest of `data`, 32 raw bytes: a fixed-size name for a secret (a token) that a
// holder needs to recognise again without keeping the secret itself.
std::string Sha256(std::string_view data);

// The legacy credential of --http-auth basic:<base64 of "user:password">.
class BasicAuth {
 public:
  // `flag_value` is "basic:<credential>" (scheme lower-case, as sqld wants). InvalidArgument for any
  // other shape, another scheme, sqld's vestigial "always", or an empty credential.
  static Result<BasicAuth> Parse(std::string_view flag_value);

  // Whether an Authorization header value carries the credential: "<scheme> <credential>", split at
  // the first space; any scheme is accepted (sqld does not look at it, and clients send "Bearer"
  // as well as "Basic"); trailing '=' padding and surrounding whitespace are ignored on both sides.
  // The credential is compared whole and in constant time (sqld does a substring search).
  bool Check(std::string_view authorization_header_value) const;

 private:
  explicit BasicAuth(std::string credential) : credential_(std::move(credential)) {}
  std::string credential_;  // without trailing '='
};

}  // namespace litehouse::auth
