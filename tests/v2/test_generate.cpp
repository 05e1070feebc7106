// `v2 generate` with a stand-in worker (tests/v2/data/stand_in_worker.sh): batches, restarts, failures counted in
// _failures.json, skipping after 2, resume.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/image_io.hpp"
#include "testutil/testutil.hpp"
#include "v2/generate.hpp"

using namespace fresnel;
namespace fs = std::filesystem;

namespace {
int64_t count_lines(const fs::path& p) {
  std::ifstream in(p);
  int64_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}
}  // namespace

TEST(Generate, RestartsPerBatchCountsFailuresAndSkipsAfterTwo) {
  test::TempDir dir;
  const fs::path in = fs::path(dir.path()) / "images", out = fs::path(dir.path()) / "data";
  fs::create_directories(in);
  for (const char* name : {"a.png", "b.png", "c_crashonce.png", "d_crash.png", "e.png"})
    save_image((in / name).string(), torch::rand({4, 4, 3}));
  std::ofstream(in / "notes.txt") << "not an image";
  v2::GenerateOptions o;
  o.input_dir = in.string();
  o.output_dir = out.string();
  o.batch_size = 2;
  o.python = "bash";
  o.worker = std::string(FRESNEL_SOURCE_DIR) + "/tests/v2/data/stand_in_worker.sh";
  auto s = v2::run_generation(o);
  EXPECT_EQ(s.done, 4);
  EXPECT_EQ(s.skipped, 1);
  // Rounds: [a,b] ok; [c,d] c crashes once; [c,d] d crashes; [d,e] d crashes (2nd, skipped); [e] ok.
  EXPECT_EQ(s.rounds, 5);
  EXPECT_EQ(count_lines(out / "_starts.log"), s.rounds);  // a fresh worker per batch
  auto failures = nlohmann::json::parse(read_text_file((out / "_failures.json").string()));
  EXPECT_EQ(failures, (nlohmann::json{{"d_crash.png", 2}}));  // c's count was cleared by its success
  for (const char* stem : {"a", "b", "c_crashonce", "e"}) EXPECT_TRUE(fs::exists(out / stem / "gaussians.ply")) << stem;
  EXPECT_FALSE(fs::exists(out / "d_crash"));
  EXPECT_FALSE(fs::exists(out / "_batch.txt"));

  // Resume: everything is done or skipped, so no worker starts.
  o.resume = true;
  s = v2::run_generation(o);
  EXPECT_EQ(s.rounds, 0);
  EXPECT_EQ(s.done, 4);
}

TEST(Generate, ClearErrors) {
  test::TempDir dir;
  v2::GenerateOptions o;
  o.input_dir = dir.path() + "/none";
  EXPECT_THROW(v2::run_generation(o), Error);
  o.input_dir = dir.path();
  o.output_dir = dir.path() + "/out";
  EXPECT_THROW(v2::run_generation(o), Error);  // no image
  save_image(dir.path() + "/a.png", torch::rand({4, 4, 3}));
  o.python = dir.path() + "/no_such_python";
  EXPECT_THROW(v2::run_generation(o), Error);  // the worker cannot start
}
