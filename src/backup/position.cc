#include "backup/position.h"

#include <cinttypes>
#include <cstdio>
#include <sstream>

namespace litehouse::backup {
namespace {

constexpr const char* kMagic = "litehouse-backup-position 1";

bool IsHex(std::string_view s, size_t n) {
  return s.size() == n && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

bool ParseDecimal(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
  *out = std::stoull(std::string(s));
  return true;
}

}  // namespace

std::string PositionKey(const std::string& generation) { return "generations/" + generation + "/litehouse-position"; }

std::string EncodePosition(const BackupPosition& p) {
  char index[16];
  std::snprintf(index, sizeof index, "%08" PRIx32, p.index);
  return std::string(kMagic) + "\ngeneration " + p.generation + "\nindex " + index + "\noffset " + std::to_string(p.offset) +
         "\nlog_id " + p.log.log_id + "\nframe_no " + std::to_string(p.log.next_frame_no) + "\n";
}

Result<BackupPosition> DecodePosition(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::string line;
  auto field = [&](const char* name, std::string* value) {
    if (!std::getline(in, line)) return false;
    const std::string prefix = std::string(name) + " ";
    if (line.rfind(prefix, 0) != 0) return false;
    *value = line.substr(prefix.size());
    return true;
  };
  BackupPosition p;
  std::string index, offset, frame_no, rest;
  if (!std::getline(in, line) || line != kMagic || !field("generation", &p.generation) || !field("index", &index) ||
      !field("offset", &offset) || !field("log_id", &p.log.log_id) || !field("frame_no", &frame_no) ||
      std::getline(in, rest)) {
    return Status::Corruption("not a backup position (litehouse-backup-position 1)");
  }
  if (!IsHex(p.generation, 16) || !IsHex(index, 8) || !ParseDecimal(offset, &p.offset) ||
      !ParseDecimal(frame_no, &p.log.next_frame_no) || p.log.log_id.empty() || p.log.log_id.size() > 64 ||
      p.log.log_id.find_first_not_of("0123456789abcdef-") != std::string::npos) {
    return Status::Corruption("a backup position with a malformed field");
  }
  p.index = static_cast<uint32_t>(std::stoul(index, nullptr, 16));
  return p;
}

}  // namespace litehouse::backup
