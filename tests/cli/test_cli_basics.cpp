#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>

#include "testutil/cli_runner.hpp"

TEST(Cli, HelpAndVersionExitZero) {
  auto r = fresnel::test::run_fresnel("--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("Subcommands"), std::string::npos);
  r = fresnel::test::run_fresnel("--version");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("fresnel"), std::string::npos);
}

TEST(Cli, UnknownSubcommandIsUsageError) {
  EXPECT_EQ(fresnel::test::run_fresnel("no-such-command").exit_code, 2);
  EXPECT_EQ(fresnel::test::run_fresnel("").exit_code, 2);
}
