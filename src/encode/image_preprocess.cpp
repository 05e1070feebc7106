#include "encode/image_preprocess.hpp"

#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "core/error.hpp"

namespace fresnel::encode {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // PIL's PRECISION_BITS

double bilinear_filter(double x) {
  x = std::abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}
double sinc(double x) {
  if (x == 0.0) return 1.0;
  x *= M_PI;
  return std::sin(x) / x;
}
double lanczos_filter(double x) { return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3.0) : 0.0; }

// Per output pixel: first input index, tap count and normalised weights (PIL precompute_coeffs).
struct Coeffs {
  int ksize = 0;
  std::vector<int> xmin, count;
  std::vector<double> k;  // out × ksize
};

Coeffs precompute(int in_size, int out_size, PilFilter f) {
  const double support_1 = f == PilFilter::Bilinear ? 1.0 : 3.0;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = support_1 * filterscale;
  Coeffs c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.xmin.resize(out_size);
  c.count.resize(out_size);
  c.k.assign(static_cast<size_t>(out_size) * c.ksize, 0.0);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);  // C cast: truncation, as PIL
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double* k = &c.k[static_cast<size_t>(xx) * c.ksize];
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = f == PilFilter::Bilinear ? bilinear_filter((x + xmin - center + 0.5) * ss)
                                                : lanczos_filter((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (int x = 0; x < xmax; ++x)
      if (ww != 0.0) k[x] /= ww;
    c.xmin[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

std::vector<int32_t> fixed_point(const Coeffs& c) {
  std::vector<int32_t> kk(c.k.size());
  for (size_t i = 0; i < c.k.size(); ++i)
    kk[i] = c.k[i] < 0 ? static_cast<int32_t>(-0.5 + c.k[i] * (1 << kPrecisionBits))
                       : static_cast<int32_t>(0.5 + c.k[i] * (1 << kPrecisionBits));
  return kk;
}

inline uint8_t clip8(int32_t v) {
  v >>= kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// One 8-bit pass along an axis. `stride_in`/`stride_out` step between samples along the axis; lines are the
// other axis. Layout (lines, len, C) or (len, lines, C) is expressed through the strides.
void pass_u8(const uint8_t* in, uint8_t* out, int lines, int channels, const Coeffs& c, const std::vector<int32_t>& kk,
             int64_t line_in, int64_t step_in, int64_t line_out, int64_t step_out, int out_len) {
  at::parallel_for(0, lines, 16, [&](int64_t l0, int64_t l1) {
    for (int64_t l = l0; l < l1; ++l)
      for (int xx = 0; xx < out_len; ++xx) {
        const int32_t* k = &kk[static_cast<size_t>(xx) * c.ksize];
        for (int ch = 0; ch < channels; ++ch) {
          int32_t ss = 1 << (kPrecisionBits - 1);
          const uint8_t* src = in + l * line_in + static_cast<int64_t>(c.xmin[xx]) * step_in + ch;
          for (int x = 0; x < c.count[xx]; ++x) ss += static_cast<int32_t>(src[x * step_in]) * k[x];
          out[l * line_out + xx * step_out + ch] = clip8(ss);
        }
      }
  });
}

void pass_f32(const float* in, float* out, int lines, int channels, const Coeffs& c, int64_t line_in, int64_t step_in,
              int64_t line_out, int64_t step_out, int out_len) {
  at::parallel_for(0, lines, 16, [&](int64_t l0, int64_t l1) {
    for (int64_t l = l0; l < l1; ++l)
      for (int xx = 0; xx < out_len; ++xx) {
        const double* k = &c.k[static_cast<size_t>(xx) * c.ksize];
        for (int ch = 0; ch < channels; ++ch) {
          double ss = 0.0;
          const float* src = in + l * line_in + static_cast<int64_t>(c.xmin[xx]) * step_in + ch;
          for (int x = 0; x < c.count[xx]; ++x) ss += src[x * step_in] * k[x];
          out[l * line_out + xx * step_out + ch] = static_cast<float>(ss);
        }
      }
  });
}

}  // namespace

torch::Tensor pil_resize(const torch::Tensor& image_in, int64_t out_w, int64_t out_h, PilFilter filter) {
  if (out_w <= 0 || out_h <= 0) throw Error("pil_resize: output size must be positive");
  const bool is_u8 = image_in.scalar_type() == torch::kUInt8;
  if (!is_u8 && image_in.scalar_type() != torch::kFloat) throw Error("pil_resize: expected uint8 or float32 image");
  const bool squeeze = image_in.dim() == 2;
  torch::Tensor img = (squeeze ? image_in.unsqueeze(-1) : image_in).contiguous();
  if (img.dim() != 3) throw Error("pil_resize: expected an (H,W) or (H,W,C) image");
  const int h = static_cast<int>(img.size(0)), w = static_cast<int>(img.size(1)), ch = static_cast<int>(img.size(2));
  const int ow = static_cast<int>(out_w), oh = static_cast<int>(out_h);
  // PIL skips a pass whose size does not change (and returns a copy when neither does).
  torch::Tensor cur = img;
  if (ow != w) {
    auto c = precompute(w, ow, filter);
    torch::Tensor out = torch::empty({h, ow, ch}, img.options());
    if (is_u8) {
      pass_u8(cur.data_ptr<uint8_t>(), out.data_ptr<uint8_t>(), h, ch, c, fixed_point(c), int64_t(w) * ch, ch,
              int64_t(ow) * ch, ch, ow);
    } else {
      pass_f32(cur.data_ptr<float>(), out.data_ptr<float>(), h, ch, c, int64_t(w) * ch, ch, int64_t(ow) * ch, ch, ow);
    }
    cur = out;
  }
  if (oh != h) {
    const int cw = static_cast<int>(cur.size(1));
    auto c = precompute(h, oh, filter);
    torch::Tensor out = torch::empty({oh, cw, ch}, img.options());
    // Lines are columns: step along a column is one row.
    if (is_u8) {
      pass_u8(cur.data_ptr<uint8_t>(), out.data_ptr<uint8_t>(), cw, ch, c, fixed_point(c), ch, int64_t(cw) * ch, ch,
              int64_t(cw) * ch, oh);
    } else {
      pass_f32(cur.data_ptr<float>(), out.data_ptr<float>(), cw, ch, c, ch, int64_t(cw) * ch, ch, int64_t(cw) * ch, oh);
    }
    cur = out;
  }
  if (cur.data_ptr() == img.data_ptr()) cur = cur.clone();
  return squeeze ? cur.squeeze(-1) : cur;
}

torch::Tensor pil_resize_rgba(const torch::Tensor& rgba, int64_t out_w, int64_t out_h, PilFilter filter) {
  if (rgba.scalar_type() != torch::kUInt8 || rgba.dim() != 3 || rgba.size(2) != 4)
    throw Error("pil_resize_rgba: expected (H,W,4) uint8");
  torch::Tensor pre = rgba.contiguous().clone();
  const int64_t n = pre.size(0) * pre.size(1);
  uint8_t* p = pre.data_ptr<uint8_t>();
  for (int64_t i = 0; i < n; ++i) {  // PIL rgbA2rgba: MULDIV255
    const int a = p[4 * i + 3];
    for (int c = 0; c < 3; ++c) {
      const int t = p[4 * i + c] * a + 128;
      p[4 * i + c] = static_cast<uint8_t>(((t >> 8) + t) >> 8);
    }
  }
  torch::Tensor out = pil_resize(pre, out_w, out_h, filter);
  uint8_t* q = out.data_ptr<uint8_t>();
  const int64_t m = out.size(0) * out.size(1);
  for (int64_t i = 0; i < m; ++i) {  // PIL rgba2rgbA: 255·c / α, clipped
    const int a = q[4 * i + 3];
    if (a == 0 || a == 255) continue;
    for (int c = 0; c < 3; ++c) {
      const int v = (255 * q[4 * i + c]) / a;
      q[4 * i + c] = static_cast<uint8_t>(v > 255 ? 255 : v);
    }
  }
  return out;
}

torch::Tensor encoder_input(const torch::Tensor& rgb_u8) {
  if (rgb_u8.scalar_type() != torch::kUInt8 || rgb_u8.dim() != 3 || rgb_u8.size(2) != 3)
    throw Error("encoder_input: expected an (H,W,3) uint8 RGB image");
  torch::Tensor img = rgb_u8;
  if (img.size(0) != kEncoderInputSize || img.size(1) != kEncoderInputSize)
    img = pil_resize(img, kEncoderInputSize, kEncoderInputSize, PilFilter::Bilinear);
  auto x = img.to(torch::kFloat).div(255.0);
  auto mean = torch::tensor({kImagenetMean[0], kImagenetMean[1], kImagenetMean[2]}, torch::kFloat);
  auto std = torch::tensor({kImagenetStd[0], kImagenetStd[1], kImagenetStd[2]}, torch::kFloat);
  x = (x - mean) / std;
  return x.permute({2, 0, 1}).unsqueeze(0).contiguous();
}

torch::Tensor to_u8(const torch::Tensor& image01) {
  return image01.detach().to(torch::kFloat).mul(255.0).round().clamp(0, 255).to(torch::kUInt8).contiguous();
}

}  // namespace fresnel::encode
