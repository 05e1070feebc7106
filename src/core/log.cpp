#include "core/log.hpp"

#include <atomic>
#include <iostream>
#include <mutex>

namespace fresnel {

static std::atomic<int> g_level{static_cast<int>(LogLevel::Info)};
static std::mutex g_log_mutex;

void set_log_level(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel log_level() { return static_cast<LogLevel>(g_level.load()); }

void log_info(const std::string& message) {
  if (g_level < static_cast<int>(LogLevel::Info)) return;
  std::lock_guard<std::mutex> lock(g_log_mutex);
  std::cerr << message << std::endl;
}

void log_warn(const std::string& message) {
  std::lock_guard<std::mutex> lock(g_log_mutex);
  std::cerr << "warning: " << message << std::endl;
}

void log_debug(const std::string& message) {
  if (g_level < static_cast<int>(LogLevel::Debug)) return;
  std::lock_guard<std::mutex> lock(g_log_mutex);
  std::cerr << "debug: " << message << std::endl;
}

}  // namespace fresnel
