// `litehouse token`: the keys and tokens of JWT auth, as `turso db tokens create` gives them.
//
//   litehouse token keygen [--dir DIR]        writes DIR/jwt_private.pem and DIR/jwt_public.pem, and
//                                             prints the raw public key for SQLD_AUTH_JWT_KEY
//   litehouse token create --key PRIVATE.pem [--read-only] [--expiration 7d|12h|30m|never]
//                                             prints a token `litehouse serve` accepts
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include "auth/jwt.h"
#include "cli/commands.h"

namespace litehouse::cli {
namespace {

struct TokenFlags {
  std::string dir = ".";
  std::string key;
  bool read_only = false;
  std::string expiration = "never";
};

// "never", or a count with a unit: s, m, h, d, w. Seconds, or nullopt for never; false if malformed.
bool ParseExpiration(const std::string& text, std::optional<int64_t>* seconds) {
  if (text == "never") {
    seconds->reset();
    return true;
  }
  size_t i = 0;
  int64_t n = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    n = n * 10 + (text[i] - '0');
    if (n > 100'000'000) return false;
    ++i;
  }
  if (i == 0 || i + 1 != text.size() || n == 0) return false;
  int64_t unit = 0;
  switch (text[i]) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    case 'w': unit = 7 * 86400; break;
    default: return false;
  }
  *seconds = n * unit;
  return true;
}

// Writes `text` to `path`; private keys readable by the owner only.
bool WriteFile(const std::filesystem::path& path, const std::string& text, bool secret) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    std::cerr << "error: cannot write " << path.string() << ": " << std::strerror(errno) << "\n";
    return false;
  }
  out << text;
  out.close();
  if (secret) {
    std::error_code ec;
    std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::replace, ec);
  }
  return static_cast<bool>(out);
}

int Keygen(const TokenFlags& flags) {
  auto key = auth::PrivateKey::Generate();
  if (!key.ok()) {
    std::cerr << "error: " << key.status().message() << "\n";
    return 1;
  }
  auto priv = key->PrivatePem();
  auto pub = key->PublicPem();
  auto raw = key->PublicRawBase64Url();
  if (!priv.ok() || !pub.ok() || !raw.ok()) {
    std::cerr << "error: cannot encode the key\n";
    return 1;
  }
  std::filesystem::path dir(flags.dir);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!WriteFile(dir / "jwt_private.pem", *priv, true) || !WriteFile(dir / "jwt_public.pem", *pub, false)) return 1;
  std::cerr << "wrote " << (dir / "jwt_private.pem").string() << " (keep it secret) and "
            << (dir / "jwt_public.pem").string() << " (for --auth-jwt-key-file)\n";
  std::cout << *raw << "\n";  // for SQLD_AUTH_JWT_KEY
  return 0;
}

int Create(const TokenFlags& flags) {
  std::optional<int64_t> lifetime;
  if (!ParseExpiration(flags.expiration, &lifetime)) {
    std::cerr << "error: --expiration: expected never or a count with s, m, h, d or w (e.g. 7d), got '"
              << flags.expiration << "'\n";
    return 2;
  }
  auto key = auth::PrivateKey::FromPemFile(flags.key);
  if (!key.ok()) {
    std::cerr << "error: --key: " << key.status().message() << "\n";
    return 2;
  }
  // One reading of the clock for iat and exp, so exp - iat is exactly the lifetime asked for.
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::optional<int64_t> exp;
  if (lifetime) exp = now + *lifetime;
  auto token =
      auth::CreateTokenAt(*key, flags.read_only ? auth::Access::kReadOnly : auth::Access::kReadWrite, exp, now);
  if (!token.ok()) {
    std::cerr << "error: " << token.status().message() << "\n";
    return 1;
  }
  std::cout << *token << "\n";
  return 0;
}

}  // namespace

Run RegisterToken(CLI::App& app) {
  auto flags = std::make_shared<TokenFlags>();
  CLI::App* cmd = app.add_subcommand("token", "Create JWT signing keys and tokens for `litehouse serve`");
  cmd->require_subcommand(1);
  CLI::App* keygen = cmd->add_subcommand("keygen", "Write an Ed25519 key pair; print the public key for SQLD_AUTH_JWT_KEY");
  keygen->add_option("--dir", flags->dir, "Directory for jwt_private.pem and jwt_public.pem")->capture_default_str();
  CLI::App* create = cmd->add_subcommand("create", "Print a token signed with a private key");
  create->add_option("--key", flags->key, "The private key (PEM), e.g. jwt_private.pem from keygen")->required();
  create->add_flag("--read-only", flags->read_only, "A token that can only read");
  create->add_option("--expiration", flags->expiration, "never, or a lifetime such as 30m, 12h, 7d, 4w")
      ->capture_default_str();
  return [flags, keygen, create]() -> int {
    if (keygen->parsed()) return Keygen(*flags);
    if (create->parsed()) return Create(*flags);
    return 2;
  };
}

}  // namespace litehouse::cli
