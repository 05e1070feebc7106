#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.hpp"
#include "core/gaussians.hpp"

using namespace fresnel;

static Gaussians make(int64_t n) {
  Gaussians g;
  g.means = torch::randn({n, 3});
  g.quats = torch::nn::functional::normalize(torch::randn({n, 4}), torch::nn::functional::NormalizeFuncOptions().dim(-1));
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
  Gaussians batched;
  batched.means = torch::stack({a.means, a.means});
  EXPECT_TRUE(batched.batched());
  EXPECT_EQ(batched.count(), 3);
}
