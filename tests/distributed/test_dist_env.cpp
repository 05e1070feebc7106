// Where a process sits in a job: torchrun's variables first, the flags of the same names as fallbacks, Slurm's
// variables mapped, and a clear error naming the variable or flag for every bad value.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "distributed/dist_env.hpp"

using namespace fresnel;
using namespace fresnel::distributed;

namespace {
EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string error_of(const std::map<std::string, std::string>& vars, const DistFlags& flags = {}) {
  try {
    resolve_dist_env(env_of(vars), flags);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(DistEnv, NoVariablesMeansOneProcess) {
  const auto d = resolve_dist_env(env_of({}), {});
  EXPECT_FALSE(d.distributed());
  EXPECT_EQ(d.rank, 0);
  EXPECT_EQ(d.world_size, 1);
}

TEST(DistEnv, TorchrunVariables) {
  const auto d = resolve_dist_env(env_of({{"RANK", "3"},
                                          {"WORLD_SIZE", "8"},
                                          {"LOCAL_RANK", "1"},
                                          {"MASTER_ADDR", "node7"},
                                          {"MASTER_PORT", "29400"}}),
                                  {});
  EXPECT_TRUE(d.distributed());
  EXPECT_EQ(d.rank, 3);
  EXPECT_EQ(d.world_size, 8);
  EXPECT_EQ(d.local_rank, 1);
  EXPECT_EQ(d.master_addr, "node7");
  EXPECT_EQ(d.master_port, 29400);
  EXPECT_EQ(d.source, "environment");
  EXPECT_EQ(local_device_index(d, 2), 1);
  EXPECT_THROW(local_device_index(d, 0), Error);
}

TEST(DistEnv, FlagsAreFallbacksAndTheEnvironmentWins) {
  DistFlags f;
  f.rank = 1;
  f.world_size = 2;
  f.master_addr = "10.0.0.1";
  const auto d = resolve_dist_env(env_of({}), f);
  EXPECT_EQ(d.source, "flags");
  EXPECT_EQ(d.rank, 1);
  EXPECT_EQ(d.master_addr, "10.0.0.1");
  EXPECT_EQ(d.master_port, 29500);  // torch's default
  const auto e =
      resolve_dist_env(env_of({{"RANK", "0"}, {"WORLD_SIZE", "4"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1234"}}), f);
  EXPECT_EQ(e.rank, 0);
  EXPECT_EQ(e.world_size, 4);
  EXPECT_EQ(e.master_addr, "h");
  EXPECT_EQ(e.master_port, 1234);
}

TEST(DistEnv, SlurmVariablesMapOntoRanks) {
  const auto d = resolve_dist_env(
      env_of({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"}, {"MASTER_ADDR", "n1"}}), {});
  EXPECT_EQ(d.source, "Slurm");
  EXPECT_EQ(d.rank, 5);
  EXPECT_EQ(d.world_size, 8);
  EXPECT_EQ(d.local_rank, 1);
  // `fresnel launch` inside a Slurm allocation sets RANK: torchrun's variables win over Slurm's.
  const auto l = resolve_dist_env(
      env_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"RANK", "3"}, {"WORLD_SIZE", "4"}, {"MASTER_ADDR", "n1"}}),
      {});
  EXPECT_EQ(l.rank, 3);
  EXPECT_EQ(l.world_size, 4);
  // One Slurm task is a plain run.
  EXPECT_FALSE(resolve_dist_env(env_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}}), {}).distributed());
}

TEST(DistEnv, BadValuesAreClearErrors) {
  EXPECT_NE(error_of({{"RANK", "abc"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}}).find("environment RANK='abc'"),
            std::string::npos);
  EXPECT_NE(error_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}}).find("RANK='2'"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "0"}}).find("WORLD_SIZE='0'"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}}).find("WORLD_SIZE"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}}).find("MASTER_ADDR"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}})
                .find("MASTER_PORT='70000'"),
            std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"LOCAL_RANK", "-1"}})
                .find("LOCAL_RANK='-1'"),
            std::string::npos);
  EXPECT_NE(error_of({{"SLURM_PROCID", "x"}, {"SLURM_NTASKS", "2"}, {"MASTER_ADDR", "h"}}).find("SLURM_PROCID='x'"),
            std::string::npos);
  EXPECT_NE(error_of({{"SLURM_NTASKS", "2"}}).find("SLURM_PROCID"), std::string::npos);
  DistFlags f;
  f.rank = 0;
  f.world_size = 2;
  f.master_addr = "h";
  f.master_port = 0;
  EXPECT_NE(error_of({}, f).find("--master_port='0'"), std::string::npos);
  f.master_port = 1;
  f.timeout_seconds = 0;
  EXPECT_NE(error_of({}, f).find("--dist_timeout"), std::string::npos);
  DistFlags lone;
  lone.master_addr = "h";
  EXPECT_NE(error_of({}, lone).find("--rank"), std::string::npos);
}
