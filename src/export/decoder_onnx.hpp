// ONNX export of the experiment-2 decoder (DirectPatchDecoder) with the original's interface (spec §1):
//   inputs  features (B,C,h,w)  [C from the checkpoint], depth (B,1,D,D) [D = 518 as the original]
//   outputs positions (B,N,3), scales (B,N,3), rotations (B,N,4 wxyz), colors (B,N,3), opacities (B,N)
//           [+ phases (B,N,3) for models with phase output], N = h·w·K, batch dimension dynamic.
// The graph is built node by node from the decoder's weights, using only operators that OpenCV 4.6's DNN
// importer runs (Gemm/MatMul, Conv, Relu, Sigmoid, Softplus, Sign, Sqrt, Resize, Reshape, Transpose, Concat,
// elementwise arithmetic): clamps are written with Relu and selects with Sign·Relu masks, because OpenCV 4.6
// rejects opset-11+ Clip and Where.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "core/camera.hpp"
#include "decode/direct_patch_decoder.hpp"

namespace fresnel::onnx_export {

struct DecoderExportOptions {
  int64_t grid_h = 37, grid_w = 37;  // feature grid (DINOv2 / built-in encoder: 37×37)
  int64_t depth_size = 518;          // depth input D×D (the original's ONNX takes 518²)
  std::array<double, 4> intrinsics = kDefaultNormalizedIntrinsics;  // normalised input camera (fx/W, fy/H, cx/W, cy/H)
  int64_t opset = 14;
};

struct ExportSummary {
  int64_t gaussians = 0;  // N per image
  int64_t nodes = 0;
  std::vector<std::string> outputs;
};

// Writes the ONNX model atomically. Throws fresnel::Error for decoder options the graph cannot express
// (naming the option) or when writing fails.
ExportSummary export_direct_patch_decoder(decode::DirectPatchDecoder& decoder, const DecoderExportOptions& options,
                                          const std::string& path);

}  // namespace fresnel::onnx_export
