// Runs an exported decoder in OpenCV DNN (cv::dnn::readNetFromONNX, a second runtime independent of ours) and
// compares its outputs with the libtorch decoder on the same inputs.
#pragma once
#include <torch/types.h>

#include <map>
#include <string>
#include <vector>

#include "decode/direct_patch_decoder.hpp"
#include "export/decoder_onnx.hpp"

namespace fresnel::onnx_export {

// Feeds `inputs` (name → float tensor) to the ONNX model in OpenCV DNN and returns the named outputs.
// Throws fresnel::Error naming the file when OpenCV cannot load or run it.
std::map<std::string, torch::Tensor> run_in_opencv(const std::string& path,
                                                   const std::map<std::string, torch::Tensor>& inputs,
                                                   const std::vector<std::string>& outputs);

struct ParityReport {
  double max_abs_diff = 0;  // over every output
  std::map<std::string, double> per_output;
};

// Random features N(0,1) and depth U(0,1) (normalised) or U(1,5) (metric) for `batch` images, the libtorch
// decoder's outputs versus OpenCV's. Deterministic for a seed.
ParityReport check_decoder_parity(decode::DirectPatchDecoder& decoder, const DecoderExportOptions& options,
                                  const std::string& path, int64_t batch, uint64_t seed);

}  // namespace fresnel::onnx_export
