#include <gtest/gtest.h>

#include <filesystem>

#include "testutil/cli_runner.hpp"
#include "testutil/testutil.hpp"

using fresnel::test::run_fresnel;
namespace fs = std::filesystem;

TEST(CliSynth, HelpListsOptions) {
  const auto r = run_fresnel("synth --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* opt : {"--out", "--objects", "--views", "--size", "--seed", "--split", "--aa"})
    EXPECT_NE(r.output.find(opt), std::string::npos) << opt;
}

TEST(CliSynth, BadSplitIsAUsageError) {
  fresnel::test::TempDir tmp;
  const auto r = run_fresnel("synth --out " + tmp.path() + "/d --objects 2 --size 16 --split 0.5,abc,0.2");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("split: 'abc'"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp.path() + "/d/dataset.json"));
}

TEST(CliEval, SynthThenBaselineEvalWritesReports) {
  fresnel::test::TempDir tmp;
  const auto s =
      run_fresnel("synth --out " + tmp.path() + "/d --objects 2 --views 1 --size 40 --seed 3 --split 0,0,1 --aa 2");
  ASSERT_EQ(s.exit_code, 0) << s.output;
  const auto e = run_fresnel("eval --data_dir " + tmp.path() + "/d --baseline unprojected --out " + tmp.path() + "/r");
  ASSERT_EQ(e.exit_code, 0) << e.output;
  for (const char* f : {"report.json", "report.md", "contact_sheet.png"})
    EXPECT_TRUE(fs::exists(tmp.path() + "/r/" + f)) << f;
  EXPECT_NE(e.output.find("novel"), std::string::npos) << e.output;
}

TEST(CliEval, SourceChoiceAndCheckpointAreClear) {
  fresnel::test::TempDir tmp;
  ASSERT_EQ(
      run_fresnel("synth --out " + tmp.path() + "/d --objects 1 --views 1 --size 16 --split 0,0,1 --aa 1").exit_code,
      0);
  const auto none = run_fresnel("eval --data_dir " + tmp.path() + "/d --out " + tmp.path() + "/r");
  EXPECT_EQ(none.exit_code, 2) << none.output;
  const auto two = run_fresnel("eval --data_dir " + tmp.path() + "/d --baseline unprojected --gaussians " + tmp.path() +
                               " --out " + tmp.path() + "/r");
  EXPECT_EQ(two.exit_code, 2) << two.output;
  // A missing checkpoint is a failure (exit 1) whose message names the file.
  const auto ckpt = run_fresnel("eval --data_dir " + tmp.path() + "/d --checkpoint x.pt --out " + tmp.path() + "/r");
  EXPECT_EQ(ckpt.exit_code, 1) << ckpt.output;
  EXPECT_NE(ckpt.output.find("x.pt"), std::string::npos) << ckpt.output;
  const auto missing =
      run_fresnel("eval --data_dir " + tmp.path() + "/nope --baseline unprojected --out " + tmp.path() + "/r");
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("nope"), std::string::npos) << missing.output;
}

TEST(CliEval, SaagBaselineWritesAReport) {
  fresnel::test::TempDir tmp;
  ASSERT_EQ(
      run_fresnel("synth --out " + tmp.path() + "/d --objects 1 --views 2 --size 32 --split 0,0,1 --aa 1").exit_code,
      0);
  const auto e = run_fresnel("eval --data_dir " + tmp.path() + "/d --baseline saag --out " + tmp.path() + "/r");
  ASSERT_EQ(e.exit_code, 0) << e.output;
  EXPECT_NE(e.output.find("SAAG"), std::string::npos) << e.output;
  EXPECT_TRUE(fs::exists(tmp.path() + "/r/report.json"));
  EXPECT_EQ(run_fresnel("eval --data_dir " + tmp.path() + "/d --baseline nope --out " + tmp.path() + "/r2").exit_code,
            2);
}
