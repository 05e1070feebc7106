#include "train/history.hpp"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>
#include <sstream>
#include <vector>

#include "core/atomic_write.hpp"
#include "core/error.hpp"

namespace fresnel::train {

namespace fs = std::filesystem;

void append_history_row(nlohmann::json& history, const std::map<std::string, double>& row) {
  size_t epochs = 0;
  for (auto it = history.begin(); it != history.end(); ++it) epochs = std::max(epochs, it.value().size());
  for (const auto& [key, value] : row) {
    if (!history.contains(key)) history[key] = nlohmann::json(std::vector<std::nullptr_t>(epochs, nullptr));
    history[key].push_back(value);
  }
  for (auto it = history.begin(); it != history.end(); ++it)
    if (it.value().size() == epochs) it.value().push_back(nullptr);
}

bool is_epoch_info_key(const std::string& key) {
  static const std::set<std::string> kInfo = {"seconds",         "skipped",  "lr", "resolution", "gaussians_per_patch",
                                              "peak_memory_mib", "grad_norm"};
  // "val_…": validation metrics (e.g. CVS's val_psnr_1step), not losses.
  return kInfo.count(key) > 0 || key.rfind("val_", 0) == 0;
}

void write_history_files(const std::string& dir, const std::string& tag, const nlohmann::json& history, bool plot) {
  const auto base = fs::path(dir);
  write_text_file((base / ("training_history_" + tag + ".json")).string(), history.dump(2));
  std::ostringstream csv;
  csv << "epoch";
  size_t epochs = 0;
  for (auto it = history.begin(); it != history.end(); ++it) {
    csv << "," << it.key();
    epochs = std::max(epochs, it.value().size());
  }
  csv << "\n";
  for (size_t i = 0; i < epochs; ++i) {
    csv << i + 1;
    for (auto it = history.begin(); it != history.end(); ++it) {
      const auto& v = it.value();
      csv << "," << (i < v.size() && !v[i].is_null() ? v[i].dump() : "");
    }
    csv << "\n";
  }
  write_text_file((base / ("training_history_" + tag + ".csv")).string(), csv.str());
  if (plot) write_loss_plot((base / ("training_metrics_" + tag + ".png")).string(), history);
}

void write_loss_plot(const std::string& path, const nlohmann::json& history) {
  const int W = 800, H = 480, L = 70, R = 150, T = 30, B = 50;
  static const cv::Scalar kPalette[] = {{200, 60, 30},  {40, 140, 40},  {30, 30, 200}, {0, 140, 200},
                                        {160, 40, 160}, {120, 120, 0},  {90, 90, 90},  {0, 90, 160},
                                        {160, 100, 40}, {60, 160, 160}, {40, 40, 120}, {150, 150, 210}};
  std::vector<std::string> keys;
  double lo = 1e300, hi = -1e300;
  size_t n = 0;
  for (auto it = history.begin(); it != history.end(); ++it) {
    if (is_epoch_info_key(it.key())) continue;
    keys.push_back(it.key());
    n = std::max(n, it.value().size());
    for (const auto& v : it.value())
      if (v.is_number()) lo = std::min(lo, v.get<double>()), hi = std::max(hi, v.get<double>());
  }
  // Terms of very different sizes share one plot on a log scale.
  const bool log_scale = lo > 0 && hi / lo > 100;
  auto y_of = [&](double v) { return log_scale ? std::log10(v) : v; };
  cv::Mat img(H, W, CV_8UC3, cv::Scalar(255, 255, 255));
  cv::rectangle(img, {L, T}, {W - R, H - B}, {0, 0, 0}, 1);
  cv::putText(img, log_scale ? "epoch (loss on a log scale)" : "epoch", {W / 2 - 80, H - 12}, cv::FONT_HERSHEY_SIMPLEX,
              0.5, {0, 0, 0}, 1);
  if (n > 0 && hi >= lo) {
    double ylo = y_of(lo), yhi = y_of(hi);
    if (yhi - ylo < 1e-12) yhi = ylo + 1;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.4g", hi);
    cv::putText(img, buf, {4, T + 5}, cv::FONT_HERSHEY_SIMPLEX, 0.4, {0, 0, 0}, 1);
    std::snprintf(buf, sizeof buf, "%.4g", lo);
    cv::putText(img, buf, {4, H - B}, cv::FONT_HERSHEY_SIMPLEX, 0.4, {0, 0, 0}, 1);
    std::snprintf(buf, sizeof buf, "%zu", n);
    cv::putText(img, buf, {W - R - 20, H - B + 18}, cv::FONT_HERSHEY_SIMPLEX, 0.4, {0, 0, 0}, 1);
    int legend_y = T + 12;
    for (size_t s = 0; s < keys.size(); ++s) {
      const auto& v = history[keys[s]];
      const cv::Scalar colour = kPalette[s % (sizeof kPalette / sizeof kPalette[0])];
      std::vector<cv::Point> pts;
      for (size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_number()) continue;
        const double x = n > 1 ? double(i) / double(n - 1) : 0.5;
        const double y = (y_of(v[i].get<double>()) - ylo) / (yhi - ylo);
        pts.emplace_back(L + int(x * (W - L - R)), H - B - int(y * (H - T - B)));
      }
      if (pts.empty()) continue;
      cv::polylines(img, pts, false, colour, keys[s] == "total" ? 3 : 1, cv::LINE_AA);
      cv::putText(img, keys[s], {W - R + 8, legend_y}, cv::FONT_HERSHEY_SIMPLEX, 0.45, colour, 1);
      legend_y += 18;
    }
  }
  atomic_write_path(path, [&](const std::string& tmp) {
    if (!cv::imwrite(tmp + ".png", img)) throw file_error(path, "cannot write plot");
    fs::rename(tmp + ".png", tmp);
  });
}

}  // namespace fresnel::train
