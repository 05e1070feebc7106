#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>

#include "core/gaussian_io.hpp"
#include "testutil/cli_runner.hpp"
#include "testutil/testutil.hpp"

using fresnel::test::run_fresnel;

namespace {

// The subcommands every build has; the list in the message is built from the registered commands.
const std::array<const char*, 8> kSomeCommands = {"version", "train", "convert", "info",
                                                  "render",  "infer", "decode",  "eval"};

void expect_unknown_command(const fresnel::test::CliResult& r, const std::string& name) {
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("error: unknown command '" + name + "'; commands: "), std::string::npos) << r.output;
  for (const char* c : kSomeCommands) EXPECT_NE(r.output.find(c), std::string::npos) << c << "\n" << r.output;
  EXPECT_EQ(r.output.find("Subcommands"), std::string::npos) << "no main help:\n" << r.output;
}

}  // namespace

TEST(Cli, HelpAndVersionExitZero) {
  auto r = run_fresnel("--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("Subcommands"), std::string::npos);
  r = run_fresnel("--version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("fresnel"), std::string::npos);
}

TEST(Cli, MissingSubcommandIsUsageError) { EXPECT_EQ(run_fresnel("").exit_code, 2); }

TEST(Cli, UnknownCommandIsNamedWithTheListOfCommands) {
  expect_unknown_command(run_fresnel("no-such-command"), "no-such-command");
  expect_unknown_command(run_fresnel("foo extra args"), "foo");
}

TEST(Cli, UnknownCommandWithHelpIsStillAnError) {
  expect_unknown_command(run_fresnel("lunch --help"), "lunch");
  expect_unknown_command(run_fresnel("--help lunch"), "lunch");
}

TEST(Cli, MainOptionValuesAreNotTakenForCommands) {
  expect_unknown_command(run_fresnel("--threads 2 foo"), "foo");
  const auto r = run_fresnel("--threads 2 --quiet version");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("libtorch"), std::string::npos) << r.output;
}

TEST(Cli, KnownCommandHelpExitsZeroAndListsTheFormatTable) {
  const auto r = run_fresnel("convert --help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const auto& f : fresnel::gaussian_formats()) {
    EXPECT_NE(r.output.find(f.extension), std::string::npos) << f.extension << "\n" << r.output;
    EXPECT_NE(r.output.find(f.description), std::string::npos) << f.description << "\n" << r.output;
  }
}

TEST(Cli, CommandErrorsKeepTheirExitCodesThroughTheSharedHandler) {
  fresnel::test::TempDir dir;
  // fresnel::Error (a missing file) → 1 with one "error:" line naming the file.
  auto r = run_fresnel("convert " + dir.file("missing.ply") + " " + dir.file("out.splat"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("error: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("missing.ply"), std::string::npos) << r.output;
  // fresnel::UsageError thrown by a command body → 2.
  r = run_fresnel("eval --data_dir " + dir.path() + " --out " + dir.file("report"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("error: give exactly one of"), std::string::npos) << r.output;
  // A file check built from the format table → 2, naming the file.
  r = run_fresnel("info " + dir.file("scene.obj"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("scene.obj"), std::string::npos) << r.output;
  r = run_fresnel("infer " + dir.file("a.png") + " -o " + dir.file("out") + " --format obj");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_fresnel("infer " + dir.file("a.txt") + " -o " + dir.file("out.ply"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("a.txt"), std::string::npos) << r.output;
}
