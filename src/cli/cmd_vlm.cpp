// `fresnel vlm`: the original's vlm_guidance.py — ask a vision-language model where an image needs detail. Prints the
// density grid, segmentation and depth hints; with -v writes the heat map, the grid (.npy) and the segment boxes.
#include <torch/torch.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "cli/vlm_flags.hpp"
#include "core/atomic_write.hpp"
#include "core/image_io.hpp"
#include "core/log.hpp"
#include "encode/background_removal.hpp"
#include "encode/image_preprocess.hpp"
#include "guide/density_batch.hpp"
#include "guide/saliency.hpp"
#include "guide/visualize.hpp"

namespace fresnel::cli {
namespace fs = std::filesystem;

namespace {

struct VlmCommandOptions {
  std::vector<std::string> images;
  bool visualize = false;
  std::string output = "vlm_output";
  int grid = 8;
  bool smart = false;
  bool remove_background = false;
  std::string bg_model;
  std::string fallback = "none";
  guide::VlmOptions vlm;
};

void print_grid(const guide::DensityGrid& grid, int g) {
  for (int i = 0; i < g; ++i) {
    std::string row = "  ";
    for (int j = 0; j < g; ++j) {
      char cell[16];
      std::snprintf(cell, sizeof cell, "%s%.2f", j ? " " : "", grid[static_cast<size_t>(i) * g + j]);
      row += cell;
    }
    std::cout << row << "\n";
  }
}

// -r: the image the encoders would see after background removal (518², black background), as PNG bytes.
std::string remove_background_png(encode::BackgroundRemover& remover, const std::string& path, cv::Mat& bgr) {
  auto prepared = remover.prepare(encode::to_u8(load_image(path, /*keep_alpha=*/true))).rgb.contiguous();
  cv::Mat rgb(static_cast<int>(prepared.size(0)), static_cast<int>(prepared.size(1)), CV_8UC3, prepared.data_ptr());
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::vector<uchar> png;
  cv::imencode(".png", bgr, png);
  return std::string(png.begin(), png.end());
}

}  // namespace

void register_vlm(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "vlm",
      "Ask a vision-language model (LM Studio or any OpenAI-compatible server) where IMAGE needs detail: prints the "
      "density grid, segmentation and depth hints; -v writes {name}_density.png (heat map), {name}_density.npy and "
      "{name}_segments.png to -o. See docs/vlm.md.");
  auto o = std::make_shared<VlmCommandOptions>();
  cmd->add_option("images", o->images, "Image file(s)")->required()->check(CLI::ExistingFile);
  cmd->add_flag("-v,--visualize", o->visualize, "Write the heat map, the grid (.npy) and the segments picture");
  cmd->add_option("-o,--output", o->output, "Output folder for -v")->capture_default_str();
  cmd->add_option("-g,--grid_size", o->grid, "Density grid size")
      ->check(CLI::IsMember({4, 8, 16}))
      ->capture_default_str();
  cmd->add_flag("-s,--smart", o->smart, "Ask the image type first; faces get a landmark blob map");
  cmd->add_flag("-r,--remove_background", o->remove_background,
                "Remove the background first (as preprocess --remove_background; writes {name}_no_bg.png with -v)");
  cmd->add_option("--bg_model", o->bg_model, "U2-Net ONNX model for -r (default: built-in GrabCut)");
  add_vlm_client_flags(cmd, o->vlm, "--url");
  add_vlm_fallback_flag(cmd, o->fallback);

  set_guarded_callback(cmd, [o] {
    o->vlm.api_key = guide::VlmOptions::api_key_from_env();
    const int g = o->grid;
    bool vlm_ok = true;
    try {
      guide::VlmClient(o->vlm).check_connection();
      std::cout << "Connected to VLM at " << net::redact_url(o->vlm.url) << " (model " << o->vlm.model << ")\n";
    } catch (const guide::VlmUnavailable& e) {
      if (o->fallback == "none") throw;
      log_warn(std::string(e.what()) + ". Using the saliency fallback.");
      vlm_ok = false;
    }
    std::unique_ptr<guide::SaliencyDensity> saliency;
    if (o->fallback == "saliency") saliency = std::make_unique<guide::SaliencyDensity>(g);
    std::unique_ptr<encode::BackgroundRemover> remover;
    if (o->remove_background) remover = std::make_unique<encode::BackgroundRemover>(o->bg_model);
    if (o->visualize) ensure_directory(o->output);

    guide::VlmClient client(o->vlm);
    const guide::ReplyCache no_cache;
    guide::VlmDensity density(client, no_cache, g, o->smart);
    int without = 0;
    for (const auto& path : o->images) {
      const std::string name = fs::path(path).stem().string();
      const auto out = [&](const std::string& suffix) { return (fs::path(o->output) / (name + suffix)).string(); };
      std::cout << "\n" << path << "\n";
      std::string bytes = read_text_file(path);
      cv::Mat bgr = cv::imdecode(std::vector<uchar>(bytes.begin(), bytes.end()), cv::IMREAD_COLOR);
      if (bgr.empty()) throw file_error(path, "not a readable image");
      if (remover) {
        bytes = remove_background_png(*remover, path, bgr);
        if (o->visualize) guide::save_png(out("_no_bg.png"), bgr);
      }
      const auto image = guide::encode_for_vlm(bytes, path);

      guide::DensityResult r;
      if (vlm_ok) r = density.compute(image);
      if (!r.grid && saliency) {
        if (vlm_ok) log_warn(path + ": no VLM density map (" + r.problem + "); using the saliency fallback");
        r = saliency->compute(bgr);
      }
      if (r.grid) {
        std::cout << "Density grid " << g << "x" << g << " (" << r.method << "):\n";
        print_grid(*r.grid, g);
        if (o->visualize) {
          guide::save_density(out("_density.npy"), *r.grid, g);
          guide::save_png(out("_density.png"), guide::density_overlay(bgr, *r.grid, g));
          std::cout << "  wrote " << out("_density.png") << ", " << out("_density.npy") << "\n";
        }
      } else {
        ++without;
        std::cout << "No density grid: " << r.problem << "\n";
      }
      if (!vlm_ok) continue;

      // Segmentation and depth hints (the original's second and third queries); a failure here is reported only.
      int requests = 0;
      try {
        const std::string reply = density.ask(image, guide::segmentation_prompt(), requests);
        auto segments = guide::parse_segments(reply);
        if (!segments) {
          std::cout << "Segmentation hints: not JSON (" << guide::first_line(reply) << ")\n";
        } else {
          std::cout << "Segmentation hints (" << segments->size() << "):\n";
          for (const auto& s : *segments)
            std::cout << "  " << s.label << " (" << s.importance << ") [" << s.bbox[0] << ", " << s.bbox[1] << ", "
                      << s.bbox[2] << ", " << s.bbox[3] << "]\n";
          if (o->visualize) {
            guide::save_png(out("_segments.png"), guide::segments_overlay(bgr, *segments));
            write_text_file(out("_segments.json"), guide::extract_json_array(reply)->dump(2) + "\n");
          }
        }
        const std::string depth_reply = density.ask(image, guide::depth_hints_prompt(), requests);
        if (auto depth = guide::extract_json_array(depth_reply)) {
          std::cout << "Depth hints (nearest first):\n";
          for (const auto& item : *depth) std::cout << "  " << item.dump() << "\n";
          if (o->visualize) write_text_file(out("_depth.json"), depth->dump(2) + "\n");
        } else {
          std::cout << "Depth hints: not JSON (" << guide::first_line(depth_reply) << ")\n";
        }
      } catch (const Error& e) {
        std::cout << "Segmentation/depth hints failed: " << e.what() << "\n";
      }
    }
    if (without > 0) throw Error(std::to_string(without) + " image(s) got no density grid (reasons above)");
  });
}

}  // namespace fresnel::cli
