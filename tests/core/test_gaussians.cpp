#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "core/error.hpp"
#include "core/gaussians.hpp"
#include "core/sh_constants.hpp"

using namespace fresnel;

static Gaussians make(int64_t n) {
  Gaussians g;
  g.means = torch::randn({n, 3});
  g.quats =
      torch::nn::functional::normalize(torch::randn({n, 4}), torch::nn::functional::NormalizeFuncOptions().dim(-1));
  g.scales = torch::rand({n, 3}) + 0.01;
  g.opacities = torch::rand({n});
  g.colors = torch::rand({n, 3});
  return g;
}

static std::string message_of(const Gaussians& g) {
  try {
    g.validate("scene.ply");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Gaussians, ValidAcceptsGoodData) {
  auto g = make(10);
  EXPECT_NO_THROW(g.validate());
  EXPECT_EQ(g.count(), 10);
  EXPECT_EQ(g.sh_degree(), 0);
}

TEST(Gaussians, ValidateNamesOffendingField) {
  auto g = make(5);
  g.scales[2][1] = -1.0;
  EXPECT_NE(message_of(g).find("'scales'"), std::string::npos);
  g = make(5);
  g.means[0][0] = NAN;
  EXPECT_NE(message_of(g).find("'means'"), std::string::npos);
  g = make(5);
  g.opacities = torch::rand({4});
  EXPECT_NE(message_of(g).find("'opacities'"), std::string::npos);
  g = make(5);
  g.colors = torch::rand({5, 5, 3});
  EXPECT_NE(message_of(g).find("'colors'"), std::string::npos);
  EXPECT_NE(message_of(g).find("scene.ply"), std::string::npos);
}

TEST(Gaussians, ShDegreeAndBaseRgb) {
  auto g = make(4);
  g.colors = torch::zeros({4, 16, 3});
  EXPECT_EQ(g.sh_degree(), 3);
  EXPECT_NO_THROW(g.validate());
  EXPECT_NEAR(g.base_rgb()[0][0].item<float>(), 0.5f, 1e-7);
}

TEST(Gaussians, BatchCatAndIndex) {
  auto a = make(3), b = make(2);
  auto c = Gaussians::cat({a, b});
  EXPECT_EQ(c.count(), 5);
  auto s = c.index_select(torch::tensor({4, 0}));
  EXPECT_TRUE(torch::equal(s.means[0], b.means[1]));
  Gaussians batched = Gaussians::stack({a, make(3)});
  EXPECT_TRUE(batched.batched());
  EXPECT_EQ(batched.count(), 3);
  // Batched: the same Gaussians of every scene (along N, not along the batch).
  auto picked = batched.index_select(torch::tensor({2, 0}));
  EXPECT_EQ(picked.batch_size(), 2);
  EXPECT_EQ(picked.count(), 2);
  for (int64_t b = 0; b < 2; ++b) {
    EXPECT_TRUE(torch::equal(picked.means[b][0], batched.means[b][2]));
    EXPECT_TRUE(torch::equal(picked.opacities[b][1], batched.opacities[b][0]));
  }
}

TEST(Gaussians, StackBatchesEveryDefinedField) {
  auto a = make(4), b = make(4);
  for (auto* g : {&a, &b}) {
    g->colors = torch::rand({4, 4, 3});  // SH degree 1
    g->phases = torch::rand({4, 3});
  }
  const Gaussians s = Gaussians::stack({a, b});
  ASSERT_TRUE(s.batched());
  EXPECT_EQ(s.batch_size(), 2);
  EXPECT_EQ(s.count(), 4);
  EXPECT_EQ(s.sh_degree(), 1);
  EXPECT_NO_THROW(s.validate());
  const Gaussians* parts[] = {&a, &b};
  for (int64_t i = 0; i < 2; ++i) {
    const Gaussians one = s.batch(i);
    EXPECT_TRUE(torch::equal(one.means, parts[i]->means));
    EXPECT_TRUE(torch::equal(one.quats, parts[i]->quats));
    EXPECT_TRUE(torch::equal(one.scales, parts[i]->scales));
    EXPECT_TRUE(torch::equal(one.opacities, parts[i]->opacities));
    EXPECT_TRUE(torch::equal(one.colors, parts[i]->colors));
    EXPECT_TRUE(torch::equal(one.phases, parts[i]->phases));
  }
  EXPECT_FALSE(Gaussians::stack({make(2), make(2)}).has_phases()) << "a field absent everywhere stays absent";
}

TEST(Gaussians, StackRefusesMismatchedScenes) {
  auto with_phases = make(3);
  with_phases.phases = torch::zeros({3, 3});
  auto message = [](const std::vector<Gaussians>& parts) {
    try {
      Gaussians::stack(parts);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message({with_phases, make(3)}).find("'phases'"), std::string::npos);
  EXPECT_NE(message({make(3), make(2)}).find("different numbers"), std::string::npos);
  EXPECT_NE(message({Gaussians::stack({make(3)})}).find("unbatched"), std::string::npos);
  EXPECT_FALSE(message({}).empty());
}

TEST(Gaussians, BaseRgbUsesTheShBandZeroConstant) {
  EXPECT_DOUBLE_EQ(sh::kC0, 0.5 / std::sqrt(M_PI));  // Y_0^0 = 1/(2√π)
  auto g = make(1);
  g.colors = torch::full({1, 1, 3}, 0.5f);
  EXPECT_NEAR(g.base_rgb()[0][0].item<float>(), 0.5 + 0.5 * sh::kC0, 1e-6);
}
