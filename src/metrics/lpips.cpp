#include "metrics/lpips.hpp"

#include <torch/torch.h>

#include "core/error.hpp"
#include "core/safetensors.hpp"

namespace fresnel {
namespace {

// One convolution of a trunk: torchvision index, channels, kernel, stride, padding, whether a 3×3/2 (alex) or
// 2×2/2 (vgg) max-pool precedes it, and whether its ReLU output is one of the five LPIPS taps.
struct ConvSpec {
  int index, in, out, kernel, stride, pad;
  bool pool_before, tap;
};

const std::vector<ConvSpec>& trunk(LpipsNet net) {
  static const std::vector<ConvSpec> alex = {{0, 3, 64, 11, 4, 2, false, true},
                                             {3, 64, 192, 5, 1, 2, true, true},
                                             {6, 192, 384, 3, 1, 1, true, true},
                                             {8, 384, 256, 3, 1, 1, false, true},
                                             {10, 256, 256, 3, 1, 1, false, true}};
  static const std::vector<ConvSpec> vgg = {
      {0, 3, 64, 3, 1, 1, false, false},    {2, 64, 64, 3, 1, 1, false, true},    {5, 64, 128, 3, 1, 1, true, false},
      {7, 128, 128, 3, 1, 1, false, true},  {10, 128, 256, 3, 1, 1, true, false}, {12, 256, 256, 3, 1, 1, false, false},
      {14, 256, 256, 3, 1, 1, false, true}, {17, 256, 512, 3, 1, 1, true, false}, {19, 512, 512, 3, 1, 1, false, false},
      {21, 512, 512, 3, 1, 1, false, true}, {24, 512, 512, 3, 1, 1, true, false}, {26, 512, 512, 3, 1, 1, false, false},
      {28, 512, 512, 3, 1, 1, false, true}};
  return net == LpipsNet::Alex ? alex : vgg;
}

std::vector<int64_t> tap_channels(LpipsNet net) {
  std::vector<int64_t> c;
  for (const auto& s : trunk(net))
    if (s.tap) c.push_back(s.out);
  return c;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + ")";
}

}  // namespace

const char* lpips_net_name(LpipsNet net) { return net == LpipsNet::Alex ? "alex" : "vgg"; }

std::vector<std::pair<std::string, std::vector<int64_t>>> Lpips::expected_tensors(LpipsNet net) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  for (const auto& s : trunk(net)) {
    const std::string base = "features." + std::to_string(s.index);
    out.push_back({base + ".weight", {s.out, s.in, s.kernel, s.kernel}});
    out.push_back({base + ".bias", {s.out}});
  }
  const auto ch = tap_channels(net);
  for (size_t k = 0; k < ch.size(); ++k)
    out.push_back({"lin" + std::to_string(k) + ".model.1.weight", {1, ch[k], 1, 1}});
  return out;
}

std::shared_ptr<Lpips> Lpips::load(const std::string& path) {
  const auto file = SafetensorsFile::open(path);
  auto lp = std::make_shared<Lpips>();
  lp->path_ = path;
  const auto& meta = file.metadata();
  const auto it = meta.find("net");
  if (it != meta.end()) {
    if (it->second == "alex") {
      lp->net_ = LpipsNet::Alex;
    } else if (it->second == "vgg" || it->second == "vgg16") {
      lp->net_ = LpipsNet::Vgg;
    } else {
      throw file_error(path, "metadata 'net' is '" + it->second + "' (expected alex or vgg)");
    }
  } else {
    lp->net_ = file.contains("features.2.weight") ? LpipsNet::Vgg : LpipsNet::Alex;
  }
  auto fetch = [&](const std::string& name, const std::vector<int64_t>& shape) {
    if (!file.contains(name))
      throw file_error(path, std::string("missing tensor '") + name + "' (LPIPS " + lpips_net_name(lp->net_) +
                                 " needs it; see docs/metrics.md)");
    if (file.shape(name) != shape)
      throw file_error(
          path, "tensor '" + name + "' has shape " + shape_str(file.shape(name)) + ", expected " + shape_str(shape));
    auto t = file.tensor(name).to(torch::kFloat32).contiguous();
    if (!torch::isfinite(t).all().item<bool>()) throw file_error(path, "tensor '" + name + "' contains NaN or Inf");
    return t;
  };
  for (const auto& s : trunk(lp->net_)) {
    const std::string base = "features." + std::to_string(s.index);
    lp->conv_w_.push_back(fetch(base + ".weight", {s.out, s.in, s.kernel, s.kernel}));
    lp->conv_b_.push_back(fetch(base + ".bias", {s.out}));
  }
  const auto ch = tap_channels(lp->net_);
  for (size_t k = 0; k < ch.size(); ++k) {
    const std::string name = "lin" + std::to_string(k) + ".model.1.weight";
    auto w = fetch(name, {1, ch[k], 1, 1});
    if ((w < 0).any().item<bool>())
      throw file_error(path, "tensor '" + name + "' has negative weights (LPIPS linear layers are non-negative)");
    lp->lin_w_.push_back(w);
  }
  return lp;
}

std::vector<torch::Tensor> Lpips::features(const torch::Tensor& scaled) const {
  std::vector<torch::Tensor> taps;
  torch::Tensor h = scaled;
  const auto& spec = trunk(net_);
  for (size_t i = 0; i < spec.size(); ++i) {
    const auto& s = spec[i];
    if (s.pool_before)
      h = net_ == LpipsNet::Alex ? torch::max_pool2d(h, {3, 3}, {2, 2}) : torch::max_pool2d(h, {2, 2}, {2, 2});
    const auto w = conv_w_[i].to(h.device(), h.scalar_type()), b = conv_b_[i].to(h.device(), h.scalar_type());
    h = torch::relu(torch::conv2d(h, w, b, {s.stride, s.stride}, {s.pad, s.pad}));
    if (s.tap) taps.push_back(h);
  }
  return taps;
}

torch::Tensor Lpips::distance(const torch::Tensor& a, const torch::Tensor& b) const {
  if (a.dim() != 4 || a.size(1) != 3 || a.sizes() != b.sizes())
    throw Error("lpips: expected two (B,3,H,W) images of the same shape");
  // Smallest input whose last feature map is non-empty: AlexNet's 11×11/4 conv and two 3×3/2 pools, VGG's 4 pools.
  const int64_t min_side = net_ == LpipsNet::Alex ? 32 : 16;
  if (a.size(2) < min_side || a.size(3) < min_side)
    throw Error(std::string("lpips: images must be at least ") + std::to_string(min_side) + "x" +
                std::to_string(min_side) + " pixels for the " + lpips_net_name(net_) + " network");
  const auto opts = torch::TensorOptions().dtype(a.scalar_type()).device(a.device());
  const auto shift = torch::tensor({-0.030, -0.088, -0.188}, opts).view({1, 3, 1, 1});
  const auto scale = torch::tensor({0.458, 0.448, 0.450}, opts).view({1, 3, 1, 1});
  auto prep = [&](const torch::Tensor& x) { return ((x * 2 - 1) - shift) / scale; };
  const auto fa = features(prep(a)), fb = features(prep(b.to(a.scalar_type())));
  torch::Tensor total;
  for (size_t k = 0; k < fa.size(); ++k) {
    // ‖f‖ + 1e-10 as in the reference; the 1e-20 under the root only keeps the gradient finite where a
    // location's features are all zero (black background), and changes no value.
    auto unit = [](const torch::Tensor& f) { return f / ((f.pow(2).sum(1, true) + 1e-20).sqrt() + 1e-10); };
    const auto d = (unit(fa[k]) - unit(fb[k])).pow(2);
    const auto v = torch::conv2d(d, lin_w_[k].to(d.device(), d.scalar_type())).mean({1, 2, 3});
    total = total.defined() ? total + v : v;
  }
  return total;
}

}  // namespace fresnel
