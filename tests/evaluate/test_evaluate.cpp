#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/gaussian_io.hpp"
#include "core/image_io.hpp"
#include "core/object_frame.hpp"
#include "core/smoothing_filter.hpp"
#include "data/synth_dataset.hpp"
#include "evaluate/baselines.hpp"
#include "evaluate/evaluate.hpp"
#include "metrics/psnr.hpp"
#include "render/render.hpp"
#include "testutil/testutil.hpp"

using namespace fresnel;
namespace fs = std::filesystem;

namespace {

// A tiny dataset: 2 objects (1 train, 1 test... all in test), 48², 2 novel views.
void make_tiny(const std::string& dir, int objects = 2) {
  synth::SynthOptions o;
  o.out_dir = dir;
  o.objects = objects;
  o.views = 2;
  o.image_size = 48;
  o.seed = 4;
  o.split = {0, 0, 1};
  o.supersample = 2;
  synth::generate_dataset(o);
}

}  // namespace

TEST(Baseline, UnprojectedPixelsReproduceTheInputView) {
  test::TempDir tmp;
  make_tiny(tmp.path(), 1);
  MultiViewDataset ds(tmp.path());
  const auto obj = ds.load_object("test", ds.object_ids("test")[0]);
  const auto g = unprojected_gaussians(obj.input());
  g.validate("baseline");
  EXPECT_EQ(g.count(), (obj.input().mask > 0).sum().item<int64_t>());
  // Means sit on the camera rays at the stored depth.
  EXPECT_LT(test::max_abs_diff(g.means.select(1, 2), obj.input().depth.masked_select(obj.input().mask > 0)), 1e-6);
  torch::NoGradGuard ng;
  const auto out = render(g, {obj.relative_cameras()[obj.input_view]});
  const double p = psnr(out.rgb[0].clamp(0, 1), obj.input().rgb);
  EXPECT_GT(p, 30.0);
}

TEST(Evaluate, TinySetWritesReportWithExpectedKeysAndSeparatesInputFromNovel) {
  test::TempDir tmp;
  make_tiny(tmp.path() + "/data");
  MultiViewDataset ds(tmp.path() + "/data");
  EvalOptions opt;
  opt.show_progress = false;
  opt.method = "unprojected";
  const auto report = evaluate_dataset(ds, unprojected_predictor(), opt);
  ASSERT_EQ(report.objects.size(), 2u);
  EXPECT_EQ(report.input.views, 2);
  EXPECT_EQ(report.novel.views, 4);
  EXPECT_GT(report.input.psnr, 30.0);
  EXPECT_LT(report.novel.psnr, report.input.psnr - 5.0);
  EXPECT_FALSE(report.lpips_available);
  EXPECT_TRUE(std::isnan(report.input.lpips));
  write_report(report, tmp.path() + "/out");
  const auto j = nlohmann::json::parse(read_text_file(tmp.path() + "/out/report.json"));
  for (const char* k :
       {"dataset", "split", "method", "views", "objects_evaluated", "metrics", "lpips", "definitions", "per_object"})
    EXPECT_TRUE(j.contains(k)) << k;
  for (const char* g : {"input", "novel"})
    for (const char* k : {"views", "psnr", "ssim", "lpips"}) EXPECT_TRUE(j["metrics"][g].contains(k)) << g << "." << k;
  EXPECT_TRUE(j["metrics"]["input"]["lpips"].is_null());  // unavailable, never estimated
  EXPECT_EQ(j["lpips"]["available"], false);
  EXPECT_EQ(j["per_object"].size(), 2u);
  EXPECT_EQ(j["per_object"][0]["views"].size(), 3u);
  const auto md = read_text_file(tmp.path() + "/out/report.md");
  EXPECT_NE(md.find("zero padding"), std::string::npos);
  EXPECT_NE(md.find("unavailable"), std::string::npos);
  // Contact sheet: rows of [input | render | ground truth], one per view of the shown objects.
  const auto sheet = load_image(tmp.path() + "/out/contact_sheet.png");
  EXPECT_EQ(sheet.size(1), 3 * 48);
  EXPECT_EQ(sheet.size(0), 2 * 3 * 48);
}

TEST(Evaluate, ViewSelectionAndMaxObjects) {
  test::TempDir tmp;
  make_tiny(tmp.path());
  MultiViewDataset ds(tmp.path());
  EvalOptions opt;
  opt.show_progress = false;
  opt.max_objects = 1;
  opt.views = EvalViews::Novel;
  auto r = evaluate_dataset(ds, unprojected_predictor(), opt);
  EXPECT_EQ(r.objects.size(), 1u);
  EXPECT_EQ(r.input.views, 0);
  EXPECT_EQ(r.novel.views, 2);
  opt.views = EvalViews::Input;
  r = evaluate_dataset(ds, unprojected_predictor(), opt);
  EXPECT_EQ(r.input.views, 1);
  EXPECT_EQ(r.novel.views, 0);
  EXPECT_THROW(parse_eval_views("front"), UsageError);
}

TEST(Evaluate, GaussianFilesGiveTheSameScoresAsTheirPredictor) {
  test::TempDir tmp;
  make_tiny(tmp.path() + "/data");
  MultiViewDataset ds(tmp.path() + "/data");
  for (const auto& id : ds.object_ids("test"))
    save_gaussians(tmp.path() + "/g/" + id + ".ply", unprojected_gaussians(ds.load_object("test", id, {0}).input()));
  EvalOptions opt;
  opt.show_progress = false;
  const auto a = evaluate_dataset(ds, unprojected_predictor(), opt);
  const auto b = evaluate_dataset(ds, gaussian_files_predictor(tmp.path() + "/g"), opt);
  EXPECT_NEAR(a.input.psnr, b.input.psnr, 0.05);
  EXPECT_NEAR(a.novel.psnr, b.novel.psnr, 0.05);
  fs::remove(tmp.path() + "/g/obj_00001.ply");
  try {
    evaluate_dataset(ds, gaussian_files_predictor(tmp.path() + "/g"), opt);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("obj_00001.ply"), std::string::npos) << e.what();
  }
}

TEST(Evaluate, GaussianFilesAreRenderedWithTheScreenFilterTheirCamerasJsonNames) {
  test::TempDir tmp;
  make_tiny(tmp.path() + "/data", 1);
  MultiViewDataset ds(tmp.path() + "/data");
  const std::string id = ds.object_ids("test")[0];
  const auto obj = ds.load_object("test", id, {0});
  const Gaussians g = unprojected_gaussians(obj.input(), 0.3);  // sub-pixel: the Mip filter's opacity scale shows
  const std::string ply = tmp.path() + "/g/" + id + ".ply";
  save_gaussians(ply, g);
  EvalOptions opt;
  opt.show_progress = false;
  opt.views = EvalViews::Input;
  auto psnr_with = [&](const std::string& named) {
    save_frame_cameras(cameras_json_path_for(ply), obj.input().camera, nullptr, named);
    const auto p = gaussian_files_predictor(tmp.path() + "/g")(obj);
    if (named.empty())
      EXPECT_FALSE(p.screen_filter.has_value());
    else
      EXPECT_EQ(p.screen_filter, parse_screen_filter(named));
    return evaluate_dataset(ds, gaussian_files_predictor(tmp.path() + "/g"), opt).input.psnr;
  };
  const double none = psnr_with(""), dilation = psnr_with("dilation:0.3"), mip = psnr_with("mip:0.1");
  EXPECT_DOUBLE_EQ(none, dilation);  // nothing named: the default dilation
  EXPECT_GT(std::abs(mip - dilation), 0.1) << "the named Mip filter changes the render";
  // The same as rendering with that filter directly.
  RenderOptions ro;
  ro.screen_filter = ScreenFilter::mip(0.1);
  const auto direct = render(g, {obj.relative_cameras()[obj.input_view]}, ro).rgb[0].clamp(0, 1);
  EXPECT_NEAR(mip, psnr(direct.to(torch::kFloat32), obj.input().rgb), 0.05);
  save_frame_cameras(cameras_json_path_for(ply), obj.input().camera, nullptr, "box:1");
  try {
    gaussian_files_predictor(tmp.path() + "/g")(obj);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(".cameras.json"), std::string::npos) << e.what();
  }
}

TEST(Evaluate, InvalidPredictionIsAClearError) {
  test::TempDir tmp;
  make_tiny(tmp.path(), 1);
  MultiViewDataset ds(tmp.path());
  EvalOptions opt;
  opt.show_progress = false;
  auto bad = [](const ObjectViews& obj) {
    Gaussians g = unprojected_gaussians(obj.input());
    g.scales[0][0] = -1.0f;
    return g;
  };
  EXPECT_THROW(evaluate_dataset(ds, bad, opt), Error);
}

TEST(Evaluate, AngleFromTheInputViewAndItsBins) {
  const double f = 50;
  EXPECT_NEAR(view_angle_degrees(Camera{}), 0.0, 1e-9);
  // Cameras looking at a point 3 units in front of the input camera, from the side and from behind.
  const Camera side = Camera::look_at({3, 0, 3}, {0, 0, 3}, {0, -1, 0}, f, f, 64, 64);
  const Camera back = Camera::look_at({0, 0, 6}, {0, 0, 3}, {0, -1, 0}, f, f, 64, 64);
  const Camera oblique = Camera::look_at({3, 0, 0}, {0, 0, 3}, {0, -1, 0}, f, f, 64, 64);
  EXPECT_NEAR(view_angle_degrees(side), 90.0, 1e-6);
  EXPECT_NEAR(view_angle_degrees(back), 180.0, 1e-6);
  EXPECT_NEAR(view_angle_degrees(oblique), 45.0, 1e-6);
  EXPECT_EQ(angle_bin(0.0), 0);
  EXPECT_EQ(angle_bin(44.99), 0);
  EXPECT_EQ(angle_bin(45.0), 1);
  EXPECT_EQ(angle_bin(90.0), 2);
  EXPECT_EQ(angle_bin(134.9), 2);
  EXPECT_EQ(angle_bin(180.0), 3);
  EXPECT_EQ(angle_bin(-1.0), 0);
  EXPECT_EQ(angle_bin_label(1), "45-90°");
}

TEST(Evaluate, ReportsNovelViewsByAngleAndDepthErrors) {
  test::TempDir tmp;
  make_tiny(tmp.path() + "/data");
  MultiViewDataset ds(tmp.path() + "/data");
  EvalOptions opt;
  opt.show_progress = false;
  // A "depth head" that returns the ground truth scaled by 1.1: AbsRel 0.1, every pixel within 1.25.
  const ObjectPredictor predict = [](const ObjectViews& obj) {
    return ObjectPrediction{unprojected_gaussians(obj.input()), obj.input().depth * 1.1};
  };
  const auto report = evaluate_dataset(ds, predict, opt);
  int64_t binned = 0;
  for (const auto& b : report.novel_by_angle) binned += b.views;
  EXPECT_EQ(binned, report.novel.views);
  for (const auto& o : report.objects)
    for (const auto& v : o.views) {
      if (v.is_input) EXPECT_NEAR(v.angle_deg, 0.0, 1e-6);
      if (!v.is_input) EXPECT_GT(v.angle_deg, 1.0);
    }
  EXPECT_EQ(report.depth_head.objects, 2);
  EXPECT_NEAR(report.depth_head.abs_rel, 0.1, 1e-5);
  EXPECT_DOUBLE_EQ(report.depth_head.delta1, 1.0);
  // Unprojected pixels at the true depth render nearly the true depth.
  EXPECT_EQ(report.depth_render.objects, 2);
  EXPECT_LT(report.depth_render.abs_rel, 0.05);
  EXPECT_GT(report.depth_render.delta1, 0.9);
  const std::string md = report.to_markdown();
  EXPECT_NE(md.find("90-135°"), std::string::npos) << md;
  EXPECT_NE(md.find("depth head"), std::string::npos) << md;
  const auto j = report.to_json();
  EXPECT_EQ(j["metrics"]["novel_by_angle"].size(), 4u);
  EXPECT_NEAR(j["metrics"]["depth_head"]["abs_rel"].get<double>(), 0.1, 1e-5);
}

TEST(AntiAliasing, PixelAlignedGaussiansBelowThePixelSpacingHoleAt2xAndTheFilterClosesThem) {
  // Gaussians as a model trained at 48² leaves them: one per pixel, far smaller than the pixel footprint (0.05·z/f;
  // the rasterizer's 0.3 px² low-pass still covers every pixel at 48², but not the pixels between them at 96²).
  test::TempDir tmp;
  make_tiny(tmp.path(), 1);
  MultiViewDataset ds(tmp.path());
  const auto obj = ds.load_object("test", ds.object_ids("test")[0]);
  const Gaussians g = unprojected_gaussians(obj.input(), 0.05);
  const Camera at1 = obj.relative_cameras()[obj.input_view];
  // Object pixels away from the silhouette (mask eroded by one pixel), at k× the resolution.
  namespace F = torch::nn::functional;
  const auto full = (obj.input().mask.reshape({1, 1, at1.height, at1.width}) > 0.99).to(torch::kFloat32);
  const auto inner = -F::max_pool2d(-full, F::MaxPool2dFuncOptions(3).stride(1).padding(1));
  auto mask_at = [&](int k) {
    const std::vector<int64_t> size{k * at1.height, k * at1.width};
    return F::interpolate(inner, F::InterpolateFuncOptions().size(size).mode(torch::kNearest)).reshape(size) > 0.5;
  };
  auto holes = [&](const Gaussians& gs, int k) {
    torch::NoGradGuard ng;
    const Camera c = at1.resized(k * at1.width, k * at1.height);
    return (render(gs, {c}).alpha[0].masked_select(mask_at(k)) < 0.5).sum().item<int64_t>();
  };
  ASSERT_GT(mask_at(1).sum().item<int64_t>(), 50);
  EXPECT_EQ(holes(g, 1), 0) << "covered at the resolution it was made for";
  EXPECT_GT(holes(g, 2), 0) << "dots at 2x without the filter";
  const Gaussians filtered = apply_smoothing_filter(g, at1, kDefaultSmoothingVariancePx2);
  EXPECT_EQ(holes(filtered, 2), 0) << "no pixel inside the object with alpha < 0.5 at 2x";
  EXPECT_EQ(holes(filtered, 4), 0) << "nor at 4x";
}
