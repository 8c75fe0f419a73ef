#include "backup/config.h"

#include <pwd.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>

#include "common/file_io.h"

namespace litehouse::backup {
namespace {

// os.ExpandEnv: $NAME and ${NAME} become the variable's value, empty when unset.
std::string ExpandEnv(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  auto is_name = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size()) {
      out += text[i];
      continue;
    }
    std::string name;
    size_t end;
    if (text[i + 1] == '{') {
      size_t close = text.find('}', i + 2);
      if (close == std::string::npos) {
        out += text[i];
        continue;
      }
      name = text.substr(i + 2, close - i - 2);
      end = close + 1;
    } else {
      end = i + 1;
      while (end < text.size() && is_name(text[end])) ++end;
      name = text.substr(i + 1, end - i - 1);
      if (name.empty()) {
        out += text[i];
        continue;
      }
    }
    if (const char* v = std::getenv(name.c_str())) out += v;
    i = end - 1;
  }
  return out;
}

// Litestream's expand(): ~/ is the home directory; the result is absolute.
std::string ExpandPath(const std::string& path) {
  std::string p = path;
  if (p == "~" || p.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    if (!home || !*home) {
      if (const passwd* pw = getpwuid(getuid())) home = pw->pw_dir;
    }
    p = std::string(home ? home : "") + p.substr(1);
  }
  std::error_code ec;
  auto abs = std::filesystem::absolute(p, ec);
  return ec ? p : abs.lexically_normal().string();
}

std::string Text(const YAML::Node& node, const char* key) {
  const YAML::Node v = node[key];
  return v && v.IsScalar() ? v.as<std::string>() : std::string();
}

Status Duration(const YAML::Node& node, const char* key, const std::string& where, std::optional<std::chrono::milliseconds>* out) {
  const std::string text = Text(node, key);
  if (text.empty()) return Status::OK();
  *out = ParseGoDuration(text);
  if (!*out) return Status::InvalidArgument(where + ": " + key + " " + text + " is not a duration (e.g. 1s, 500ms, 24h)");
  return Status::OK();
}

// The path of a URL, Litestream's way: file:///p is /p; s3://bucket/p is p, without slashes around.
std::string TrimSlashes(std::string s) {
  while (!s.empty() && s.front() == '/') s.erase(s.begin());
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

Result<ReplicaTarget> ReadReplica(const YAML::Node& node, const std::string& where, const S3Credentials& global) {
  if (!node.IsMap()) return Status::InvalidArgument(where + ": a replica is a map (url:, or type: and path:)");
  ReplicaTarget r;
  const std::string url = Text(node, "url");
  std::string type = Text(node, "type");
  const std::string scheme = url.find("://") != std::string::npos ? url.substr(0, url.find("://")) : "";
  if (!url.empty() && scheme.empty()) return Status::InvalidArgument(where + ": replica url scheme required: " + url);
  if (!scheme.empty()) type = scheme;
  if (type.empty()) type = "file";
  r.name = Text(node, "name").empty() ? type : Text(node, "name");
  const std::string path = Text(node, "path");
  if (!url.empty() && !path.empty()) return Status::InvalidArgument(where + ": cannot specify url & path for " + type + " replica");
  if (type == "file") {
    std::string dir = path;
    if (!url.empty()) dir = url.substr(7);
    if (dir.empty()) return Status::InvalidArgument(where + ": file replica path required");
    r.url = "file://" + ExpandPath(dir);
  } else if (type == "s3") {
    std::string bucket = Text(node, "bucket"), prefix = path;
    if (!url.empty() && !bucket.empty()) return Status::InvalidArgument(where + ": cannot specify url & bucket for s3 replica");
    std::string query;
    if (!url.empty()) {
      std::string rest = url.substr(5);
      if (size_t q = rest.find('?'); q != std::string::npos) {
        query = rest.substr(q + 1);
        rest = rest.substr(0, q);
      }
      bucket = rest.substr(0, rest.find('/'));
      prefix = rest.find('/') == std::string::npos ? "" : rest.substr(rest.find('/') + 1);
    }
    if (bucket.empty()) return Status::InvalidArgument(where + ": bucket required for s3 replica");
    const std::string endpoint = Text(node, "endpoint"), region = Text(node, "region"), path_style = Text(node, "force-path-style");
    auto add = [&](const std::string& k, const std::string& v) {
      if (v.empty() || query.find(k + "=") != std::string::npos) return;
      query += (query.empty() ? "" : "&") + k + "=" + v;
    };
    add("endpoint", endpoint);
    add("region", region);
    add("forcePathStyle", path_style);
    r.url = "s3://" + bucket + "/" + TrimSlashes(prefix) + (query.empty() ? "" : "?" + query);
    r.credentials.access_key_id = Text(node, "access-key-id").empty() ? global.access_key_id : Text(node, "access-key-id");
    r.credentials.secret_access_key = Text(node, "secret-access-key").empty() ? global.secret_access_key : Text(node, "secret-access-key");
  } else {
    return Status::InvalidArgument(where + ": replica type " + type + " is not supported here (file and s3 are)");
  }
  if (Status s = Duration(node, "sync-interval", where, &r.sync_interval); !s.ok()) return s;
  if (Status s = Duration(node, "snapshot-interval", where, &r.snapshot_interval); !s.ok()) return s;
  if (Status s = Duration(node, "retention", where, &r.retention); !s.ok()) return s;
  return r;
}

// The parts of a replica URL that say where it is: scheme, bucket or directory, and path.
std::string Place(const std::string& url) {
  std::string u = url.substr(0, url.find('?'));
  if (u.rfind("file://", 0) == 0) return "file:" + std::filesystem::path(u.substr(7)).lexically_normal().string();
  if (u.rfind("s3://", 0) == 0) {
    std::string rest = u.substr(5);
    const std::string bucket = rest.substr(0, rest.find('/'));
    const std::string prefix = rest.find('/') == std::string::npos ? "" : rest.substr(rest.find('/') + 1);
    return "s3:" + bucket + "/" + TrimSlashes(prefix);
  }
  return u;
}

}  // namespace

std::optional<std::chrono::milliseconds> ParseGoDuration(const std::string& text) {
  if (text == "0") return std::chrono::milliseconds(0);
  double total_ms = 0;
  size_t i = 0;
  if (text.empty()) return std::nullopt;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (i == start) return std::nullopt;
    double value;
    try {
      value = std::stod(text.substr(start, i - start));
    } catch (...) {
      return std::nullopt;
    }
    size_t unit_start = i;
    while (i < text.size() && !std::isdigit(static_cast<unsigned char>(text[i])) && text[i] != '.') ++i;
    const std::string unit = text.substr(unit_start, i - unit_start);
    double ms;
    if (unit == "h") ms = value * 3600e3;
    else if (unit == "m") ms = value * 60e3;
    else if (unit == "s") ms = value * 1e3;
    else if (unit == "ms") ms = value;
    else if (unit == "us" || unit == "µs") ms = value / 1e3;
    else if (unit == "ns") ms = value / 1e6;
    else return std::nullopt;
    total_ms += ms;
  }
  if (total_ms > 1e13) return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(total_ms));
}

std::string DefaultBackupConfigPath() {
  if (const char* v = std::getenv("LITESTREAM_CONFIG"); v && *v) return v;
  return "/etc/litestream.yml";
}

Result<BackupConfig> ReadBackupConfig(const std::string& file, bool expand_env) {
  BackupConfig config;
  config.file = ExpandPath(file);
  std::error_code ec;
  if (!std::filesystem::exists(config.file, ec)) return Status::NotFound("config file not found: " + config.file);
  auto text = ReadWholeFile(config.file);
  if (!text.ok()) return text.status();
  YAML::Node root;
  try {
    root = YAML::Load(expand_env ? ExpandEnv(*text) : *text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(config.file + ": " + e.what());
  }
  if (!root.IsMap()) return Status::InvalidArgument(config.file + ": expected a map with dbs:");
  const S3Credentials global{Text(root, "access-key-id"), Text(root, "secret-access-key")};
  config.credentials = global;
  const YAML::Node dbs = root["dbs"];
  if (!dbs || !dbs.IsSequence() || dbs.size() == 0) return Status::InvalidArgument(config.file + ": no database under dbs:");
  for (size_t i = 0; i < dbs.size(); ++i) {
    const YAML::Node db = dbs[i];
    const std::string where = config.file + ": dbs[" + std::to_string(i) + "]";
    if (!db.IsMap() || Text(db, "path").empty()) return Status::InvalidArgument(where + ": a database needs a path");
    DatabaseEntry entry;
    entry.path = ExpandPath(Text(db, "path"));
    std::vector<YAML::Node> replicas;
    if (db["replicas"] && db["replicas"].IsSequence()) {
      for (const auto& r : db["replicas"]) replicas.push_back(r);
    }
    if (db["replica"]) replicas.push_back(db["replica"]);
    if (replicas.empty()) return Status::InvalidArgument(where + " (" + entry.path + "): no replica");
    for (size_t j = 0; j < replicas.size(); ++j) {
      auto r = ReadReplica(replicas[j], where + ".replicas[" + std::to_string(j) + "]", global);
      if (!r.ok()) return r.status();
      entry.replicas.push_back(std::move(r).value());
    }
    config.dbs.push_back(std::move(entry));
  }
  return config;
}

Result<const DatabaseEntry*> EntryForDatabase(const BackupConfig& config, const std::string& db_path, bool sole_entry_maps) {
  const std::string want = ExpandPath(db_path);
  for (const DatabaseEntry& e : config.dbs)
    if (e.path == want) return &e;
  if (sole_entry_maps && config.dbs.size() == 1) return &config.dbs.front();
  std::string paths;
  for (const DatabaseEntry& e : config.dbs) paths += (paths.empty() ? "" : ", ") + e.path;
  return Status::InvalidArgument("database not found in config " + config.file + ": " + want + " (it names " + paths + ")");
}

const ReplicaTarget* FindReplicaByUrl(const BackupConfig& config, const std::string& url) {
  const std::string want = Place(url);
  for (const DatabaseEntry& e : config.dbs)
    for (const ReplicaTarget& r : e.replicas)
      if (Place(r.url) == want) return &r;
  return nullptr;
}

}  // namespace litehouse::backup
