#include "backup/catalog.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <regex>

namespace litehouse::backup {

bool ParseRfc3339(const std::string& text, WallClock::time_point* out) {
  std::tm tm{};
  const char* p = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!p) return false;
  long nanos = 0;
  if (*p == '.') {
    ++p;
    long scale = 100'000'000;
    while (*p >= '0' && *p <= '9') {
      nanos += (*p - '0') * scale;
      scale /= 10;
      ++p;
    }
  }
  long offset = 0;
  if (*p == 'Z' || *p == 'z') {
    ++p;
  } else if (*p == '+' || *p == '-') {
    int sign = *p == '-' ? -1 : 1;
    int hh = 0, mm = 0;
    if (std::sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2) return false;
    offset = sign * (hh * 3600 + mm * 60);
    p += 6;
  } else {
    return false;
  }
  if (*p != '\0') return false;
  const time_t secs = timegm(&tm) - offset;
  *out = WallClock::time_point(std::chrono::seconds(secs)) +
         std::chrono::duration_cast<WallClock::duration>(std::chrono::nanoseconds(nanos));
  return true;
}

Result<std::vector<GenerationInfo>> ReadCatalog(ReplicaClient& client) {
  auto listed = client.List("generations");
  if (!listed.ok()) return listed.status();
  static const std::regex kSnapshot(R"(^generations/([0-9a-f]{16})/snapshots/([0-9a-f]{8})\.snapshot\.lz4$)");
  // An offset past 4 GiB takes more than 8 hex digits (Litestream 0.5 reads up to 16; 0.3 none).
  static const std::regex kSegment(R"(^generations/([0-9a-f]{16})/wal/([0-9a-f]{8})_([0-9a-f]{8,16})\.wal\.lz4$)");
  std::map<std::string, GenerationInfo> by_id;
  for (const ObjectInfo& o : *listed) {
    std::smatch m;
    GenerationInfo* g = nullptr;
    if (std::regex_match(o.key, m, kSnapshot)) {
      g = &by_id[m[1]];
      g->snapshots.push_back({static_cast<uint32_t>(std::stoul(m[2], nullptr, 16)), o.size, o.modified, o.key});
    } else if (std::regex_match(o.key, m, kSegment)) {
      g = &by_id[m[1]];
      g->segments.push_back({static_cast<uint32_t>(std::stoul(m[2], nullptr, 16)), std::stoull(m[3], nullptr, 16), o.size, o.modified, o.key});
    } else {
      continue;
    }
    const bool first = g->id.empty();
    g->id = m[1];
    g->created = first ? o.modified : std::min(g->created, o.modified);
    g->updated = first ? o.modified : std::max(g->updated, o.modified);
  }
  std::vector<GenerationInfo> out;
  for (auto& [id, g] : by_id) {
    std::sort(g.snapshots.begin(), g.snapshots.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
    std::sort(g.segments.begin(), g.segments.end(),
              [](const auto& a, const auto& b) { return a.index != b.index ? a.index < b.index : a.offset < b.offset; });
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace litehouse::backup
