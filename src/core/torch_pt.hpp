// PyTorch `.pt` files (torch.save's zip format) from C++: TRELLIS's features.pt / coords.pt / slat.pt and the
// original's training checkpoints (dicts holding an OrderedDict state_dict, optimizer state and a config), which
// libtorch's own pickle loader does not read. Parsing is core/torch_pickle.hpp (no code from the file runs);
// this layer turns its tensor references into torch tensors and writes files torch.load reads.
#pragma once
#include <torch/types.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/torch_pickle.hpp"

namespace fresnel {

using PtObject = torch_pickle::Object;

class PtFile {
 public:
  // Reads and validates the whole archive; throws fresnel::Error naming `path` when it is missing, truncated,
  // not a torch.save file or uses anything outside the supported subset.
  static PtFile open(const std::string& path);

  const std::string& path() const { return path_; }
  const PtObject& root() const { return *archive_->doc.root; }

  // A fresh CPU tensor of the stored dtype and shape (a copy of the view the file describes).
  torch::Tensor tensor(const PtObject& o, const std::string& what = "value") const;
  // Dict member by string key; throws naming the file and `key` when absent.
  const PtObject& at(const PtObject& dict, const std::string& key) const;
  // Every tensor of a dict with string keys (a state_dict, slat.pt), in file order; non-tensor values are skipped.
  std::vector<std::pair<std::string, torch::Tensor>> tensors(const PtObject& dict, const std::string& what) const;
  // Plain values as JSON (dict keys as strings, tuples as arrays); tensors become {"tensor": [shape…]}.
  nlohmann::json json(const PtObject& o) const;

 private:
  std::string path_;
  std::shared_ptr<std::vector<uint8_t>> bytes_;
  std::shared_ptr<torch_pickle::Archive> archive_;
};

// The root object of `path` as a tensor (features.pt, coords.pt); throws naming the file when it is not one.
torch::Tensor load_pt_tensor(const std::string& path);

// A value torch.save could have written: what the writer below takes.
struct PtValue {
  enum class Kind { None, Bool, Int, Float, String, List, Dict, Tensor };
  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<PtValue> list;
  std::vector<std::pair<std::string, PtValue>> dict;  // written as a plain dict, in this order
  torch::Tensor tensor;

  PtValue() = default;
  PtValue(torch::Tensor t) : kind(Kind::Tensor), tensor(std::move(t)) {}
  static PtValue integer(int64_t v);
  static PtValue real(double v);
  static PtValue boolean(bool v);
  static PtValue str(std::string v);
  static PtValue of_list(std::vector<PtValue> v);
  static PtValue of_dict(std::vector<std::pair<std::string, PtValue>> v);
};

// Writes `value` as torch.save (PyTorch ≥ 1.6, pickle protocol 2) would, atomically. Tensors are stored
// contiguous in their own dtype (float32/64, float16, bfloat16, int64/32/16/8, uint8, bool), each in its own storage.
void save_pt(const std::string& path, const PtValue& value);

}  // namespace fresnel
