// Minimal leveled logging to stderr; --quiet silences info.
#pragma once
#include <string>

namespace fresnel {

enum class LogLevel { Quiet = 0, Info = 1, Debug = 2 };

void set_log_level(LogLevel level);
LogLevel log_level();

void log_info(const std::string& message);
void log_warn(const std::string& message);
void log_debug(const std::string& message);

}  // namespace fresnel
