// `fresnel infer` and `fresnel decode` behind the command line: a tiny checkpoint saved here, a synthetic image,
// and feature/depth files in the original's raw layout.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/camera.hpp"
#include "core/error.hpp"
#include "core/feature_files.hpp"
#include "core/image_io.hpp"
#include "infer/feature_decoding.hpp"
#include "infer/image_reconstruction.hpp"
#include "infer_test_support.hpp"
#include "testutil/testutil.hpp"

using namespace fresnel;
using namespace fresnel::infer;
using fresnel::test::save_tiny_checkpoint;

namespace {

// A red disc on a grey background.
std::string write_test_image(const test::TempDir& dir) {
  auto yy = torch::arange(48).view({48, 1}).to(torch::kFloat32),
       xx = torch::arange(48).view({1, 48}).to(torch::kFloat32);
  auto inside = ((yy - 24).pow(2) + (xx - 24).pow(2) < 144).to(torch::kFloat32).unsqueeze(-1);
  auto img = inside * torch::tensor({0.9f, 0.1f, 0.1f}) + (1 - inside) * torch::tensor({0.5f, 0.5f, 0.5f});
  save_image(dir.file("disc.png"), img);
  return dir.file("disc.png");
}

}  // namespace

TEST(ImageReconstruction, BuiltinCheckpointGivesPixelAlignedGaussians) {
  test::TempDir dir;
  ReconstructionOptions o;
  o.checkpoint = save_tiny_checkpoint(dir, "builtin", 8);
  ImageReconstructor rec(o);
  const auto r = rec.run(write_test_image(dir));
  ASSERT_EQ(r.gaussians.count(), 37 * 37 * 2);
  r.gaussians.validate("reconstruction");
  // In the input camera's frame every Gaussian lies in front of the camera and projects into the image.
  int64_t inside = 0;
  const auto m = r.gaussians.means;
  for (int64_t i = 0; i < m.size(0); i += 7) {
    const Vec3 p = r.input_camera.project({m[i][0].item<double>(), m[i][1].item<double>(), m[i][2].item<double>()});
    ASSERT_GT(p[2], 0);
    inside += p[0] >= 0 && p[0] <= r.input_camera.width && p[1] >= 0 && p[1] <= r.input_camera.height;
  }
  EXPECT_GT(inside, (m.size(0) / 7) * 8 / 10);
  EXPECT_NE(r.method.find("built-in"), std::string::npos) << r.method;
}

TEST(ImageReconstruction, SaagUsesTheCheckpointDepth) {
  test::TempDir dir;
  ReconstructionOptions o;
  o.checkpoint = save_tiny_checkpoint(dir, "builtin", 8);
  o.use_learned_decoder = false;
  ImageReconstructor rec(o);
  const auto r = rec.run(write_test_image(dir));
  EXPECT_GT(r.gaussians.count(), 0);
  r.gaussians.validate("saag");
  EXPECT_NE(r.method.find("SAAG"), std::string::npos) << r.method;
}

TEST(ImageReconstruction, MissingInputsAreClearErrors) {
  test::TempDir dir;
  ReconstructionOptions o;
  EXPECT_THROW(ImageReconstructor{o}, UsageError);  // learned decoder without a checkpoint
  o.checkpoint = dir.file("missing.pt");
  try {
    ImageReconstructor rec(o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.pt"), std::string::npos) << e.what();
  }
  // A model trained on DINOv2 features needs the encoder weights. The message names the options, not one front
  // end's flags (the viewer has no --dinov2).
  o.checkpoint = save_tiny_checkpoint(dir, "precomputed", 12);
  try {
    ImageReconstructor rec(o);
    FAIL() << "expected an error";
  } catch (const UsageError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("dinov2_weights"), std::string::npos) << what;
    EXPECT_EQ(what.find("--"), std::string::npos) << what;
  }
}

TEST(FeatureDecoding, ReadsTheOriginalFileLayout) {
  test::TempDir dir;
  const std::string ckpt = save_tiny_checkpoint(dir, "precomputed", 12);
  // Features (37,37,12) HWC and a 64×64 depth map, raw float32 with no header, as the original wrote them.
  torch::manual_seed(5);
  const auto hwc = torch::randn({37, 37, 12});
  test::write_bytes(dir.file("x_dinov2.bin"),
                    std::string(reinterpret_cast<const char*>(hwc.data_ptr<float>()), hwc.numel() * 4));
  const auto depth = torch::rand({64, 64});
  test::write_bytes(dir.file("x_depth.bin"),
                    std::string(reinterpret_cast<const char*>(depth.data_ptr<float>()), depth.numel() * 4));
  const Gaussians g = decode_feature_files(dir.file("x_dinov2.bin"), dir.file("x_depth.bin"), ckpt);
  EXPECT_EQ(g.count(), 37 * 37 * 2);
  g.validate("decoded");
  // The features were read as HWC: changing one patch's vector changes only that patch's Gaussians.
  auto hwc2 = hwc.clone();
  hwc2[10][20] += 5.0;
  test::write_bytes(dir.file("y_dinov2.bin"),
                    std::string(reinterpret_cast<const char*>(hwc2.data_ptr<float>()), hwc2.numel() * 4));
  const Gaussians g2 = decode_feature_files(dir.file("y_dinov2.bin"), dir.file("x_depth.bin"), ckpt);
  const auto changed = (g.colors - g2.colors).abs().amax(1) > 1e-6;
  ASSERT_EQ(changed.sum().item<int64_t>(), 2);  // K = 2 Gaussians of patch (10,20)
  const auto idx = changed.nonzero().view({-1});
  EXPECT_EQ(idx[0].item<int64_t>(), (10 * 37 + 20) * 2);
  // A file of the wrong size names itself.
  test::write_bytes(dir.file("short_dinov2.bin"), std::string(100, '\0'));
  try {
    decode_feature_files(dir.file("short_dinov2.bin"), dir.file("x_depth.bin"), ckpt);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("short_dinov2.bin"), std::string::npos) << e.what();
  }
}
