#include "core/progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <sstream>

#include "core/log.hpp"

namespace fresnel {

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() { finish(); }

std::string Progress::format_duration(double s) {
  char buf[64];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dh%02dm%02ds", int(s) / 3600, (int(s) / 60) % 60, int(s) % 60);
  }
  return buf;
}

void Progress::advance(int64_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  count_ += n;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  // Terminals redraw ~10 times a second; logs get a line every 5 s so CI output stays short.
  if (since >= (tty_ ? 0.1 : 5.0) || (total_ > 0 && count_ >= total_)) {
    last_draw_ = now;
    render(false);
  }
}

void Progress::set_status(const std::string& status) {
  std::lock_guard<std::mutex> lock(mutex_);
  status_ = status;
}

void Progress::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  // Plain logs already hold the final count when advance() drew it; a terminal needs the closing newline.
  if (tty_ || drawn_count_ != count_) render(true);
}

void Progress::render(bool final_line) {
  if (log_level() == LogLevel::Quiet) return;
  drawn_count_ = count_;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? count_ / elapsed : 0.0;
  std::ostringstream line;
  line << label_ << " " << count_;
  if (total_ > 0) {
    line << "/" << total_ << " (" << (100 * count_ / total_) << "%)";
  }
  char rbuf[32];
  std::snprintf(rbuf, sizeof rbuf, "%.2f", rate);
  line << " " << rbuf << " " << unit_ << "/s";
  line << " elapsed " << format_duration(elapsed);
  if (total_ > 0 && rate > 0 && count_ < total_) line << " ETA " << format_duration((total_ - count_) / rate);
  if (!status_.empty()) line << " | " << status_;
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s%s", line.str().c_str(), final_line ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line.str().c_str());
  }
  std::fflush(stderr);
}

}  // namespace fresnel
