// `fresnel cvs` end to end at a tiny scale: synth 8 objects at 32² → cvs train 2 epochs → cvs generate → files;
// --threads 1: tiny tensors gain nothing from a second thread, and on a shared CPU its spin-waits cost 20×.
// info's parameter counts; eval --views_dir; bad input.
#include <gtest/gtest.h>

#include <filesystem>

#include "testutil/cli_runner.hpp"
#include "testutil/testutil.hpp"

using fresnel::test::run_fresnel;
namespace fs = std::filesystem;

namespace {
// A tiny configuration: 32², two stages, narrow widths.
const std::string kTiny =
    " --image_size 32 --base_channels 32 --channel_mult 1 2 --attention_resolutions 16 --cross_attention_dim 32"
    " --pose_embed_dim 32 --time_embed_dim 32 --num_timesteps 100";
}  // namespace

TEST(CliCvs, InfoPrintsTheOriginalsParameterCounts) {
  auto r = run_fresnel("cvs info");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("total: 54274564"), std::string::npos) << r.output;
  r = run_fresnel("cvs info --fast_mode");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("total: 17800582"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\"image_size\":128"), std::string::npos) << r.output;
  r = run_fresnel("cvs info --base_channels 48");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("base_channels"), std::string::npos) << r.output;
}

TEST(CliCvs, SynthTrainGenerateEval) {
  fresnel::test::TempDir tmp;
  const std::string data = tmp.file("data"), ck = tmp.file("ck"), gen = tmp.file("gen");
  auto r = run_fresnel("--threads 1 synth --out " + data + " --objects 8 --views 2 --size 32 --aa 1 --seed 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_fresnel("--threads 1 cvs train --data_dir " + data + " --epochs 2 --batch_size 2 --builtin_channels 16" +
                  kTiny + " --validate_every 1 --validate_steps 1 --checkpoint_dir " + ck);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("val_psnr_1step"), std::string::npos) << r.output;
  for (auto f : {"cvs_epoch2.pt", "cvs_best.pt", "training_history_cvs.json", "training_metrics_cvs.png"})
    EXPECT_TRUE(fs::exists(ck + "/" + f)) << f;
  r = run_fresnel("--threads 1 cvs generate " + data + "/images/obj_00000.png --checkpoint " + ck +
                  "/cvs_epoch2.pt --num_views 3 --camera_mode hemisphere --num_steps 1 -o " + gen);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (auto f : {"view_000.png", "view_001.png", "view_003.png", "cameras.json"})
    EXPECT_TRUE(fs::exists(gen + "/" + f)) << f;
  // Dataset mode at the test split's own cameras, scored by eval --views_dir.
  r = run_fresnel("--threads 1 cvs generate --dataset " + data + " --split val --checkpoint " + ck +
                  "/cvs_epoch2.pt --num_steps 2 --optimize_3dgs --gs_iterations 5 -o " + tmp.file("val_views"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_fresnel("eval --data_dir " + data + " --split val --views_dir " + tmp.file("val_views") + " --out " +
                  tmp.file("report"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(tmp.file("report/report.json")));
  EXPECT_NE(r.output.find("PSNR"), std::string::npos) << r.output;
}

TEST(CliCvs, BadInputIsOneClearError) {
  fresnel::test::TempDir tmp;
  // A checkpoint of another kind (a decoder checkpoint written by fresnel train is not at hand: any file that
  // is not a CVS checkpoint).
  fresnel::test::write_bytes(tmp.file("decoder.pt"), "not a checkpoint");
  auto r = run_fresnel("cvs generate " + tmp.file("x.png") + " --checkpoint " + tmp.file("decoder.pt") + " -o " +
                       tmp.file("out"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("decoder.pt"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp.file("out")));
  // A dataset without other views.
  r = run_fresnel("synth --out " + tmp.file("noviews") + " --objects 2 --views 0 --size 16 --aa 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_fresnel("cvs train --data_dir " + tmp.file("noviews") + kTiny + " --checkpoint_dir " + tmp.file("ck"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("dataset.json"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp.file("ck")));
  // A folder of single images without --self_target_dataset.
  r = run_fresnel("cvs train --data_dir " + tmp.file("noviews") + "/images" + kTiny);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("--self_target_dataset"), std::string::npos) << r.output;
}
