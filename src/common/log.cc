#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <string>

namespace litehouse {

bool InitLogging(std::string_view level) {
  auto logger = spdlog::stderr_logger_mt("litehouse");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
  auto parsed = spdlog::level::from_str(std::string(level));
  bool known = parsed != spdlog::level::off || level == "off";
  spdlog::set_level(known ? parsed : spdlog::level::info);
  return known;
}

}  // namespace litehouse
