#include "export/onnx_verify.hpp"

#include <torch/torch.h>

#include <opencv2/dnn.hpp>

#include "core/error.hpp"

namespace fresnel::onnx_export {

std::map<std::string, torch::Tensor> run_in_opencv(const std::string& path,
                                                   const std::map<std::string, torch::Tensor>& inputs,
                                                   const std::vector<std::string>& outputs) {
  std::map<std::string, torch::Tensor> result;
  try {
    cv::dnn::Net net = cv::dnn::readNetFromONNX(path);
    std::vector<torch::Tensor> keep;  // the Mats below borrow these buffers
    for (const auto& [name, t] : inputs) {
      keep.push_back(t.detach().to(torch::kCPU, torch::kFloat32).contiguous());
      std::vector<int> dims(keep.back().sizes().begin(), keep.back().sizes().end());
      net.setInput(cv::Mat(int(dims.size()), dims.data(), CV_32F, keep.back().data_ptr<float>()), name);
    }
    std::vector<cv::Mat> mats;
    std::vector<cv::String> names(outputs.begin(), outputs.end());
    net.forward(mats, names);
    for (size_t i = 0; i < outputs.size(); ++i) {
      const cv::Mat& m = mats[i];
      std::vector<int64_t> shape(m.size.p, m.size.p + m.dims);
      result[outputs[i]] = torch::from_blob(const_cast<float*>(m.ptr<float>()), shape, torch::kFloat32).clone();
    }
  } catch (const cv::Exception& e) {
    throw file_error(path, std::string("OpenCV DNN cannot run the model: ") + e.what());
  }
  return result;
}

ParityReport check_decoder_parity(decode::DirectPatchDecoder& decoder, const DecoderExportOptions& eo,
                                  const std::string& path, int64_t batch, uint64_t seed) {
  torch::NoGradGuard no_grad;
  decoder->eval();
  const auto& o = decoder->options();
  auto gen = at::detail::createCPUGenerator(seed);
  auto features = torch::randn({batch, o.feature_dim, eo.grid_h, eo.grid_w}, gen);
  auto depth = torch::rand({batch, 1, eo.depth_size, eo.depth_size}, gen);
  if (o.depth_mode == decode::DepthMode::Metric) depth = 1.0 + 4.0 * depth;

  decode::DecoderInputs in;
  in.features = features;
  in.depth = depth;
  in.intrinsics =
      torch::tensor({eo.intrinsics[0], eo.intrinsics[1], eo.intrinsics[2], eo.intrinsics[3]}, torch::kFloat32)
          .view({1, 4})
          .repeat({batch, 1});
  const auto ref = decoder->forward(in).gaussians;
  std::map<std::string, torch::Tensor> expected = {{"positions", ref.means},
                                                   {"scales", ref.scales},
                                                   {"rotations", ref.quats},
                                                   {"colors", ref.colors},
                                                   {"opacities", ref.opacities}};
  if (ref.has_phases()) expected["phases"] = ref.phases;
  std::vector<std::string> names;
  for (const auto& [name, t] : expected) names.push_back(name);
  const auto got = run_in_opencv(path, {{"features", features}, {"depth", depth}}, names);

  ParityReport report;
  for (const auto& [name, want] : expected) {
    const auto& have = got.at(name);
    if (have.numel() != want.numel())
      throw Error("ONNX export: output '" + name + "' has " + std::to_string(have.numel()) + " values in OpenCV, " +
                  std::to_string(want.numel()) + " in libtorch");
    const double d = (have.reshape(want.sizes()) - want).abs().max().item<double>();
    report.per_output[name] = d;
    report.max_abs_diff = std::max(report.max_abs_diff, d);
  }
  return report;
}

}  // namespace fresnel::onnx_export
