// `fresnel launch` as torchrun's replacement: ranks get torchrun's environment and a share of the threads, their
// output comes prefixed, a rank that dies fails the job quickly with a message naming it, signals reach the ranks.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <regex>

#include "processes.hpp"
#include "testutil/cli_runner.hpp"
#include "testutil/testutil.hpp"

namespace fs = std::filesystem;
using namespace fresnel::test;

namespace {

class Launch : public TinyDatasetTest {
 protected:
  // `fresnel launch` with `launch_flags` running a (not quiet) tiny training into `out`, in the background.
  pid_t start(const std::string& launch_flags, const std::string& out, int epochs) {
    std::string train = tiny_train_args(data_dir(), out, 2, epochs);
    train = std::regex_replace(train, std::regex("^--quiet --threads 1 "), "");
    auto args = split_args("--threads 2 launch " + launch_flags + " -- " + train);
    args.insert(args.begin(), FRESNEL_EXE);
    return spawn(args, {}, log_);
  }
  // The pid the launcher reported for `rank`.
  pid_t rank_pid(int rank) {
    const std::regex re("fresnel launch: rank " + std::to_string(rank) + " \\(local rank \\d+\\) pid (\\d+)");
    std::smatch m;
    const std::string text = read_text(log_);
    return std::regex_search(text, m, re) ? static_cast<pid_t>(std::stol(m[1])) : -1;
  }

  std::string log_ = tmp() + "/launch.log";
};

bool process_exists(pid_t pid) { return kill(pid, 0) == 0; }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_F(Launch, TwoRanksTrainWithTorchrunsEnvironmentAndPrefixedOutput) {
  const pid_t launcher = start("--nproc_per_node 2", tmp() + "/out", 1);
  const auto code = wait_exit(launcher, 120);
  const auto text = read_text(log_);
  ASSERT_EQ(code, 0) << text;
  EXPECT_TRUE(fs::exists(tmp() + "/out/decoder_exp2_epoch1.pt"));
  // Each rank joined as torchrun would have told it, with half of --threads 2.
  EXPECT_NE(text.find("[rank 0] distributed: rank 0 of 2 (local rank 0, from environment)"), std::string::npos) << text;
  EXPECT_NE(text.find("[rank 1] distributed: rank 1 of 2 (local rank 1, from environment)"), std::string::npos) << text;
  EXPECT_NE(text.find("1 threads"), std::string::npos) << text;
  EXPECT_NE(text.find("[rank 0] trained 1 epochs"), std::string::npos) << text;
  EXPECT_EQ(text.find("[rank 1] trained"), std::string::npos) << text;
}

TEST_F(Launch, AKilledRankFailsTheJobNamingItWithinTheGrace) {
  const pid_t launcher = start("--nproc_per_node 2 --grace 3", tmp() + "/out", 1000);
  ASSERT_TRUE(wait_for_text(log_, "[rank 1] distributed: rank 1", 60)) << read_text(log_);
  const pid_t victim = rank_pid(1), survivor = rank_pid(0);
  ASSERT_GT(victim, 0) << read_text(log_);
  kill(victim, SIGKILL);
  const auto t0 = std::chrono::steady_clock::now();
  const auto code = wait_exit(launcher, 30);
  if (!code) kill(launcher, SIGKILL);
  ASSERT_TRUE(code.has_value()) << "launcher hung: " << read_text(log_);
  EXPECT_EQ(*code, 1);
  EXPECT_LT(seconds_since(t0), 3 + 5);
  const auto text = read_text(log_);
  EXPECT_NE(text.find("error: fresnel launch: rank 1 (local rank 1, pid " + std::to_string(victim) +
                      ") was killed by signal 9"),
            std::string::npos)
      << text;
  EXPECT_FALSE(process_exists(survivor));  // reaped by the launcher: no rank outlives the job
}

TEST_F(Launch, SigtermReachesEveryRankAndStopsTheJob) {
  const pid_t launcher = start("--nproc_per_node 2 --grace 3", tmp() + "/out", 1000);
  ASSERT_TRUE(wait_for_text(log_, "[rank 1] distributed: rank 1", 60)) << read_text(log_);
  const pid_t r0 = rank_pid(0), r1 = rank_pid(1);
  kill(launcher, SIGTERM);
  const auto code = wait_exit(launcher, 30);
  if (!code) kill(launcher, SIGKILL);
  ASSERT_TRUE(code.has_value()) << read_text(log_);
  EXPECT_EQ(*code, 128 + SIGTERM) << read_text(log_);
  EXPECT_NE(read_text(log_).find("stopped by SIGTERM"), std::string::npos);
  EXPECT_FALSE(process_exists(r0));
  EXPECT_FALSE(process_exists(r1));
}

TEST_F(Launch, BadUsageIsAClearError) {
  auto r = run_fresnel("launch --nproc_per_node 2");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_fresnel("launch --nproc_per_node 0 -- version");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--nproc_per_node must be >= 1"), std::string::npos) << r.output;
  r = run_fresnel("launch --nnodes 2 --node_rank 2 --master_addr h -- version");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--node_rank 2"), std::string::npos) << r.output;
  r = run_fresnel("launch --nnodes 2 --node_rank 1 -- version");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--master_addr"), std::string::npos) << r.output;
}

TEST_F(Launch, ARankFailingOnBadInputFailsTheJob) {
  const auto r = run_fresnel("launch --nproc_per_node 2 -- train --data_dir " + tmp() + "/missing");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("exited with code "), std::string::npos) << r.output;
  // Both ranks fail on the missing folder; whichever the launcher sees first stops the other, so either may be the
  // one whose error is printed.
  EXPECT_TRUE(r.output.find("[rank 0] error:") != std::string::npos ||
              r.output.find("[rank 1] error:") != std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("missing"), std::string::npos) << r.output;
}
