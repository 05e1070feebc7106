#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.hpp"
#include "core/safetensors.hpp"
#include "metrics/lpips.hpp"
#include "testutil/testutil.hpp"

using namespace fresnel;

namespace {

// Independent description of the trunks, written from torchvision's definitions: a layer string per net
// ("C<out>,<k>,<stride>,<pad>" conv+ReLU, "M<k>" max-pool with stride 2) and the ReLU indices LPIPS taps.
struct Layer {
  char kind;
  int out, k, stride, pad;
};
std::vector<Layer> alex_layers() {
  return {{'C', 64, 11, 4, 2}, {'M', 0, 3, 2, 0},   {'C', 192, 5, 1, 2}, {'M', 0, 3, 2, 0},
          {'C', 384, 3, 1, 1}, {'C', 256, 3, 1, 1}, {'C', 256, 3, 1, 1}};
}
std::vector<Layer> vgg_layers() {
  std::vector<Layer> l;
  for (int c : {64, 64, -1, 128, 128, -1, 256, 256, 256, -1, 512, 512, 512, -1, 512, 512, 512})
    l.push_back(c < 0 ? Layer{'M', 0, 2, 2, 0} : Layer{'C', c, 3, 1, 1});
  return l;
}

// Random weights under torchvision's indices: each conv is followed by a ReLU, so indices count both.
std::map<std::string, torch::Tensor> random_weights(const std::vector<Layer>& layers, std::vector<int>& taps_out) {
  std::map<std::string, torch::Tensor> w;
  int index = 0, in = 3, lin = 0;
  std::vector<int> relu_indices;
  for (const auto& l : layers) {
    if (l.kind == 'M') {
      ++index;
      continue;
    }
    w["features." + std::to_string(index) + ".weight"] =
        torch::randn({l.out, in, l.k, l.k}) * std::sqrt(2.0 / (in * l.k * l.k));
    w["features." + std::to_string(index) + ".bias"] = torch::randn({l.out}) * 0.1;
    relu_indices.push_back(index + 1);
    in = l.out;
    index += 2;
  }
  // LPIPS taps: alex every ReLU; vgg the last ReLU before each pool and the final one.
  taps_out.clear();
  if (layers.size() == alex_layers().size()) {
    taps_out = relu_indices;
  } else {
    int idx = 0;
    for (size_t i = 0; i < layers.size(); ++i) {
      idx += layers[i].kind == 'M' ? 1 : 2;
      if (layers[i].kind == 'C' && (i + 1 == layers.size() || layers[i + 1].kind == 'M')) taps_out.push_back(idx - 1);
    }
  }
  index = 0;
  in = 3;
  for (const auto& l : layers) {
    if (l.kind == 'M') {
      ++index;
      continue;
    }
    index += 2;
    if (std::find(taps_out.begin(), taps_out.end(), index - 1) != taps_out.end())
      w["lin" + std::to_string(lin++) + ".model.1.weight"] = torch::rand({1, l.out, 1, 1});
  }
  return w;
}

// Straightforward LPIPS with torch::nn modules, one layer at a time.
torch::Tensor naive_lpips(const std::vector<Layer>& layers, const std::vector<int>& taps,
                          std::map<std::string, torch::Tensor> w, torch::Tensor a, torch::Tensor b) {
  // One callable per torchvision index (conv, ReLU, max-pool), so that features.<i> names line up.
  std::vector<std::function<torch::Tensor(const torch::Tensor&)>> ops;
  std::vector<torch::nn::Conv2d> convs;
  int in = 3;
  for (const auto& l : layers) {
    if (l.kind == 'M') {
      torch::nn::MaxPool2d pool(torch::nn::MaxPool2dOptions(l.k).stride(2));
      ops.push_back([pool](const torch::Tensor& x) mutable { return pool->forward(x); });
      continue;
    }
    torch::nn::Conv2d conv(torch::nn::Conv2dOptions(in, l.out, l.k).stride(l.stride).padding(l.pad));
    torch::NoGradGuard ng;
    conv->weight.copy_(w.at("features." + std::to_string(ops.size()) + ".weight"));
    conv->bias.copy_(w.at("features." + std::to_string(ops.size()) + ".bias"));
    ops.push_back([conv](const torch::Tensor& x) mutable { return conv->forward(x); });
    torch::nn::ReLU relu;
    ops.push_back([relu](const torch::Tensor& x) mutable { return relu->forward(x); });
    in = l.out;
  }
  torch::NoGradGuard ng;
  auto run = [&](torch::Tensor x) {
    const auto shift = torch::tensor({-.030f, -.088f, -.188f}).view({1, 3, 1, 1});
    const auto scale = torch::tensor({.458f, .448f, .450f}).view({1, 3, 1, 1});
    x = ((2 * x - 1) - shift) / scale;
    std::vector<torch::Tensor> feats;
    for (size_t i = 0; i < ops.size(); ++i) {
      x = ops[i](x);
      if (std::find(taps.begin(), taps.end(), int(i)) != taps.end()) feats.push_back(x);
    }
    return feats;
  };
  const auto fa = run(a), fb = run(b);
  torch::Tensor total = torch::zeros({a.size(0)});
  for (size_t k = 0; k < fa.size(); ++k) {
    const auto na = fa[k] / (fa[k].norm(2, 1, true) + 1e-10), nb = fb[k] / (fb[k].norm(2, 1, true) + 1e-10);
    const auto lw = w.at("lin" + std::to_string(k) + ".model.1.weight").view({1, -1, 1, 1});
    total += ((na - nb).pow(2) * lw).sum(1).mean({1, 2});
  }
  return total;
}

}  // namespace

TEST(Lpips, AlexEqualsStraightforwardComputation) {
  torch::manual_seed(1);
  std::vector<int> taps;
  const auto w = random_weights(alex_layers(), taps);
  EXPECT_EQ(taps, (std::vector<int>{1, 4, 7, 9, 11}));  // torchvision AlexNet ReLU indices
  test::TempDir tmp;
  save_safetensors(tmp.file("alex.safetensors"), w);
  const auto lp = Lpips::load(tmp.file("alex.safetensors"));
  EXPECT_EQ(lp->net(), LpipsNet::Alex);
  const auto a = torch::rand({2, 3, 64, 64}), b = torch::rand({2, 3, 64, 64});
  const auto d = lp->distance(a, b), ref = naive_lpips(alex_layers(), taps, w, a, b);
  EXPECT_GT(d.min().item<double>(), 0.0);
  EXPECT_LT(test::max_abs_diff(d, ref), 1e-5 * std::max(1.0, ref.abs().max().item<double>()));
  EXPECT_LT(lp->distance(a, a).abs().max().item<double>(), 1e-7);
  EXPECT_THROW(lp->distance(torch::rand({1, 3, 24, 24}), torch::rand({1, 3, 24, 24})), Error);
}

TEST(Lpips, VggEqualsStraightforwardComputation) {
  torch::manual_seed(2);
  std::vector<int> taps;
  const auto w = random_weights(vgg_layers(), taps);
  EXPECT_EQ(taps, (std::vector<int>{3, 8, 15, 22, 29}));  // torchvision VGG16 relu1_2 … relu5_3
  test::TempDir tmp;
  save_safetensors(tmp.file("vgg.safetensors"), w);
  const auto lp = Lpips::load(tmp.file("vgg.safetensors"));
  EXPECT_EQ(lp->net(), LpipsNet::Vgg);
  const auto a = torch::rand({1, 3, 32, 32}), b = torch::rand({1, 3, 32, 32});
  const auto d = lp->distance(a, b), ref = naive_lpips(vgg_layers(), taps, w, a, b);
  EXPECT_LT(test::max_abs_diff(d, ref), 1e-5 * std::max(1.0, ref.abs().max().item<double>()));
}

TEST(Lpips, BadFilesAreClearErrors) {
  torch::manual_seed(3);
  std::vector<int> taps;
  auto w = random_weights(alex_layers(), taps);
  test::TempDir tmp;
  auto expect_error_naming = [&](const std::map<std::string, torch::Tensor>& t, const std::string& needle) {
    save_safetensors(tmp.file("w.safetensors"), t);
    try {
      Lpips::load(tmp.file("w.safetensors"));
      FAIL() << "expected an error mentioning " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  auto missing = w;
  missing.erase("lin2.model.1.weight");
  expect_error_naming(missing, "lin2.model.1.weight");
  auto wrong = w;
  wrong["features.3.weight"] = torch::zeros({192, 64, 3, 3});
  expect_error_naming(wrong, "features.3.weight");
  auto negative = w;
  negative["lin0.model.1.weight"] = -torch::rand({1, 64, 1, 1});
  expect_error_naming(negative, "negative");
  auto nan = w;
  nan["features.0.bias"] = torch::full({64}, NAN);
  expect_error_naming(nan, "features.0.bias");
  EXPECT_THROW(Lpips::load(tmp.file("absent.safetensors")), Error);
  // Expected names and shapes are documented and consistent with the file the test wrote.
  for (const auto& [name, shape] : Lpips::expected_tensors(LpipsNet::Alex)) {
    ASSERT_TRUE(w.count(name)) << name;
    EXPECT_EQ(w.at(name).sizes().vec(), shape) << name;
  }
}

TEST(Lpips, GradientFlowsToTheImages) {
  torch::manual_seed(4);
  std::vector<int> taps;
  const auto w = random_weights(alex_layers(), taps);
  test::TempDir tmp;
  save_safetensors(tmp.file("alex.safetensors"), w);
  const auto lp = Lpips::load(tmp.file("alex.safetensors"));
  auto a = torch::rand({1, 3, 40, 40}).requires_grad_(true);
  auto b = torch::zeros({1, 3, 40, 40});  // black: all-zero features somewhere must not give NaN gradients
  lp->distance(a, b).sum().backward();
  EXPECT_TRUE(torch::isfinite(a.grad()).all().item<bool>());
  EXPECT_GT(a.grad().abs().sum().item<double>(), 0.0);
}
