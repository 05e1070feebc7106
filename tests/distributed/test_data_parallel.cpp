// Data-parallel training through the environment torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
// MASTER_PORT), Gloo on loopback: W ranks with batch b equal one rank with batch W·b (experiment 2, built-in
// encoder), checkpoints resume across world sizes, only rank 0 writes files, a rank that stops answering ends the
// job with an error naming it.
#include <gtest/gtest.h>
#include <signal.h>
#include <torch/torch.h>

#include <chrono>
#include <filesystem>

#include "distributed/launcher.hpp"
#include "processes.hpp"
#include "testutil/cli_runner.hpp"
#include "testutil/testutil.hpp"
#include "train/checkpoint.hpp"

namespace fs = std::filesystem;
using namespace fresnel;
using namespace fresnel::test;

namespace {

class DataParallel : public TinyDatasetTest {
 protected:
  std::string train(const std::string& out, int batch, const std::string& extra = "", int epochs = 2) const {
    return tiny_train_args(data_dir(), out, batch, epochs, extra);
  }
  // Starts one process per entry of `args` as ranks 0..W−1 of one job; returns their exit codes (logs in `logs`).
  std::vector<int> run_ranks(const std::vector<std::string>& args, std::vector<std::string>* logs = nullptr) {
    const int world = static_cast<int>(args.size());
    const std::string port = std::to_string(distributed::free_port());
    std::vector<pid_t> pids;
    for (int r = 0; r < world; ++r) {
      auto argv = split_args(args[r]);
      argv.insert(argv.begin(), FRESNEL_EXE);
      pids.push_back(spawn(argv,
                           {{"RANK", std::to_string(r)},
                            {"LOCAL_RANK", std::to_string(r)},
                            {"WORLD_SIZE", std::to_string(world)},
                            {"MASTER_ADDR", "127.0.0.1"},
                            {"MASTER_PORT", port}},
                           log(r)));
    }
    std::vector<int> codes;
    for (int r = 0; r < world; ++r) {
      codes.push_back(wait_exit(pids[r], 120).value_or(-1));
      if (logs) logs->push_back(read_text(log(r)));
    }
    return codes;
  }
  std::string log(int rank) const { return tmp() + "/rank" + std::to_string(rank) + ".log"; }
  std::string out(const std::string& name) const { return tmp() + "/" + name; }
};

std::map<std::string, torch::Tensor> weights(const std::string& checkpoint) {
  std::map<std::string, torch::Tensor> w;
  for (const auto& p : train::load_model(checkpoint)->named_parameters()) w[p.key()] = p.value().detach().clone();
  return w;
}

double max_difference(const std::string& a, const std::string& b) {
  const auto wa = weights(a), wb = weights(b);
  EXPECT_EQ(wa.size(), wb.size());
  double m = 0;
  for (const auto& [name, t] : wa) m = std::max(m, (t - wb.at(name)).abs().max().item<double>());
  return m;
}

std::string epoch_file(const std::string& dir, int epoch) {
  return dir + "/decoder_exp2_epoch" + std::to_string(epoch) + ".pt";
}

}  // namespace

TEST_F(DataParallel, TwoRanksWithBatchBEqualOneRankWithBatch2B) {
  std::vector<std::string> logs;
  const auto codes = run_ranks({train(out("w2"), 2), train(out("w2"), 2)}, &logs);
  ASSERT_EQ(codes, (std::vector<int>{0, 0})) << logs[0] << "\n---\n" << logs[1];
  const auto one = run_fresnel(train(out("w1"), 4));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const double diff = max_difference(epoch_file(out("w2"), 2), epoch_file(out("w1"), 2));
  EXPECT_LE(diff, 1e-5);
  // …and training did move the weights, by far more than that.
  EXPECT_GT(max_difference(epoch_file(out("w1"), 1), epoch_file(out("w1"), 2)), 1e-4);
  // The history holds the loss over all ranks' samples: the same as one rank's.
  const auto h2 = nlohmann::json::parse(read_text(out("w2") + "/training_history_exp2.json"));
  const auto h1 = nlohmann::json::parse(read_text(out("w1") + "/training_history_exp2.json"));
  for (const char* key : {"total", "rgb", "ssim"}) {
    ASSERT_TRUE(h1.contains(key)) << key;
    for (size_t e = 0; e < 2; ++e) EXPECT_NEAR(h2[key][e].get<double>(), h1[key][e].get<double>(), 1e-5) << key;
  }
}

TEST_F(DataParallel, OnlyRankZeroWritesFiles) {
  const auto codes = run_ranks({train(out("rank0"), 2), train(out("rank1"), 2)});
  ASSERT_EQ(codes, (std::vector<int>{0, 0})) << read_text(log(0)) << "\n---\n" << read_text(log(1));
  EXPECT_TRUE(fs::exists(epoch_file(out("rank0"), 2)));
  EXPECT_TRUE(fs::exists(out("rank0") + "/training_history_exp2.csv"));
  EXPECT_FALSE(fs::exists(out("rank1")));  // rank 1 was told another folder and created nothing
  EXPECT_EQ(read_text(log(1)).find("trained 2 epochs"), std::string::npos);
}

TEST_F(DataParallel, TwoRankCheckpointResumesOnOneAndOnTwoRanks) {
  ASSERT_EQ(run_ranks({train(out("full"), 2), train(out("full"), 2)}), (std::vector<int>{0, 0}));
  ASSERT_EQ(run_ranks({train(out("half"), 2, "--stop_after_epoch 1"), train(out("half"), 2, "--stop_after_epoch 1")}),
            (std::vector<int>{0, 0}));
  ASSERT_TRUE(fs::exists(epoch_file(out("half"), 1)));
  ASSERT_FALSE(fs::exists(epoch_file(out("half"), 2)));
  const std::string resume = "--resume " + epoch_file(out("half"), 1);
  ASSERT_EQ(run_ranks({train(out("on2"), 2, resume), train(out("on2"), 2, resume)}), (std::vector<int>{0, 0}))
      << read_text(log(0));
  const auto on1 = run_fresnel(train(out("on1"), 4, resume));
  ASSERT_EQ(on1.exit_code, 0) << on1.output;
  EXPECT_EQ(max_difference(epoch_file(out("on2"), 2), epoch_file(out("full"), 2)), 0.0);  // same world: exact
  EXPECT_LE(max_difference(epoch_file(out("on1"), 2), epoch_file(out("full"), 2)), 1e-5);
}

TEST_F(DataParallel, ARankThatStopsAnsweringEndsTheJobNamingIt) {
  const std::string port = std::to_string(distributed::free_port());
  auto env = [&](int r) {
    return std::map<std::string, std::string>{
        {"RANK", std::to_string(r)}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", port}};
  };
  auto args = split_args(train(out("hang"), 1, "", 1000));
  args.insert(args.begin(), FRESNEL_EXE);
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--quiet") args[i] = "--verbose";  // the "distributed:" line shows the rank has joined
    if (args[i] == "--dist_timeout") args[i + 1] = "3";
  }
  const pid_t p0 = spawn(args, env(0), log(0));
  const pid_t p1 = spawn(args, env(1), log(1));
  ASSERT_TRUE(wait_for_text(log(1), "distributed: rank 1", 60)) << read_text(log(1));
  kill(p1, SIGSTOP);  // hung, not dead: only the process-group timeout can tell
  const auto t0 = std::chrono::steady_clock::now();
  const auto code = wait_exit(p0, 30);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  kill(p1, SIGKILL);
  wait_exit(p1, 10);
  if (!code) kill(p0, SIGKILL), wait_exit(p0, 10);
  ASSERT_TRUE(code.has_value()) << "rank 0 hung: " << read_text(log(0));
  EXPECT_EQ(*code, 1) << read_text(log(0));
  const auto text = read_text(log(0));
  EXPECT_NE(text.find("rank 1 stopped answering"), std::string::npos) << text;
  EXPECT_LT(secs, 3 + 10 + 5);  // the timeout plus the window in which survivors report
}
