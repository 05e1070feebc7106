// Rasterizer constants shared by the CPU forward and backward kernels, the CUDA kernels and the
// reference twin. Changing one here changes every path at once (docs/renderer.md explains each).
#pragma once

namespace fresnel::render_constants {

constexpr int kTileSize = 16;     // tiles are kTileSize × kTileSize pixels
constexpr double kLowPass = 0.3;  // px² added to the 2D covariance diagonal by the default screen filter (dilation)
constexpr double kMipFilterVariance = 0.1;  // px², Mip-Splatting's 2D Mip filter (the opacity-compensated one)
constexpr double kMipDetEps = 1e-6;         // px⁴: det Σ2D floor of the Mip filter's opacity scale
constexpr double kSigmaCut = 3.0;           // a Gaussian covers pixels within 3σ (Mahalanobis ≤ 3)
constexpr double kMinPower = -0.5 * kSigmaCut * kSigmaCut;  // exponent at the 3σ ellipse
constexpr double kMaxAlpha = 0.99;                          // α = min(0.99, o·e^power)
constexpr double kMinAlpha = 1.0 / 255.0;                   // contributions below this are skipped
constexpr double kMinTransmittance = 1e-4;                  // a pixel stops once T would drop below this
constexpr double kGuardBand = 0.15;  // Jacobian clamp: means up to 15% of the image beyond each edge
constexpr double kQuatEps = 1e-12;   // q / sqrt(|q|² + eps): a zero quaternion becomes the identity
constexpr double kDirEps = 1e-20;    // view direction normalisation for SH
constexpr double kPhaseEps = 1e-6;   // |U|_ε = sqrt(|U|² + ε²) − ε in phase blending

// The SH basis constants live in core/sh_constants.hpp (shared with the file formats).

}  // namespace fresnel::render_constants
