// The screen-space filter of the rasterizer, as render options, flags and files name it (docs/renderer.md,
// "Screen filter"). Torch-free.
#pragma once
#include <string>

namespace fresnel {

// What the rasterizer adds to every projected Gaussian's 2D covariance Σ2D (docs/renderer.md, "Screen filter"):
//  - dilation (the default, 3DGS's): Σ2D + 0.3·I, opacity unchanged; a Gaussian never gets thinner than ~0.5 px,
//    so sub-pixel Gaussians look fine at the resolution they were trained at and fall apart into dots above it;
//  - mip (Mip-Splatting's 2D Mip filter): Σ2D + v·I (v = 0.1 px² by default: a box filter of one pixel) with
//    opacity × sqrt(det Σ2D / det(Σ2D + v·I)), so the filter blurs without widening what a Gaussian covers.
struct ScreenFilter {
  enum class Kind { kDilation = 0, kMip = 1 };
  Kind kind = Kind::kDilation;
  double variance_px2 = 0.3;

  static ScreenFilter dilation(double variance_px2 = 0.3) { return {Kind::kDilation, variance_px2}; }
  static ScreenFilter mip(double variance_px2 = 0.1) { return {Kind::kMip, variance_px2}; }
  bool is_mip() const { return kind == Kind::kMip; }
  bool operator==(const ScreenFilter& o) const { return kind == o.kind && variance_px2 == o.variance_px2; }
  bool operator!=(const ScreenFilter& o) const { return !(*this == o); }
};

// "dilation" (0.3 px²), "dilation:V", "mip" (0.1 px²) or "mip:V" (V > 0, px²): how flags and files name a
// filter. Throws fresnel::UsageError naming the text when malformed.
ScreenFilter parse_screen_filter(const std::string& text);
std::string screen_filter_name(const ScreenFilter& filter);  // "mip:0.1", "dilation:0.3"

}  // namespace fresnel
