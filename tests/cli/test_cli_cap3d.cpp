// `fresnel sample-cap3d` and `fresnel cap3d-dataset` through the binary, on Cap3D-layout zips built by the test.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "acquire/cap3d_fixture.hpp"
#include "core/atomic_write.hpp"
#include "testutil/cli_runner.hpp"

using fresnel::test::run_fresnel;
namespace fs = std::filesystem;

namespace {

std::string make_outer_zip(const fresnel::test::TempDir& tmp, int objects, int size, int views = 12) {
  std::vector<std::pair<std::string, std::string>> entries;
  for (int i = 0; i < objects; ++i)
    entries.push_back({"Cap3D_Objaverse_renderimgs/uid" + std::to_string(i) + ".zip",
                       fresnel::test::make_cap3d_object(11, i, views, size, tmp.file("scratch.zip")).zip_bytes});
  fs::remove(tmp.file("scratch.zip"));
  fs::create_directories(tmp.file("in"));
  fresnel::test::make_zip(entries, tmp.file("in/compressed_imgs_perobj_042.zip"), true);
  return tmp.file("in");
}

}  // namespace

TEST(CliCap3d, ConvertedDatasetEvaluatesLikeSynthData) {
  fresnel::test::TempDir tmp;
  // Rendered at 384² and converted to 96² (area resampling anti-aliases 4×4, as 512² → 128² does for real renders).
  const std::string in = make_outer_zip(tmp, 2, 384, 6);
  const auto c = run_fresnel("cap3d-dataset --input_dir " + in + " --out " + tmp.file("ds") +
                             " --objects 2 --views 2 --size 96 --split 0,0,1");
  ASSERT_EQ(c.exit_code, 0) << c.output;
  EXPECT_NE(c.output.find("2 objects written"), std::string::npos) << c.output;
  const auto e = run_fresnel("eval --data_dir " + tmp.file("ds") + " --baseline unprojected --out " + tmp.file("r"));
  ASSERT_EQ(e.exit_code, 0) << e.output;
  const auto report = nlohmann::json::parse(fresnel::read_text_file(tmp.file("r/report.json")));
  EXPECT_EQ(report["objects_evaluated"].get<int>(), 2);
  // The input view's own pixels splatted at their depth reproduce it, as on `fresnel synth` data.
  EXPECT_GT(report["metrics"]["input"]["psnr"].get<double>(), 30.0) << report["metrics"].dump();
  std::cout << "unprojected baseline on the converted set: " << report["metrics"].dump() << "\n";
}

TEST(CliCap3d, SampleWritesPrefixedImagesAndReportsErrors) {
  fresnel::test::TempDir tmp;
  const std::string in = make_outer_zip(tmp, 3, 24);
  const auto s = run_fresnel("sample-cap3d --input_dir " + in + " --output_dir " + tmp.file("out") +
                             " --num_samples 2 --prefix objaverse --seed 456");
  ASSERT_EQ(s.exit_code, 0) << s.output;
  int n = 0;
  for (const auto& f : fs::directory_iterator(tmp.file("out"))) {
    EXPECT_EQ(f.path().filename().string().rfind("objaverse_uid", 0), 0u) << f.path();
    ++n;
  }
  EXPECT_EQ(n, 2);
  const auto help = run_fresnel("sample-cap3d --help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--input_dir", "--output_dir", "--num_samples", "--prefix", "--seed"})
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag;
  const auto missing = run_fresnel("sample-cap3d --input_dir " + tmp.file("nope") + " --output_dir " + tmp.file("o"));
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("nope"), std::string::npos) << missing.output;
  const auto prefix = run_fresnel("sample-cap3d --input_dir " + in + " --prefix ../x --output_dir " + tmp.file("o"));
  EXPECT_EQ(prefix.exit_code, 2) << prefix.output;
  const auto split = run_fresnel("cap3d-dataset --input_dir " + in + " --out " + tmp.file("d") + " --split 1,2");
  EXPECT_EQ(split.exit_code, 2) << split.output;
}
