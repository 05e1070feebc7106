// `fresnel import-checkpoint`: the original's PyTorch checkpoints (torch.save dicts with an OrderedDict
// `model_state_dict`, `optimizer_state_dict`, `config`, `epoch`) converted into ours, so a user of the original
// keeps their trained models. Parameter names are mapped and the conventions we changed (docs/differences.md)
// are folded into the weights where they are linear:
//  - v1 experiment 2 (DirectPatchDecoder): the 6D rotation head's rows are conjugated into OpenCV axes and shifted
//    by our identity offset, so rotations equal the original's in our frame, q' = (w, x, −y, −z); depth_offset is
//    negated (z = depth_offset + 2·(1 − d) replaces z = depth_offset − 2·d: same magnitude at d = ½, nearer is
//    nearer); position offsets, scales, colours, opacities and phases are unchanged.
//  - v1 experiment 1 (SAAGRefinementNet): SAAG position/rotation inputs and the position/rotation outputs are
//    conjugated the same way. Experiment 3 (FeatureGuidedSAAG): names only.
//  - v2 (DirectSLatDecoder / MLPSLatDecoder, `direct_decoder_*.pt`, `best.pt`): names only; see v2/slat_decoder.hpp.
// Optimizer state is not carried (our optimizer keeps its own layout): the import starts training at epoch 0.
#pragma once
#include <string>

namespace fresnel::v2 {

struct ImportSummary {
  std::string kind;        // "v1 experiment 2 (direct patch decoder)", "v2 transformer", …
  int64_t parameters = 0;  // tensors' elements written
  int64_t original_epoch = -1;
};

// Reads `original` and writes our checkpoint to `output` (atomically). Throws fresnel::Error naming the file and
// the parameter at fault (missing, unexpected, wrong shape) or the experiment that has no counterpart here.
ImportSummary import_checkpoint(const std::string& original, const std::string& output);

}  // namespace fresnel::v2
