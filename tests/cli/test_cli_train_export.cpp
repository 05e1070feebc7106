// `fresnel train` → `export-onnx` / `infer` through the CLI on a tiny generated set: the patch decoder exports
// (checked in OpenCV DNN by the command itself), the pixel-aligned decoder is refused with a clear message and
// still reconstructs images with `infer`.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "testutil/cli_runner.hpp"
#include "testutil/testutil.hpp"

using fresnel::test::run_fresnel;
namespace fs = std::filesystem;

namespace {
std::string train_args(const std::string& dir, const std::string& out, const std::string& extra) {
  return "--quiet train --experiment 2 --encoder builtin --feature_dim 8 --decoder_hidden 16 --gaussians_per_patch 1 "
         "--data_dir " +
         dir + "/d --image_size 32 --epochs 1 --batch_size 2 --num_workers 1 --output_dir " + out + " " + extra;
}
// 3 objects at 32² (2 train, 1 test) with `views` views each, into DIR/d.
std::string synth_args(const std::string& dir, int views) {
  return "--quiet synth --out " + dir + "/d --objects 3 --views " + std::to_string(views) +
         " --size 32 --seed 2 --split 0.67,0,0.33 --aa 1";
}
}  // namespace

TEST(CliTrainExport, PatchDecoderExportsAndPixelAlignedIsRefusedClearly) {
  fresnel::test::TempDir tmp;
  const auto t = tmp.path();
  ASSERT_EQ(run_fresnel(synth_args(t, 1)).exit_code, 0);
  const auto patch = run_fresnel(train_args(t, t + "/p", ""));
  ASSERT_EQ(patch.exit_code, 0) << patch.output;
  const auto ex = run_fresnel("export-onnx --checkpoint " + t + "/p/decoder_exp2_epoch1.pt -o " + t + "/p.onnx");
  EXPECT_EQ(ex.exit_code, 0) << ex.output;
  EXPECT_TRUE(fs::exists(t + "/p.onnx"));

  const auto px = run_fresnel(train_args(t, t + "/x", "--pixel_aligned"));
  ASSERT_EQ(px.exit_code, 0) << px.output;
  const auto bad = run_fresnel("export-onnx --checkpoint " + t + "/x/decoder_exp2_epoch1.pt -o " + t + "/x.onnx");
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("pixel-aligned"), std::string::npos) << bad.output;
  EXPECT_FALSE(fs::exists(t + "/x.onnx"));
  // A 32² pixel-aligned model with 1 Gaussian per pixel gives 1,024 Gaussians from an image alone.
  std::string image;
  for (const auto& e : fs::directory_iterator(t + "/d/images_test")) image = e.path().string();
  ASSERT_FALSE(image.empty());
  const auto inf =
      run_fresnel("infer " + image + " --checkpoint " + t + "/x/decoder_exp2_epoch1.pt -o " + t + "/x.ply");
  EXPECT_EQ(inf.exit_code, 0) << inf.output;
  const auto info = run_fresnel("info " + t + "/x.ply");
  EXPECT_NE(info.output.find("1024"), std::string::npos) << info.output;
  // --frame object: the same Gaussians centred and unit-sized, with the input camera recorded beside them; .spz out.
  EXPECT_TRUE(fs::exists(t + "/x.cameras.json"));
  const auto obj = run_fresnel("infer " + image + " --checkpoint " + t +
                               "/x/decoder_exp2_epoch1.pt --frame object -o " + t + "/o.spz");
  ASSERT_EQ(obj.exit_code, 0) << obj.output;
  const std::string cams = fresnel::test::read_bytes(t + "/o.cameras.json");
  EXPECT_NE(cams.find("\"frame\": \"object\""), std::string::npos) << cams;
  EXPECT_NE(cams.find("\"scale\""), std::string::npos) << cams;
  const auto oinfo = run_fresnel("info " + t + "/o.spz");
  EXPECT_NE(oinfo.output.find("1024"), std::string::npos) << oinfo.output;
}

TEST(CliTrainExport, AntialiasModelsRecordTheirScreenFilterForInferRenderAndEval) {
  fresnel::test::TempDir tmp;
  const auto t = tmp.path();
  ASSERT_EQ(run_fresnel(synth_args(t, 2)).exit_code, 0);
  const auto tr = run_fresnel(train_args(t, t + "/a", "--pixel_aligned --antialias 0.1"));
  ASSERT_EQ(tr.exit_code, 0) << tr.output;
  std::string image;
  for (const auto& e : fs::directory_iterator(t + "/d/images_test")) image = e.path().string();
  ASSERT_FALSE(image.empty());
  const std::string stem = fs::path(image).stem().string();
  const auto inf = run_fresnel("--quiet infer " + image + " --checkpoint " + t + "/a/decoder_exp2_epoch1.pt -o " + t +
                               "/g/" + stem + ".ply");
  ASSERT_EQ(inf.exit_code, 0) << inf.output;
  const std::string cams = fresnel::test::read_bytes(t + "/g/" + stem + ".cameras.json");
  EXPECT_NE(cams.find("\"screen_filter\": \"mip:0.1\""), std::string::npos) << cams;
  // render: auto reads the file's filter, so it equals an explicit --screen_filter mip and differs from dilation.
  const std::string ply = t + "/g/" + stem + ".ply";
  for (const std::string& f : {"auto", "mip", "dilation"})
    ASSERT_EQ(run_fresnel("--quiet render " + ply + " --orbit 1 --size 64x64 --screen_filter " + f + " --out " + t +
                          "/r_" + f)
                  .exit_code,
              0);
  const std::string a = fresnel::test::read_bytes(t + "/r_auto/view_0000.png");
  EXPECT_EQ(a, fresnel::test::read_bytes(t + "/r_mip/view_0000.png"));
  EXPECT_NE(a, fresnel::test::read_bytes(t + "/r_dilation/view_0000.png"));
  const auto bad = run_fresnel("render " + ply + " --orbit 1 --screen_filter box --out " + t + "/r_bad");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("box"), std::string::npos) << bad.output;
  // eval --gaussians: auto renders with the files' filter (the same score as an explicit mip, not as dilation).
  auto eval_psnr = [&](const std::string& filter) {
    const auto r =
        run_fresnel("--quiet eval --data_dir " + t + "/d --gaussians " + t +
                    "/g --views input --contact_objects 0 --screen_filter " + filter + " --out " + t + "/e_" + filter);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return nlohmann::json::parse(
               fresnel::test::read_bytes(t + "/e_" + filter + "/report.json"))["metrics"]["input"]["psnr"]
        .get<double>();
  };
  const double automatic = eval_psnr("auto");
  EXPECT_DOUBLE_EQ(automatic, eval_psnr("mip"));
  EXPECT_NE(automatic, eval_psnr("dilation"));
}
