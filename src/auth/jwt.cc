#include "auth/jwt.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <rapidjson/document.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <ctime>
#include <fstream>
#include <initializer_list>
#include <iterator>

#include "common/base64.h"
#include "common/json.h"

namespace litehouse::auth {

// Private access for this file's helpers (named as friends in jwt.h).
class KeySetAccess {
 public:
  static std::vector<std::shared_ptr<evp_pkey_st>>& keys(KeySet& set) { return set.keys_; }
  static const std::vector<std::shared_ptr<evp_pkey_st>>& keys(const KeySet& set) { return set.keys_; }
};
class PrivateKeyAccess {
 public:
  static EVP_PKEY* pkey(const PrivateKey& key) { return key.pkey_; }
  static PrivateKey Adopt(EVP_PKEY* pkey) { return PrivateKey(pkey); }
};

namespace {

// sqld's sentences (libsql-server/src/auth/errors.rs, src/error.rs); every refusal message starts
// with one of them, then ": " and the detail.
constexpr std::string_view kJwtInvalid = "The JWT is invalid";
constexpr std::string_view kJwtExpired = "The JWT has expired";
constexpr std::string_view kAuthFailed = "Authentication failed";
constexpr std::string_view kForbidden = "Authorization forbidden";
constexpr std::string_view kAuthStringMalformed = "Auth string does not conform to '<scheme> <token>' form";
constexpr std::string_view kUnsupportedScheme =
    "The authentication scheme in the `Authorization` HTTP header is not supported";
constexpr std::array<std::string_view, 6> kReasons = {kJwtInvalid, kJwtExpired,          kAuthFailed,
                                                      kForbidden,  kAuthStringMalformed, kUnsupportedScheme};

// The range of chrono's DateTime<Utc> (0.4.42), outside which sqld's `exp` deserializer fails.
constexpr int64_t kMinExp = -8334601315200;
constexpr int64_t kMaxExp = 8210266876799;

constexpr size_t kEd25519KeyBytes = 32;
constexpr size_t kEd25519SignatureBytes = 64;

Status Refuse(std::string_view reason, std::string_view detail) {
  std::string msg(reason);
  msg += ": ";
  msg += detail;
  return Status::InvalidArgument(std::move(msg));
}

// Drains OpenSSL's (thread-local) error queue into one line.
std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error reported" : out;
}

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct OpenSslFree {
  void operator()(void* p) const { OPENSSL_free(p); }
};
using UniquePkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using UniqueBio = std::unique_ptr<BIO, BioFree>;
using UniqueMdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

std::string_view TrimAsciiWhitespace(std::string_view s) {
  constexpr std::string_view kWs = " \t\r\n\f\v";
  size_t b = s.find_first_not_of(kWs);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kWs) - b + 1);
}

std::string_view TrimTrailingPadding(std::string_view s) {
  while (!s.empty() && s.back() == '=') s.remove_suffix(1);
  return s;
}

Result<std::string> ReadFile(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot open " + std::string(what) + " " + path + ": " + std::strerror(errno));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::IoError("cannot read " + std::string(what) + " " + path + ": " + std::strerror(errno));
  return data;
}

// Base64url as JWS wants it and jsonwebtoken enforces: '-' '_' alphabet, no padding, canonical
// (unused trailing bits zero).
std::optional<std::string> DecodeBase64UrlStrict(std::string_view text) {
  for (char c : text) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return std::nullopt;
  }
  std::optional<std::string> bytes = Base64Decode(text);
  if (!bytes || Base64Encode(*bytes, Base64Alphabet::kUrlSafe, /*pad=*/false) != text) return std::nullopt;
  return bytes;
}

std::string Base64Url(std::string_view bytes) { return Base64Encode(bytes, Base64Alphabet::kUrlSafe, /*pad=*/false); }

// "1700000000 (2023-11-14T22:13:20Z)", or the bare number outside years 0..9999.
std::string FormatUnix(int64_t t) {
  std::string out = std::to_string(t);
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  if (gmtime_r(&tt, &tm) != nullptr && tm.tm_year >= -1900 && tm.tm_year <= 9999 - 1900) {
    char buf[32];
    if (std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0) out = out + " (" + buf + ")";
  }
  return out;
}

std::string Quoted(std::string_view s) {
  constexpr size_t kMax = 40;
  std::string out = "\"";
  out += s.substr(0, kMax);
  if (s.size() > kMax) out += "...";
  return out + "\"";
}

// ---- JSON ----------------------------------------------------------------------------------------

using JsonValue = rapidjson::Value;

std::string_view StringOf(const JsonValue& v) { return {v.GetString(), v.GetStringLength()}; }

// Parses `text` (the decoded `part`, "header" or "payload") into `doc`, which must be an object.
// Strict JSON, UTF-8 validated, depth-limited (common/json.h).
Status ParseJsonObject(const std::string& text, std::string_view part, rapidjson::Document* doc) {
  if (Status s = json::Parse<rapidjson::kParseValidateEncodingFlag>(text, doc); !s.ok()) {
    return Refuse(kJwtInvalid, "the " + std::string(part) + " is not JSON: " + s.message());
  }
  if (!doc->IsObject()) return Refuse(kJwtInvalid, "the " + std::string(part) + " is not a JSON object");
  return Status::OK();
}

// The member `name` of `obj`, nullptr when absent or null (serde reads both as None).
const JsonValue* Member(const JsonValue& obj, std::string_view name) {
  const JsonValue* found = nullptr;
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    if (StringOf(it->name) == name) {
      found = &it->value;
      break;
    }
  }
  return found == nullptr || found->IsNull() ? nullptr : found;
}

// serde refuses a known field given twice; RapidJSON keeps both, so look.
Status NoDuplicates(const JsonValue& obj, std::initializer_list<std::string_view> fields, std::string_view where) {
  for (std::string_view field : fields) {
    int n = 0;
    for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) n += StringOf(it->name) == field;
    if (n > 1) return Refuse(kJwtInvalid, "`" + std::string(field) + "` appears twice in the " + std::string(where));
  }
  return Status::OK();
}

bool IsArrayOfStrings(const JsonValue& v, bool non_empty_strings) {
  if (!v.IsArray()) return false;
  for (const JsonValue& e : v.GetArray()) {
    if (!e.IsString() || (non_empty_strings && e.GetStringLength() == 0)) return false;
  }
  return true;
}

// The header, as jsonwebtoken's Header deserializes it: "alg" required; the registered string fields
// typed; other members ignored. Only EdDSA is accepted (sqld's Validation::new(EdDSA)).
Status CheckHeader(const JsonValue& header) {
  if (Status s =
          NoDuplicates(header, {"typ", "alg", "cty", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256"}, "header");
      !s.ok()) {
    return s;
  }
  const JsonValue* alg = Member(header, "alg");
  if (alg == nullptr) return Refuse(kJwtInvalid, "the header has no `alg`");
  if (!alg->IsString()) return Refuse(kJwtInvalid, "the header's `alg` is not a string");
  if (StringOf(*alg) != "EdDSA") {
    return Refuse(kJwtInvalid,
                  "unsupported algorithm " + Quoted(StringOf(*alg)) + " in the header; only EdDSA is accepted");
  }
  for (std::string_view field : {"typ", "cty", "jku", "kid", "x5u", "x5t", "x5t#S256"}) {
    const JsonValue* v = Member(header, field);
    if (v != nullptr && !v->IsString()) {
      return Refuse(kJwtInvalid, "the header's `" + std::string(field) + "` is not a string");
    }
  }
  if (const JsonValue* x5c = Member(header, "x5c"); x5c != nullptr && !IsArrayOfStrings(*x5c, false)) {
    return Refuse(kJwtInvalid, "the header's `x5c` is not an array of strings");
  }
  if (const JsonValue* jwk = Member(header, "jwk"); jwk != nullptr && !jwk->IsObject()) {
    return Refuse(kJwtInvalid, "the header's `jwk` is not an object");
  }
  return Status::OK();
}

// sqld's Token claims (user_auth_strategies/jwt.rs), typed as serde would type them.
struct TokenClaims {
  std::optional<std::string_view> id;  // a namespace name
  std::optional<std::string_view> a;   // "ro", "rw", "roa"
  const JsonValue* p = nullptr;        // Authorized: {ro, rw, roa, rwa, ddl: Scopes}
  std::optional<int64_t> exp;
  std::optional<int64_t> nbf;  // not before: sqld ignores it; we refuse a token used too early
  bool refuses_aud = false;  // an `aud` jsonwebtoken would check (and, unconfigured, refuse)
};

Status CheckScopes(const JsonValue& p) {
  if (!p.IsObject()) return Refuse(kJwtInvalid, "claim `p` is not an object");
  if (Status s = NoDuplicates(p, {"ro", "rw", "roa", "rwa", "ddl"}, "claim `p`"); !s.ok()) return s;
  for (std::string_view kind : {"ro", "rw", "roa", "rwa", "ddl"}) {
    const JsonValue* scopes = Member(p, kind);
    if (scopes == nullptr) continue;
    std::string where = "claim `p." + std::string(kind) + "`";
    if (!scopes->IsObject()) return Refuse(kJwtInvalid, where + " is not an object");
    if (Status s = NoDuplicates(*scopes, {"ns", "tags"}, where); !s.ok()) return s;
    if (const JsonValue* ns = Member(*scopes, "ns"); ns != nullptr && !IsArrayOfStrings(*ns, true)) {
      return Refuse(kJwtInvalid, where + ".ns is not an array of namespace names");
    }
    if (const JsonValue* tags = Member(*scopes, "tags"); tags != nullptr && !IsArrayOfStrings(*tags, false)) {
      return Refuse(kJwtInvalid, where + ".tags is not an array of strings");
    }
  }
  return Status::OK();
}

Result<TokenClaims> ReadClaims(const JsonValue& payload) {
  if (Status s = NoDuplicates(payload, {"id", "a", "p", "exp", "nbf", "sub", "iss", "aud"}, "payload"); !s.ok()) {
    return s;
  }
  TokenClaims c;
  if (const JsonValue* id = Member(payload, "id")) {
    if (!id->IsString() || id->GetStringLength() == 0) return Refuse(kJwtInvalid, "claim `id` is not a namespace name");
    c.id = StringOf(*id);
  }
  if (const JsonValue* a = Member(payload, "a")) {
    std::string_view v = a->IsString() ? StringOf(*a) : std::string_view();
    if (v != "ro" && v != "rw" && v != "roa") return Refuse(kJwtInvalid, "claim `a` is not \"ro\", \"rw\" or \"roa\"");
    c.a = v;
  }
  if (const JsonValue* p = Member(payload, "p")) {
    if (Status s = CheckScopes(*p); !s.ok()) return s;
    c.p = p;
  }
  for (auto [name, out] : {std::pair{"exp", &c.exp}, std::pair{"nbf", &c.nbf}}) {
    const JsonValue* t = Member(payload, name);
    if (t == nullptr) continue;
    std::string claim = std::string("claim `") + name + "`";
    if (t->IsUint64() && !t->IsInt64()) return Refuse(kJwtInvalid, claim + " is out of range");
    if (!t->IsInt64()) return Refuse(kJwtInvalid, claim + " is not an integer number of seconds");
    int64_t v = t->GetInt64();
    if (v < kMinExp || v > kMaxExp) return Refuse(kJwtInvalid, claim + " is out of range: " + std::to_string(v));
    *out = v;
  }
  // jsonwebtoken parses `aud` as a string or a set of strings; anything else it ignores.
  if (const JsonValue* aud = Member(payload, "aud")) c.refuses_aud = aud->IsString() || IsArrayOfStrings(*aud, false);
  return c;
}

bool ScopeHas(const JsonValue& p, std::string_view kind, std::string_view namespace_name) {
  const JsonValue* scopes = Member(p, kind);
  const JsonValue* ns = scopes == nullptr ? nullptr : Member(*scopes, "ns");
  if (ns == nullptr) return false;
  for (const JsonValue& n : ns->GetArray()) {
    if (StringOf(n) == namespace_name) return true;
  }
  return false;
}

// ---- Ed25519 -------------------------------------------------------------------------------------

bool VerifyEd25519(EVP_PKEY* key, std::string_view signed_data, std::string_view signature) {
  UniqueMdCtx ctx(EVP_MD_CTX_new());
  bool ok = ctx != nullptr && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key) == 1 &&
            EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                             reinterpret_cast<const unsigned char*>(signed_data.data()), signed_data.size()) == 1;
  if (!ok) ERR_clear_error();
  return ok;
}

Result<std::string> SignEd25519(EVP_PKEY* key, std::string_view data) {
  UniqueMdCtx ctx(EVP_MD_CTX_new());
  std::string sig(kEd25519SignatureBytes, '\0');
  size_t len = sig.size();
  if (ctx == nullptr || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return Status::Internal("Ed25519 signing failed: " + OpenSslErrors());
  }
  sig.resize(len);
  return sig;
}

bool IsEd25519(EVP_PKEY* key) { return EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519; }

std::string KeyTypeName(EVP_PKEY* key) {
  const char* name = EVP_PKEY_get0_type_name(key);
  return name != nullptr ? name : "unknown";
}

Result<UniqueBio> MemBio(std::string_view data) {
  if (data.size() > static_cast<size_t>(INT_MAX)) return Status::InvalidArgument("key text too large");
  UniqueBio bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (bio == nullptr) return Status::Internal("BIO_new_mem_buf: " + OpenSslErrors());
  return bio;
}

Result<std::string> BioContents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len < 0 || (len > 0 && data == nullptr)) return Status::Internal("BIO_get_mem_data failed");
  return std::string(data, static_cast<size_t>(len));
}

// No passphrase: an encrypted key fails to load instead of OpenSSL prompting on the terminal.
int NoPassphrase(char*, int, int, void*) { return 0; }

Result<EVP_PKEY*> KeyOf(const PrivateKey& key) {
  EVP_PKEY* pkey = PrivateKeyAccess::pkey(key);
  if (pkey == nullptr) return Status::Internal("use of a moved-from PrivateKey");
  return pkey;
}

}  // namespace

// ---- KeySet --------------------------------------------------------------------------------------

Result<KeySet> KeySet::Parse(std::string_view text) {
  // sqld looks for "-----BEGIN" at the very start; at the start of any line is as unambiguous (a raw
  // key is one line) and lets a file begin with a comment or a blank line.
  std::string_view trimmed = TrimAsciiWhitespace(text);
  if (trimmed.starts_with("-----BEGIN") || trimmed.find("\n-----BEGIN") != std::string_view::npos) {
    return FromPem(text);
  }
  return FromRawBase64(trimmed);
}

Result<KeySet> KeySet::FromFile(const std::string& path) {
  Result<std::string> data = ReadFile(path, "JWT key file");
  if (!data.ok()) return data.status();
  Result<KeySet> keys = Parse(*data);
  if (!keys.ok()) return Status::InvalidArgument(path + ": " + keys.status().message());
  return keys;
}

Result<KeySet> KeySet::FromPemFile(const std::string& path) {
  Result<std::string> data = ReadFile(path, "JWT key file");
  if (!data.ok()) return data.status();
  Result<KeySet> keys = FromPem(*data);
  if (!keys.ok()) return Status::InvalidArgument(path + ": " + keys.status().message());
  return keys;
}

Result<KeySet> KeySet::FromPem(std::string_view pem) {
  Result<UniqueBio> bio = MemBio(pem);
  if (!bio.ok()) return bio.status();
  ERR_clear_error();
  KeySet set;
  for (int block = 1;; ++block) {
    char* name_raw = nullptr;
    char* header_raw = nullptr;
    unsigned char* data_raw = nullptr;
    long len = 0;
    if (PEM_read_bio(bio->get(), &name_raw, &header_raw, &data_raw, &len) != 1) {
      unsigned long err = ERR_peek_last_error();
      if (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE) {
        ERR_clear_error();  // the end of the text
        break;
      }
      return Status::InvalidArgument("Could not parse many certificates from PEM: block " + std::to_string(block) +
                                     ": " + OpenSslErrors());
    }
    std::unique_ptr<char, OpenSslFree> name(name_raw);
    std::unique_ptr<char, OpenSslFree> header(header_raw);
    std::unique_ptr<unsigned char, OpenSslFree> data(data_raw);
    std::string_view tag(name.get());
    std::string where = "PEM block " + std::to_string(block) + " (" + std::string(tag) + ")";
    if (tag.find("PRIVATE KEY") != std::string_view::npos) {
      return Status::InvalidArgument("Received a private key, but a public key is expected: " + where);
    }
    if (tag != "PUBLIC KEY") {
      return Status::InvalidArgument("Key is in unsupported PEM format: " + where +
                                     "; expected an Ed25519 \"PUBLIC KEY\"");
    }
    const unsigned char* p = data.get();
    UniquePkey key(d2i_PUBKEY(nullptr, &p, len));
    if (key == nullptr || p != data.get() + len) {
      std::string detail = key == nullptr ? OpenSslErrors() : "trailing bytes after the key";
      ERR_clear_error();
      return Status::InvalidArgument("Could not decode Ed25519 public key from PEM: " + where + ": " + detail);
    }
    if (!IsEd25519(key.get())) {
      return Status::InvalidArgument("Could not decode Ed25519 public key from PEM: " + where + " holds a " +
                                     KeyTypeName(key.get()) + " key, not Ed25519");
    }
    set.keys_.emplace_back(key.release(), PkeyFree());
  }
  if (set.empty()) {
    return Status::InvalidArgument(
        "Could not parse many certificates from PEM: no \"-----BEGIN PUBLIC KEY-----\" block");
  }
  return set;
}

Result<KeySet> KeySet::FromRawBase64(std::string_view text) {
  std::string_view trimmed = TrimAsciiWhitespace(text);
  if (trimmed.empty()) return Status::InvalidArgument("Could not decode Ed25519 public key from base64: empty");
  std::optional<std::string> raw = Base64Decode(trimmed);
  if (!raw) return Status::InvalidArgument("Could not decode Ed25519 public key from base64: not base64");
  if (raw->size() != kEd25519KeyBytes) {
    return Status::InvalidArgument("Could not decode Ed25519 public key from base64: " + std::to_string(raw->size()) +
                                   " bytes, an Ed25519 public key is 32");
  }
  UniquePkey key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                             reinterpret_cast<const unsigned char*>(raw->data()), raw->size()));
  if (key == nullptr)
    return Status::InvalidArgument("Could not decode Ed25519 public key from base64: " + OpenSslErrors());
  KeySet set;
  set.keys_.emplace_back(key.release(), PkeyFree());
  return set;
}

// ---- Verification --------------------------------------------------------------------------------

Result<Claims> VerifyToken(const KeySet& keys, std::string_view token, int64_t now_unix_seconds,
                           std::string_view namespace_name) {
  // The three parts.
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    size_t parts = 1;
    for (char c : token) parts += c == '.';
    return Refuse(kJwtInvalid, "malformed: " + std::to_string(parts) +
                                   " '.'-separated parts, a JWT has 3 (header.payload.signature)");
  }
  std::string_view header_b64 = token.substr(0, dot1);
  std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  std::string_view signature_b64 = token.substr(dot2 + 1);

  // The header.
  std::optional<std::string> header_json = DecodeBase64UrlStrict(header_b64);
  if (!header_json) return Refuse(kJwtInvalid, "the header is not base64url (unpadded, alphabet A-Z a-z 0-9 - _)");
  rapidjson::Document header;
  if (Status s = ParseJsonObject(*header_json, "header", &header); !s.ok()) return s;
  if (Status s = CheckHeader(header); !s.ok()) return s;

  // The signature, under each key in turn.
  std::optional<std::string> signature = DecodeBase64UrlStrict(signature_b64);
  if (!signature) return Refuse(kJwtInvalid, "the signature is not base64url (unpadded, alphabet A-Z a-z 0-9 - _)");
  if (signature->size() != kEd25519SignatureBytes) {
    return Refuse(kJwtInvalid,
                  "invalid signature: " + std::to_string(signature->size()) + " bytes, an Ed25519 signature is 64");
  }
  const auto& key_list = KeySetAccess::keys(keys);
  if (key_list.empty()) return Refuse(kJwtInvalid, "no key to verify its signature with");
  std::string_view signed_data = token.substr(0, dot2);
  bool verified = false;
  for (const auto& key : key_list) {
    if (VerifyEd25519(key.get(), signed_data, *signature)) {
      verified = true;
      break;
    }
  }
  if (!verified) {
    return Refuse(kJwtInvalid, key_list.size() == 1 ? std::string("invalid signature: it does not match the key")
                                                    : "invalid signature: it matches none of the " +
                                                          std::to_string(key_list.size()) + " keys");
  }

  // The claims; from here on they are the signer's.
  std::optional<std::string> payload_json = DecodeBase64UrlStrict(payload_b64);
  if (!payload_json) return Refuse(kJwtInvalid, "the payload is not base64url (unpadded, alphabet A-Z a-z 0-9 - _)");
  rapidjson::Document payload;
  if (Status s = ParseJsonObject(*payload_json, "payload", &payload); !s.ok()) return s;
  Result<TokenClaims> claims = ReadClaims(payload);
  if (!claims.ok()) return claims.status();

  if (claims->exp && *claims->exp < now_unix_seconds - kExpLeewaySeconds) {
    return Refuse(kJwtExpired, "it expired at " + FormatUnix(*claims->exp) + "; now is " +
                                   FormatUnix(now_unix_seconds) + " (leeway " + std::to_string(kExpLeewaySeconds) +
                                   " s)");
  }
  // Not before, with the same leeway as `exp` (jsonwebtoken's reading of `nbf`, which sqld's
  // validation leaves off): a token minted for later is not yet valid.
  if (claims->nbf && *claims->nbf > now_unix_seconds + kExpLeewaySeconds) {
    return Refuse(kJwtInvalid, "it is not valid before " + FormatUnix(*claims->nbf) + "; now is " +
                                   FormatUnix(now_unix_seconds) + " (leeway " + std::to_string(kExpLeewaySeconds) +
                                   " s)");
  }
  if (claims->refuses_aud) return Refuse(kAuthFailed, "the JWT has an `aud` claim, which sqld refuses");

  Claims out;
  out.exp = claims->exp;
  std::string ns_quoted = "`" + std::string(namespace_name) + "`";
  if (claims->p != nullptr) {
    const JsonValue& p = *claims->p;
    if (ScopeHas(p, "rw", namespace_name) || ScopeHas(p, "rwa", namespace_name) || ScopeHas(p, "ddl", namespace_name)) {
      out.access = Access::kReadWrite;
    } else if (ScopeHas(p, "ro", namespace_name) || ScopeHas(p, "roa", namespace_name)) {
      out.access = Access::kReadOnly;
    } else {
      return Refuse(kForbidden, "the JWT's `p` claim grants nothing on namespace " + ns_quoted);
    }
    return out;
  }
  if (claims->id && *claims->id != namespace_name) {
    return Refuse(kForbidden, "the JWT is for namespace " + Quoted(*claims->id) + ", not " + ns_quoted);
  }
  out.access = claims->a && (*claims->a == "ro" || *claims->a == "roa") ? Access::kReadOnly : Access::kReadWrite;
  return out;
}

Result<std::string_view> BearerToken(std::string_view authorization_header_value) {
  size_t space = authorization_header_value.find(' ');
  if (space == std::string_view::npos) return Refuse(kAuthStringMalformed, "no space in the Authorization value");
  std::string_view scheme = authorization_header_value.substr(0, space);
  constexpr std::string_view kBearer = "bearer";
  bool bearer = scheme.size() == kBearer.size();
  for (size_t i = 0; bearer && i < scheme.size(); ++i) {
    char c = scheme[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    bearer = c == kBearer[i];
  }
  if (!bearer) return Refuse(kUnsupportedScheme, "expected Bearer, got " + Quoted(scheme));
  return authorization_header_value.substr(space + 1);
}

std::string_view SqldReason(const Status& status) {
  if (status.ok()) return {};
  std::string_view msg = status.message();
  for (std::string_view reason : kReasons) {
    if (msg.size() > reason.size() + 1 && msg.starts_with(reason) && msg.substr(reason.size(), 2) == ": ") {
      return reason;
    }
  }
  return kAuthFailed;
}

bool IsForbidden(const Status& status) { return !status.ok() && SqldReason(status) == kForbidden; }

// ---- PrivateKey and token creation ---------------------------------------------------------------

PrivateKey::PrivateKey(PrivateKey&& other) noexcept : pkey_(std::exchange(other.pkey_, nullptr)) {}
PrivateKey& PrivateKey::operator=(PrivateKey&& other) noexcept {
  std::swap(pkey_, other.pkey_);
  return *this;
}
PrivateKey::~PrivateKey() { EVP_PKEY_free(pkey_); }

Result<PrivateKey> PrivateKey::Generate() {
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (pkey == nullptr) return Status::Internal("Ed25519 key generation failed: " + OpenSslErrors());
  return PrivateKey(pkey);
}

Result<PrivateKey> PrivateKey::FromPem(std::string_view pem) {
  Result<UniqueBio> bio = MemBio(pem);
  if (!bio.ok()) return bio.status();
  ERR_clear_error();
  UniquePkey key(PEM_read_bio_PrivateKey(bio->get(), nullptr, NoPassphrase, nullptr));
  if (key == nullptr) {
    return Status::InvalidArgument("not an unencrypted PKCS#8 \"PRIVATE KEY\" PEM: " + OpenSslErrors());
  }
  if (!IsEd25519(key.get())) {
    return Status::InvalidArgument("the private key is " + KeyTypeName(key.get()) + ", not Ed25519");
  }
  return PrivateKey(key.release());
}

Result<PrivateKey> PrivateKey::FromPemFile(const std::string& path) {
  Result<std::string> data = ReadFile(path, "private key file");
  if (!data.ok()) return data.status();
  Result<PrivateKey> key = FromPem(*data);
  if (!key.ok()) return Status::InvalidArgument(path + ": " + key.status().message());
  return key;
}

Result<std::string> PrivateKey::PrivatePem() const {
  Result<EVP_PKEY*> pkey = KeyOf(*this);
  if (!pkey.ok()) return pkey.status();
  UniqueBio bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PKCS8PrivateKey(bio.get(), *pkey, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Status::Internal("writing the private key PEM failed: " + OpenSslErrors());
  }
  return BioContents(bio.get());
}

Result<std::string> PrivateKey::PublicPem() const {
  Result<EVP_PKEY*> pkey = KeyOf(*this);
  if (!pkey.ok()) return pkey.status();
  UniqueBio bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), *pkey) != 1) {
    return Status::Internal("writing the public key PEM failed: " + OpenSslErrors());
  }
  return BioContents(bio.get());
}

Result<std::string> PrivateKey::PublicRawBase64Url() const {
  Result<EVP_PKEY*> pkey = KeyOf(*this);
  if (!pkey.ok()) return pkey.status();
  std::string raw(kEd25519KeyBytes, '\0');
  size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(*pkey, reinterpret_cast<unsigned char*>(raw.data()), &len) != 1 ||
      len != kEd25519KeyBytes) {
    return Status::Internal("reading the raw public key failed: " + OpenSslErrors());
  }
  return Base64Url(raw);
}

Result<std::string> SignToken(const PrivateKey& key, std::string_view header_json, std::string_view payload_json) {
  Result<EVP_PKEY*> pkey = KeyOf(key);
  if (!pkey.ok()) return pkey.status();
  std::string token = Base64Url(header_json);
  token += '.';
  token += Base64Url(payload_json);
  Result<std::string> signature = SignEd25519(*pkey, token);
  if (!signature.ok()) return signature.status();
  token += '.';
  token += Base64Url(*signature);
  return token;
}

Result<std::string> CreateTokenAt(const PrivateKey& key, Access access, std::optional<int64_t> exp_unix,
                                  int64_t iat_unix) {
  if (exp_unix && (*exp_unix < 0 || *exp_unix > kMaxExp)) {
    return Status::InvalidArgument("token expiry out of range: " + std::to_string(*exp_unix));
  }
  std::string payload = access == Access::kReadOnly ? R"({"a":"ro")" : R"({"a":"rw")";
  if (exp_unix) payload += ",\"exp\":" + std::to_string(*exp_unix);
  payload += ",\"iat\":" + std::to_string(iat_unix) + "}";
  return SignToken(key, R"({"alg":"EdDSA","typ":"JWT"})", payload);
}

Result<std::string> CreateToken(const PrivateKey& key, Access access, std::optional<int64_t> exp_unix) {
  int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return CreateTokenAt(key, access, exp_unix, now);
}

// ---- Comparison and basic auth -------------------------------------------------------------------

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    // Same work as an equal-length comparison, so the time says nothing about the content.
    (void)CRYPTO_memcmp(a.data(), a.data(), a.size());
    return false;
  }
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<BasicAuth> BasicAuth::Parse(std::string_view flag_value) {
  if (flag_value == "always") {
    return Status::InvalidArgument(
        "--http-auth always is not supported (in sqld it only accepts clients whose credential contains the "
        "text \"always\"); use --http-auth basic:<base64 of user:password>");
  }
  size_t colon = flag_value.find(':');
  if (colon == std::string_view::npos) {
    return Status::InvalidArgument("invalid --http-auth value: expected basic:<base64 of user:password>");
  }
  std::string_view scheme = flag_value.substr(0, colon);
  if (scheme != "basic") {
    return Status::InvalidArgument("unsupported HTTP auth scheme " + Quoted(scheme) +
                                   " in --http-auth; only \"basic\" is supported");
  }
  std::string_view credential = TrimTrailingPadding(TrimAsciiWhitespace(flag_value.substr(colon + 1)));
  if (credential.empty()) {
    return Status::InvalidArgument("empty credential in --http-auth basic:<base64 of user:password>");
  }
  return BasicAuth(std::string(credential));
}

bool BasicAuth::Check(std::string_view authorization_header_value) const {
  size_t space = authorization_header_value.find(' ');
  if (space == std::string_view::npos) return false;
  std::string_view given = TrimTrailingPadding(TrimAsciiWhitespace(authorization_header_value.substr(space + 1)));
  return ConstantTimeEquals(given, credential_);
}

}  // namespace litehouse::auth
