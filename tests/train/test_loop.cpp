// The one training loop on a toy task (a linear model fitting y = 2x − 1), without a decoder: resume equals an
// uninterrupted run, the EMA follows its formula, history rows hold exactly the computed terms, the schedule and
// warm-up, non-finite steps, and the gradient-sync hook sit where they should.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "testutil/testutil.hpp"
#include "train/background_loader.hpp"
#include "train/loop.hpp"

using namespace fresnel;
using namespace fresnel::train;
namespace fs = std::filesystem;

namespace {

struct LineImpl : torch::nn::Module {
  LineImpl() {
    w = register_parameter("w", torch::zeros({1}));
    b = register_parameter("b", torch::zeros({1}));
  }
  torch::Tensor w, b;
};
TORCH_MODULE(Line);

// Eight samples x_i; batches of two in the loop's order; the loss has an "l1" term and, in epochs ≥ 1, an "l2" term.
// `poison_step` makes one step's loss NaN.
class LineTask : public TrainingTask {
 public:
  explicit LineTask(int poison_step = -1) : poison_(poison_step) { torch::manual_seed(3); }
  std::string describe() const override { return "line"; }
  int64_t num_samples() const override { return 8; }
  torch::nn::Module& module() override { return *line; }
  std::string checkpoint_format() const override { return "line"; }
  std::map<std::string, std::string> checkpoint_records() const override { return {{"shape", "line-v1"}}; }
  void check_resume(const std::map<std::string, std::string>& r, const std::string& path) const override {
    if (r.at("shape") != "line-v1") throw Error(path + ": not a line");
  }
  nlohmann::json config_json() const override { return {{"task", "line"}}; }
  int64_t begin_epoch(int64_t epoch, std::vector<int64_t> order, uint64_t seed) override {
    epoch_ = epoch;
    order_ = std::move(order);
    next_ = 0;
    seeds.push_back(seed);
    return int64_t(order_.size()) / 2;
  }
  LossTerms next_losses() override {
    auto x = torch::tensor({float(order_[next_]), float(order_[next_ + 1])}) / 8.0;
    next_ += 2;
    auto noise = 0.01 * torch::randn({2});  // uses the RNG the loop saves and restores
    auto y = 2.0 * x - 1.0 + noise;
    auto pred = line->w * x + line->b;
    LossTerms t;
    t.terms["l1"] = (pred - y).abs().mean();
    if (epoch_ >= 1) t.terms["l2"] = 0.5 * (pred - y).pow(2).mean();
    if (calls_++ == poison_) t.terms["l1"] = t.terms["l1"] * std::numeric_limits<float>::quiet_NaN();
    t.total = torch::zeros({});
    for (auto& [k, v] : t.terms) t.total = t.total + v;
    return t;
  }
  std::map<std::string, double> epoch_info(int64_t epoch) const override { return {{"resolution", 7}}; }

  Line line;
  std::vector<uint64_t> seeds;

 private:
  int poison_;
  int calls_ = 0;
  int64_t epoch_ = 0, next_ = 0;
  std::vector<int64_t> order_;
};

LoopOptions options(const std::string& dir, int64_t epochs) {
  LoopOptions o;
  o.epochs = epochs;
  o.lr = 0.05;
  o.output_dir = dir;
  o.checkpoint_stem = "line";
  o.history_tag = "line";
  o.save_interval = 1;
  o.progress = false;
  o.write_plot = true;
  o.seed = 11;
  return o;
}

std::vector<double> totals(const TrainingLoop& loop) {
  std::vector<double> t;
  for (const auto& s : loop.steps()) t.push_back(s.total);
  return t;
}

}  // namespace

TEST(TrainingLoop, ResumeEqualsUninterrupted) {
  test::TempDir a, b;
  auto full_opts = options(a.path(), 4);
  full_opts.ema_decay = 0.9;
  full_opts.schedule = LrSchedule::CosinePerStep;
  full_opts.warmup_steps = 3;
  LineTask full_task;
  TrainingLoop full(full_opts, full_task);
  full.run();

  auto first_opts = full_opts;
  first_opts.output_dir = b.path();
  first_opts.stop_after_epoch = 2;
  LineTask first_task;
  TrainingLoop first(first_opts, first_task);
  first.run();
  auto resumed_totals = totals(first);
  auto resume_opts = first_opts;
  resume_opts.stop_after_epoch = 0;
  resume_opts.resume = b.file("line_epoch2.pt");
  LineTask second_task;  // fresh weights: everything must come from the checkpoint
  TrainingLoop second(resume_opts, second_task);
  EXPECT_EQ(second.state().epochs_done, 2);
  EXPECT_EQ(second.state().steps_done, 8);
  second.run();
  for (double t : totals(second)) resumed_totals.push_back(t);

  const auto uninterrupted = totals(full);
  ASSERT_EQ(uninterrupted.size(), 16u);
  ASSERT_EQ(resumed_totals.size(), uninterrupted.size());
  for (size_t i = 0; i < uninterrupted.size(); ++i) EXPECT_DOUBLE_EQ(resumed_totals[i], uninterrupted[i]) << i;
  EXPECT_TRUE(torch::equal(full_task.line->w, second_task.line->w));
  EXPECT_TRUE(torch::equal(full.ema().at("w"), second.ema().at("w")));
  for (const char* k : {"total", "l1", "l2", "lr"})  // the timing columns differ; the losses do not
    EXPECT_EQ(full.state().history[k].dump(), second.state().history[k].dump()) << k;
  // Same per-epoch seeds whether resumed or not.
  std::vector<uint64_t> resumed_seeds = first_task.seeds;
  for (auto s : second_task.seeds) resumed_seeds.push_back(s);
  EXPECT_EQ(resumed_seeds, full_task.seeds);
}

TEST(TrainingLoop, ResumeRejectsAnotherTasksCheckpoint) {
  test::TempDir dir;
  LineTask task;
  TrainingLoop(options(dir.path(), 1), task).run();
  struct OtherTask : LineTask {
    std::map<std::string, std::string> checkpoint_records() const override { return {{"shape", "line-v1"}}; }
    void check_resume(const std::map<std::string, std::string>&, const std::string& path) const override {
      throw Error(path + ": other task");
    }
  } other;
  auto o = options(dir.path(), 2);
  o.resume = dir.file("line_epoch1.pt");
  EXPECT_THROW(TrainingLoop(o, other), Error);
  o.resume = dir.file("absent.pt");
  try {
    TrainingLoop(o, task);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("absent.pt"), std::string::npos);
  }
}

TEST(TrainingLoop, EmaFollowsItsFormula) {
  test::TempDir dir;
  auto o = options(dir.path(), 1);
  o.ema_decay = 0.75;
  LineTask task;
  TrainingLoop loop(o, task);
  task.begin_epoch(0, {0, 1, 2, 3}, 0);
  torch::Tensor expected = task.line->w.detach().clone();
  for (int i = 0; i < 2; ++i) {
    loop.step(task.next_losses());
    expected = 0.75 * expected + 0.25 * task.line->w.detach();
  }
  EXPECT_TRUE(torch::allclose(loop.ema().at("w"), expected, 1e-6, 1e-7));
  EXPECT_FALSE(torch::allclose(loop.ema().at("w"), task.line->w.detach()));  // it lags the weights
}

TEST(TrainingLoop, HistoryHasExactlyTheComputedTerms) {
  test::TempDir dir;
  LineTask task;
  TrainingLoop loop(options(dir.path(), 2), task);
  loop.run();
  const auto& h = loop.state().history;
  for (const char* k : {"total", "l1", "l2", "resolution", "lr", "seconds", "skipped"}) ASSERT_TRUE(h.contains(k)) << k;
  for (auto it = h.begin(); it != h.end(); ++it) EXPECT_EQ(it.value().size(), 2u) << it.key();
  EXPECT_TRUE(h["l2"][0].is_null());  // not computed in epoch 0
  EXPECT_TRUE(h["l2"][1].is_number());
  double mean_l1 = 0;
  for (int i = 4; i < 8; ++i) mean_l1 += loop.steps()[i].terms.at("l1") / 4;
  EXPECT_NEAR(h["l1"][1].get<double>(), mean_l1, 1e-12);
  std::ifstream csv(dir.file("training_history_line.csv"));
  std::string header;
  std::getline(csv, header);
  EXPECT_NE(header.find(",l2"), std::string::npos) << header;
  EXPECT_TRUE(fs::exists(dir.file("training_metrics_line.png")));
  EXPECT_TRUE(fs::exists(dir.file("line_best.pt")));
}

TEST(TrainingLoop, ScheduleAndWarmup) {
  test::TempDir dir;
  auto o = options(dir.path(), 4);
  LineTask task;
  TrainingLoop per_epoch(o, task);
  EXPECT_DOUBLE_EQ(per_epoch.lr_at(0, 0), 0.05);
  EXPECT_NEAR(per_epoch.lr_at(2, 99), 0.025, 1e-12);  // half way: half the rate, whatever the step
  o.warmup_steps = 4;
  TrainingLoop warm(o, task);
  EXPECT_NEAR(warm.lr_at(0, 0), 0.05 * 0.25, 1e-12);
  EXPECT_NEAR(warm.lr_at(0, 3), 0.05, 1e-12);
}

TEST(TrainingLoop, NonFiniteStepIsSkippedAndCounted) {
  test::TempDir dir;
  LineTask task(/*poison_step=*/2);
  TrainingLoop loop(options(dir.path(), 1), task);
  loop.run();
  EXPECT_EQ(loop.state().skipped_batches, 1);
  EXPECT_TRUE(loop.steps()[2].skipped);
  EXPECT_EQ(loop.state().steps_done, 3);
  EXPECT_TRUE(torch::isfinite(task.line->w).all().item<bool>());
}

namespace {
// A one-rank stand-in for a process group that scales gradients: shows that what it returns is what is applied.
struct ScalingSync : GradientSync {
  double factor;
  int calls = 0;
  explicit ScalingSync(double f) : factor(f) {}
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  void all_reduce_mean(std::vector<torch::Tensor>& grads) override {
    ++calls;
    for (auto& g : grads) g.mul_(factor);
  }
  void broadcast_from_rank0(std::vector<torch::Tensor>&) override {}
  void all_reduce_sum(std::vector<double>&) override {}
};
}  // namespace

TEST(TrainingLoop, GradientSyncRunsBetweenBackwardAndStep) {
  test::TempDir dir;
  auto o = options(dir.path(), 1);
  o.weight_decay = 0;
  LineTask task;
  ScalingSync zero(0.0);
  TrainingLoop loop(o, task, &zero);
  loop.run();
  EXPECT_EQ(zero.calls, 4);
  EXPECT_EQ(task.line->w.item<float>(), 0.f);  // zeroed gradients: Adam does not move
  LineTask poisoned(/*poison_step=*/1);
  ScalingSync one(1.0);
  TrainingLoop loop2(options(dir.path(), 1), poisoned, &one);
  loop2.run();
  EXPECT_EQ(one.calls, 4);  // a rank with a NaN loss still takes part in the all-reduce
  EXPECT_TRUE(loop2.steps()[1].skipped);
}

TEST(DistributedShard, DisjointPaddedEqualShardsLikeDistributedSampler) {
  const std::vector<int64_t> order{7, 3, 9, 1, 4};  // 5 samples on 2 ranks: padded with the first one
  EXPECT_EQ(distributed_shard(order, 0, 2), (std::vector<int64_t>{7, 9, 4}));
  EXPECT_EQ(distributed_shard(order, 1, 2), (std::vector<int64_t>{3, 1, 7}));
  for (int world : {1, 2, 3, 4, 7}) {
    std::vector<int64_t> seen;
    size_t length = 0;
    for (int r = 0; r < world; ++r) {
      const auto shard = distributed_shard(order, r, world);
      if (r == 0) length = shard.size();
      EXPECT_EQ(shard.size(), length) << "world " << world;  // every rank takes the same number of steps
      seen.insert(seen.end(), shard.begin(), shard.end());
    }
    EXPECT_EQ(seen.size(), (order.size() + world - 1) / world * world);
    // Every sample appears; only the padding (the order's first samples) repeats.
    std::vector<int64_t> unique(seen);
    std::sort(unique.begin(), unique.end());
    unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
    EXPECT_EQ(unique.size(), order.size()) << "world " << world;
  }
  // Without padding, rank r's step i is one rank's position i·world + r: the batches of all ranks at a step are
  // exactly one large batch.
  const std::vector<int64_t> eight{5, 2, 7, 0, 6, 1, 4, 3};
  EXPECT_EQ(distributed_shard(eight, 0, 2), (std::vector<int64_t>{5, 7, 6, 4}));
  EXPECT_EQ(distributed_shard(eight, 1, 2), (std::vector<int64_t>{2, 0, 1, 3}));
  EXPECT_THROW(distributed_shard(eight, 2, 2), Error);
}

TEST(BackgroundLoader, ItemsComeInOrderWithAnyNumberOfWorkersAndErrorsSurface) {
  for (int workers : {1, 3}) {
    BackgroundLoader<int64_t> loader(
        20,
        [](int64_t i) {
          std::this_thread::sleep_for(std::chrono::microseconds((i * 7919) % 300));  // finish out of order
          return i * i;
        },
        workers, 3);
    for (int64_t i = 0; i < 20; ++i) EXPECT_EQ(loader.next(), i * i);
    EXPECT_THROW(loader.next(), Error);
  }
  BackgroundLoader<int> failing(
      5, [](int64_t i) -> int { return i == 2 ? throw Error("sample 2 is corrupt") : int(i); }, 2);
  EXPECT_EQ(failing.next(), 0);
  EXPECT_EQ(failing.next(), 1);
  try {
    failing.next();
    FAIL() << "expected the loading error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sample 2"), std::string::npos);
  }
}
