// `fresnel infer --shard i/n`: the shards of a list of images are disjoint and together cover it (one Slurm array
// task per shard, docs/distributed.md).
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "testutil/cli_runner.hpp"
#include "testutil/testutil.hpp"

using fresnel::test::run_fresnel;
namespace fs = std::filesystem;

TEST(CliInferShard, ShardsAreDisjointAndCoverTheImages) {
  fresnel::test::TempDir tmp;
  const auto t = tmp.path();
  ASSERT_EQ(run_fresnel("--quiet synth --out " + t +
                        "/d --objects 5 --views 1 --size 32 --seed 3 --split 0.4,0,0.6 "
                        "--aa 1")
                .exit_code,
            0);
  const auto tr = run_fresnel(
      "--quiet --threads 1 train --experiment 2 --encoder builtin --feature_dim 8 "
      "--decoder_hidden 16 --gaussians_per_patch 1 --image_size 32 --epochs 1 --batch_size 2 "
      "--num_workers 1 --data_dir " +
      t + "/d --output_dir " + t + "/c");
  ASSERT_EQ(tr.exit_code, 0) << tr.output;
  std::string images;
  std::set<std::string> stems;
  for (const auto& e : fs::directory_iterator(t + "/d/images_test")) {
    images += " " + e.path().string();
    stems.insert(e.path().stem().string());
  }
  ASSERT_EQ(stems.size(), 3u);
  std::set<std::string> seen;
  size_t total = 0;
  for (int i = 0; i < 2; ++i) {
    const std::string out = t + "/o" + std::to_string(i);
    const auto r = run_fresnel("--quiet infer" + images + " --checkpoint " + t + "/c/decoder_exp2_epoch1.pt -o " + out +
                               " --shard " + std::to_string(i) + "/2");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    for (const auto& e : fs::directory_iterator(out)) {
      if (e.path().extension() != ".ply") continue;  // each file has a {stem}.cameras.json beside it
      seen.insert(e.path().stem().string());
      ++total;
    }
  }
  EXPECT_EQ(total, 3u);    // disjoint…
  EXPECT_EQ(seen, stems);  // …and complete
  const auto bad =
      run_fresnel("infer" + images + " --checkpoint " + t + "/c/decoder_exp2_epoch1.pt -o " + t + "/o --shard 2/2");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("shard"), std::string::npos) << bad.output;
}
