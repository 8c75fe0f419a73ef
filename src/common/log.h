// Logging: one line per event on stderr, with a level (spdlog). Every module logs through these
// macros so the sink and format are chosen in one place (InitLogging, called by the CLI).
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace litehouse {

// Sets the global logger: stderr, "<time> <LEVEL> <message>". `level` is one of
// trace, debug, info, warn, error, off; an unknown name leaves info and returns false.
bool InitLogging(std::string_view level);

}  // namespace litehouse

// Every level is compiled in (spdlog's SPDLOG_DEBUG/SPDLOG_TRACE macros are not, by default), and
// --log-level chooses at run time; a line below the level is not formatted.
#define LH_LOG_TRACE(...) spdlog::trace(__VA_ARGS__)
#define LH_LOG_DEBUG(...) spdlog::debug(__VA_ARGS__)
#define LH_LOG_INFO(...) spdlog::info(__VA_ARGS__)
#define LH_LOG_WARN(...) spdlog::warn(__VA_ARGS__)
#define LH_LOG_ERROR(...) spdlog::error(__VA_ARGS__)
