// Progress reporting for long work: on a terminal one updating line with count, rate and ETA;
// otherwise (CI, pipes) a plain line every few seconds. Thread-safe `advance`.
#pragma once
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace fresnel {

class Progress {
 public:
  // total == 0 means unknown total (no ETA).
  Progress(std::string label, int64_t total, std::string unit = "it");
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(int64_t n = 1);
  // Free-form status shown after the counters (e.g. "loss 0.123").
  void set_status(const std::string& status);
  void finish();

  int64_t count() const { return count_; }
  // Formats seconds as "1h02m03s" / "2m03s" / "3.4s".
  static std::string format_duration(double seconds);

 private:
  void render(bool final_line);
  std::string label_, unit_, status_;
  int64_t total_, count_ = 0, drawn_count_ = -1;  // drawn_count_: count shown by the last line
  bool tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
  std::mutex mutex_;
};

}  // namespace fresnel
