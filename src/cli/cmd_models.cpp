// `fresnel models`: which pretrained weight files are present, whether each one fits its architecture tensor by
// tensor, and therefore which pipeline paths can run.
#include <opencv2/dnn.hpp>

#include <filesystem>
#include <iomanip>
#include <iostream>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/safetensors.hpp"
#include "encode/weights.hpp"
#include "metrics/lpips.hpp"

namespace fresnel::cli {
namespace fs = std::filesystem;

namespace {

int64_t count_params(const encode::ShapeTable& t) {
  int64_t n = 0;
  for (const auto& [name, s] : t) {
    int64_t k = 1;
    for (auto d : s) k *= d;
    n += k;
  }
  return n;
}

std::string millions(int64_t n) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(1) << n / 1e6 << "M";
  return o.str();
}

struct Found {
  std::vector<std::string> dinov2, depth, lpips, onnx;
  int bad = 0;
};

void check_safetensors(const std::string& path, Found& found) {
  const std::string name = fs::path(path).filename().string();
  try {
    auto f = SafetensorsFile::open(path);
    const auto kind = encode::detect_checkpoint(f);
    if (kind == encode::CheckpointKind::Unknown) {
      if (f.contains("lin0.model.1.weight")) {
        // LPIPS: its own loader validates every tensor (presence, shape, finite, non-negative linear weights).
        try {
          auto lp = Lpips::load(path);
          std::cout << "  " << name << ": OK — LPIPS (" << lpips_net_name(lp->net()) << "), " << f.keys().size()
                    << " tensors\n";
          found.lpips.push_back(name);
        } catch (const std::exception& e) {
          ++found.bad;
          std::cout << "  " << name << ": BROKEN — LPIPS: " << e.what() << "\n";
        }
      } else {
        std::cout << "  " << name << ": not an encoder checkpoint (" << f.keys().size() << " tensors)\n";
      }
      return;
    }
    const auto table = encode::canonical_shapes(f);
    encode::ShapeTable expected;
    std::string label;
    const bool is_dino = kind == encode::CheckpointKind::Dinov2Hf || kind == encode::CheckpointKind::Dinov2Original;
    if (is_dino) {
      auto c = encode::infer_dinov2_config(table, "", f.metadata());
      expected = encode::dinov2_parameter_shapes(c);
      label = "DINOv2-" + c.name + " (width " + std::to_string(c.hidden) + ", " + std::to_string(c.layers) + " blocks" +
              (c.registers ? ", " + std::to_string(c.registers) + " registers" : "") + ")";
    } else {
      auto c = encode::infer_depth_anything_config(table, f.metadata());
      expected = encode::depth_anything_parameter_shapes(c);
      label = "Depth Anything V2-" + c.name + " (backbone width " + std::to_string(c.backbone.hidden) + ")";
    }
    const auto problems = encode::compare_shapes(table, expected);
    if (problems.empty()) {
      std::cout << "  " << name << ": OK — " << label << ", " << to_string(kind) << ", " << table.size() << " tensors, "
                << millions(count_params(expected)) << " parameters\n";
      (is_dino ? found.dinov2 : found.depth).push_back(name);
    } else {
      ++found.bad;
      std::cout << "  " << name << ": BROKEN — " << label << ": " << problems.size() << " problem(s)\n";
      for (size_t i = 0; i < problems.size() && i < 10; ++i) std::cout << "      " << problems[i] << "\n";
      if (problems.size() > 10) std::cout << "      … and " << problems.size() - 10 << " more\n";
    }
  } catch (const std::exception& e) {
    ++found.bad;
    std::cout << "  " << name << ": BROKEN — " << e.what() << "\n";
  }
}

void check_onnx(const std::string& path, Found& found) {
  const std::string name = fs::path(path).filename().string();
  try {
    auto net = cv::dnn::readNetFromONNX(path);
    if (net.empty()) throw Error("empty network");
    std::cout << "  " << name << ": ONNX model, loads with OpenCV DNN (usable as --bg_model)\n";
    found.onnx.push_back(name);
  } catch (const std::exception& e) {
    ++found.bad;
    std::cout << "  " << name << ": BROKEN — OpenCV DNN cannot load it: " << e.what() << "\n";
  }
}

}  // namespace

void register_models(CLI::App& app) {
  auto* cmd = app.add_subcommand("models",
                                 "List pretrained weight files, check every tensor's name and shape against the "
                                 "architecture, and show which pipeline paths are available");
  auto dir = std::make_shared<std::string>("models");
  cmd->add_option("--dir", *dir, "Folder holding weight files (*.safetensors, *.onnx)")->capture_default_str();
  set_guarded_callback(cmd, [dir] {
    if (!fs::is_directory(*dir))
      throw file_error(*dir,
                       "models folder not found. Put official weights there (see docs/encoders.md): "
                       "facebook/dinov2-small model.safetensors, depth-anything/Depth-Anything-V2-Small-hf "
                       "model.safetensors, optionally rembg's u2net.onnx");
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(*dir))
      if (e.is_regular_file()) files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    Found found;
    std::cout << "weight files in " << *dir << ":\n";
    int listed = 0;
    for (const auto& p : files) {
      const auto ext = fs::path(p).extension().string();
      if (ext == ".safetensors")
        check_safetensors(p, found), ++listed;
      else if (ext == ".onnx")
        check_onnx(p, found), ++listed;
    }
    if (listed == 0) std::cout << "  (none: no *.safetensors or *.onnx files)\n";
    auto list = [](const std::vector<std::string>& v) {
      std::string s;
      for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
      return s;
    };
    std::cout << "pipeline paths:\n"
              << "  built-in encoder (train/infer --encoder builtin): available, needs no weights\n"
              << "  DINOv2 features (preprocess): "
              << (found.dinov2.empty() ? "unavailable (no valid DINOv2 checkpoint)"
                                       : "available — " + list(found.dinov2))
              << "\n  Depth Anything depth (preprocess): "
              << (found.depth.empty() ? "unavailable (no valid Depth Anything V2 checkpoint)"
                                      : "available — " + list(found.depth))
              << "\n  LPIPS loss: "
              << (found.lpips.empty() ? "unavailable (no valid LPIPS safetensors; --lpips_weights)"
                                      : "available — " + list(found.lpips))
              << "\n  background removal: alpha channel and built-in GrabCut always; U2-Net ONNX "
              << (found.onnx.empty() ? "unavailable (no loadable .onnx)" : "available — " + list(found.onnx)) << "\n";
    if (found.bad > 0) throw Error(std::to_string(found.bad) + " weight file(s) are broken (see above)");
  });
}

}  // namespace fresnel::cli
