// Real spherical-harmonics basis constants (3DGS convention: colour = 0.5 + Σ_k SH_k(dir)·c_k).
// The one place they are written: the file formats (SH DC ↔ RGB), Gaussians::base_rgb and the rasterizer's CPU,
// CUDA and reference paths all read them here. No torch include, so CUDA device code can use them too.
#pragma once

namespace fresnel::sh {

// Band 0, Y_0^0 = 1/(2√π): also the original's f_dc scale (rgb = 0.5 + kC0·f_dc).
constexpr double kC0 = 0.28209479177387814;
constexpr double kC1 = 0.4886025119029199;
// Scalars rather than arrays so CUDA device code can use them as constants.
constexpr double kC2_0 = 1.0925484305920792, kC2_1 = -1.0925484305920792, kC2_2 = 0.31539156525252005,
                 kC2_3 = -1.0925484305920792, kC2_4 = 0.5462742152960396;
constexpr double kC3_0 = -0.5900435899266435, kC3_1 = 2.890611442640554, kC3_2 = -0.4570457994644658,
                 kC3_3 = 0.3731763325901154, kC3_4 = -0.4570457994644658, kC3_5 = 1.445305721320277,
                 kC3_6 = -0.5900435899266435;

// Sign of SH coefficient k = 1..15 (bands 1-3, 3DGS order) under the rotation (x, y, z) → (x, −y, −z): −1 where the
// basis function is odd in y·z. Used by every RDF ↔ RUB conversion (.spz files, the object frame).
constexpr float kSignUnderYzFlip[15] = {-1, -1, 1, -1, 1, 1, -1, 1, -1, 1, -1, -1, 1, -1, 1};

}  // namespace fresnel::sh
