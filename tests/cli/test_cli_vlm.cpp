// `fresnel preprocess --use_vlm` and `fresnel vlm` against an LM-Studio-like server on loopback (inside this test
// binary): maps written, a re-run asks nothing, training uses them, and the exit codes of the failure policy.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "core/image_io.hpp"
#include "core/npy.hpp"
#include "testutil/cli_runner.hpp"
#include "testutil/fake_vlm_server.hpp"
#include "testutil/testutil.hpp"

using fresnel::test::FakeVlmServer;
using fresnel::test::run_fresnel;
namespace fs = std::filesystem;

namespace {

// Three synthetic renders in the single-view layout (DIR/d/images/*.png).
std::string synth_images(const fresnel::test::TempDir& tmp) {
  const auto r = run_fresnel("--quiet synth --out " + tmp.path() +
                             "/d --objects 3 --views 1 --size 32 --seed 4 --split 1,0,0 --aa 1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return tmp.path() + "/d/images";
}

std::vector<std::string> maps_in(const std::string& dir) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find("_vlm_density.npy") != std::string::npos) out.push_back(e.path().string());
  return out;
}

}  // namespace

TEST(CliVlm, PreprocessWritesMapsReRunAsksNothingAndTrainingUsesThem) {
  fresnel::test::TempDir tmp;
  const std::string images = synth_images(tmp);
  FakeVlmServer server;
  server.set_responder([](const fresnel::test::ChatRequest&) {
    return "```\n0.2 0.2 0.2 0.2\n0.2 1.0 1.0 0.2\n0.2 0.8 0.8 0.2\n0.1 0.1 0.1 0.1\n```";
  });
  const std::string cmd = "preprocess --data_dir " + images + " --use_vlm --vlm_grid_size 4 --vlm_url " + server.url();
  auto r = run_fresnel(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("3 from the VLM"), std::string::npos) << r.output;
  const auto maps = maps_in(images + "/features");
  ASSERT_EQ(maps.size(), 3u);
  for (const auto& m : maps) {
    const auto t = fresnel::load_npy(m);
    EXPECT_EQ(t.scalar_type(), torch::kFloat);
    EXPECT_EQ(t.sizes(), (torch::IntArrayRef{4, 4}));
    EXPECT_FLOAT_EQ(t[1][1].item<float>(), 1.0f);
    EXPECT_FLOAT_EQ(t[3][0].item<float>(), 0.1f);
  }
  EXPECT_EQ(server.chat_count(), 3u);
  EXPECT_TRUE(server.rejected().empty());
  for (const auto& c : server.chats()) EXPECT_EQ(c.max_tokens, 512);

  r = run_fresnel(cmd);  // second run: every map exists, nothing is asked
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("3 already present"), std::string::npos) << r.output;
  EXPECT_EQ(server.loopback().request_count(), 4u);  // 1 models check + 3 chats, all from the first run

  r = run_fresnel(
      "--quiet train --experiment 2 --encoder builtin --feature_dim 8 --decoder_hidden 16 "
      "--gaussians_per_patch 1 --data_dir " +
      images +
      " --image_size 32 --epochs 1 --batch_size 3 --num_workers 1 --use_vlm_guidance --vlm_weight 0.5 "
      "--output_dir " +
      tmp.path() + "/run");
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(CliVlm, ServerDownGoesOnUnlessRequired) {
  fresnel::test::TempDir tmp;
  const std::string images = synth_images(tmp);
  const std::string url = "http://127.0.0.1:" + std::to_string(fresnel::test::closed_port()) + "/v1/chat/completions";
  auto r = run_fresnel("preprocess --data_dir " + images + " --use_vlm --vlm_url " + url);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Cannot connect to VLM at " + url), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("3 without a map"), std::string::npos) << r.output;
  EXPECT_TRUE(maps_in(images + "/features").empty());
  r = run_fresnel("preprocess --data_dir " + images + " --use_vlm --vlm_required --vlm_url " + url);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("Cannot connect to VLM"), std::string::npos) << r.output;
  // The fallback gives every image a map without any server.
  r = run_fresnel("preprocess --data_dir " + images + " --vlm_fallback saliency");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("3 from the fallback"), std::string::npos) << r.output;
  EXPECT_EQ(maps_in(images + "/features").size(), 3u);
}

TEST(CliVlm, NonGridReplyIsLoggedWithItsFirstLineAndRequiredFails) {
  fresnel::test::TempDir tmp;
  const std::string images = synth_images(tmp);
  FakeVlmServer server;
  server.set_responder([](const fresnel::test::ChatRequest&) { return "I can't see any details here.\nSorry."; });
  const std::string cmd = "preprocess --data_dir " + images + " --use_vlm --vlm_url " + server.url();
  auto r = run_fresnel(cmd);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("first line: I can't see any details here."), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("3 without a map"), std::string::npos) << r.output;
  EXPECT_TRUE(maps_in(images + "/features").empty());
  r = run_fresnel(cmd + " --vlm_required");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("--vlm_required"), std::string::npos) << r.output;
  EXPECT_EQ(server.chat_count(), 3u);  // the second run answered from the cache
}

TEST(CliVlm, VlmCommandPrintsTheGridAndWritesPictures) {
  fresnel::test::TempDir tmp;
  fresnel::save_image(tmp.file("cat.png"), torch::rand({24, 32, 3}));
  FakeVlmServer server;
  server.set_responder([](const fresnel::test::ChatRequest& c) -> std::string {
    if (FakeVlmServer::asked_grid(c.prompt))
      return FakeVlmServer::grid_reply(FakeVlmServer::asked_grid(c.prompt), 0.7f);
    if (c.prompt.find("semantic regions") != std::string::npos)
      return R"([{"label": "cat", "importance": "critical", "bbox": [0.2, 0.1, 0.8, 0.9]}])";
    return R"([{"name": "cat", "position": "center", "depth": 0.3}])";
  });
  auto r = run_fresnel("vlm " + tmp.file("cat.png") + " -v -g 4 -o " + tmp.file("out") + " --url " + server.url());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("0.70 0.70 0.70 0.70"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cat (critical)"), std::string::npos) << r.output;
  for (const char* f :
       {"cat_density.png", "cat_density.npy", "cat_segments.png", "cat_segments.json", "cat_depth.json"})
    EXPECT_TRUE(fs::exists(tmp.file(std::string("out/") + f))) << f;
  const auto overlay = fresnel::load_image(tmp.file("out/cat_density.png"));
  EXPECT_EQ(overlay.size(0), 24);
  EXPECT_EQ(overlay.size(1), 32);
  EXPECT_EQ(server.chat_count(), 3u);  // density, segmentation, depth

  const std::string down = "http://127.0.0.1:" + std::to_string(fresnel::test::closed_port());
  r = run_fresnel("vlm " + tmp.file("cat.png") + " --url " + down);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("Cannot connect to VLM"), std::string::npos) << r.output;
  r = run_fresnel("vlm " + tmp.file("cat.png") + " -g 4 --vlm_fallback saliency --url " + down);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("saliency"), std::string::npos) << r.output;
  r = run_fresnel("vlm --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--visualize", "--output", "--grid_size", "--smart", "--remove_background", "--url",
                           "--vlm_model", "--vlm_timeout", "--vlm_fallback"})
    EXPECT_NE(r.output.find(flag), std::string::npos) << flag;
}
