// The viewer's image path: an image opened with a decoder checkpoint (and with --saag) is reconstructed and drawn
// exactly as `fresnel infer` + `fresnel render` of the camera the viewer saves (PSNR ≥ 30 dB), under Xvfb (Mesa).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include "core/camera.hpp"
#include "core/gaussian_io.hpp"
#include "core/image_io.hpp"
#include "testutil/cli_runner.hpp"
#include "testutil/testutil.hpp"
#include "train/checkpoint.hpp"
#include "viewer_test_support.hpp"

using namespace fresnel;
namespace fs = std::filesystem;

namespace {

using test::psnr;
using test::run_command;
using test::xvfb_prefix;

// A small model with the built-in encoder (no external weights), random initial weights: the check is that the
// viewer and the command line turn the same image into the same picture, not that the model is good.
std::string tiny_checkpoint(const test::TempDir& dir) {
  torch::manual_seed(3);
  train::ModelConfig cfg;
  cfg.kind = decode::DecoderKind::DirectPatch;
  cfg.encoder = "builtin";
  cfg.decoder.feature_dim = 8;
  cfg.decoder.gaussians_per_patch = 2;
  cfg.decoder.hidden = {16};
  cfg.image_size = 32;
  cfg.depth_mode = "metric";
  train::FresnelModel model(cfg);
  const std::string path = dir.file("tiny.pt");
  train::save_checkpoint(path, model, nullptr, train::TrainingState{});
  return path;
}

// A red disc and a blue square on grey.
std::string test_image(const test::TempDir& dir) {
  auto yy = torch::arange(48).view({48, 1}).to(torch::kFloat32),
       xx = torch::arange(48).view({1, 48}).to(torch::kFloat32);
  auto disc = ((yy - 20).pow(2) + (xx - 18).pow(2) < 100).to(torch::kFloat32).unsqueeze(-1);
  auto square = ((yy > 28) & (yy < 42) & (xx > 28) & (xx < 42)).to(torch::kFloat32).unsqueeze(-1);
  auto img = torch::full({48, 48, 3}, 0.5f);
  img = img * (1 - disc) + disc * torch::tensor({0.9f, 0.1f, 0.1f});
  img = img * (1 - square) + square * torch::tensor({0.1f, 0.2f, 0.9f});
  save_image(dir.file("shapes.png"), img);
  return dir.file("shapes.png");
}

// Screenshot of IMAGE reconstructed by the viewer vs the same reconstruction from `fresnel infer`, rendered by
// `fresnel render` with the camera the viewer saved; returns the PSNR and checks the shot is not background.
double viewer_vs_cli(const test::TempDir& dir, const std::string& image, const std::string& checkpoint,
                     const std::string& mode /* "" or "--saag" */, torch::Tensor* screenshot) {
  const std::string tag = mode.empty() ? "decoder" : "saag";
  const std::string shot = dir.file(tag + "_shot.png"), cams = dir.file(tag + "_camera.json");
  const std::string bg = "0.1,0.2,0.3";
  const auto v = run_command(xvfb_prefix() + FRESNEL_VIEWER_EXE + " " + image + " --checkpoint " + checkpoint + " " +
                             mode + " --screenshot " + shot + " --save-camera " + cams +
                             " --size 96x80 --yaw 25 --pitch 10" + " --background " + bg);
  EXPECT_EQ(v.exit_code, 0) << v.output;
  if (v.exit_code != 0) return 0.0;
  const std::string ply = dir.file(tag + ".ply");
  const auto inf =
      test::run_fresnel("--quiet infer " + image + " --checkpoint " + checkpoint + " " + mode + " -o " + ply);
  EXPECT_EQ(inf.exit_code, 0) << inf.output;
  const std::string out = dir.file(tag + "_render");
  const auto ren =
      test::run_fresnel("--quiet render " + ply + " --cameras " + cams + " --out " + out + " --background " + bg);
  EXPECT_EQ(ren.exit_code, 0) << ren.output;
  if (inf.exit_code != 0 || ren.exit_code != 0) return 0.0;

  const torch::Tensor a = load_image(shot), b = load_image(out + "/view_0000.png");
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{80, 96, 3}));
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes()) return 0.0;
  const auto background = torch::tensor({0.1f, 0.2f, 0.3f});
  const double covered = ((a - background).abs().amax(-1) > 0.05).to(torch::kFloat32).mean().item<double>();
  EXPECT_GT(covered, 0.05) << tag << ": screenshot is (almost) only background";
  *screenshot = a;
  return psnr(a, b);
}

}  // namespace

TEST(ViewerImage, CheckpointDecoderAndSaagMatchInferAndRender) {
  test::TempDir dir;
  const std::string image = test_image(dir), checkpoint = tiny_checkpoint(dir);
  torch::Tensor decoder_shot, saag_shot;
  const double decoder = viewer_vs_cli(dir, image, checkpoint, "", &decoder_shot);
  EXPECT_GE(decoder, 30.0) << "learned decoder: viewer vs infer+render PSNR " << decoder << " dB";
  const double saag = viewer_vs_cli(dir, image, checkpoint, "--saag", &saag_shot);
  EXPECT_GE(saag, 30.0) << "SAAG: viewer vs infer+render PSNR " << saag << " dB";
  // --saag really switches the generator ("Use Learned Decoder" off): the two pictures differ.
  if (decoder_shot.defined() && saag_shot.defined()) {
    EXPECT_LT(psnr(decoder_shot, saag_shot), 25.0);
  }
  std::printf("viewer vs infer+render PSNR: decoder %.2f dB, SAAG %.2f dB\n", decoder, saag);
}

TEST(ViewerImage, MissingCheckpointNamesTheFile) {
  test::TempDir dir;
  const std::string image = test_image(dir);
  const auto r = run_command(std::string(FRESNEL_VIEWER_EXE) + " " + image + " --checkpoint " + dir.file("nope.pt") +
                             " --screenshot " + dir.file("x.png"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("nope.pt"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.file("x.png")));
}
