// `fresnel import-checkpoint ORIG.pt -o OURS.pt`: the original's PyTorch checkpoints (v1 decoders of experiments
// 1–3) converted into ours (v2/import_checkpoint.hpp says what is mapped and which conventions are folded in).
#include <iostream>
#include <memory>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "v2/import_checkpoint.hpp"

namespace fresnel::cli {

void register_import_checkpoint(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("import-checkpoint",
                         "Convert a checkpoint of the original Fresnel (decoder_exp{E}_epoch{N}.pt, torch.save) "
                         "into ours");
  auto input = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>();
  cmd->add_option("checkpoint", *input, "The original's .pt checkpoint")->required()->check(CLI::ExistingFile);
  cmd->add_option("-o,--output", *output, "Our checkpoint to write (.pt)")->required();
  set_guarded_callback(cmd, [input, output] {
    const auto s = v2::import_checkpoint(*input, *output);
    std::cout << "imported " << s.kind << " (" << s.parameters << " parameters";
    if (s.original_epoch >= 0) std::cout << ", trained " << s.original_epoch + 1 << " epochs";
    std::cout << ") -> " << *output << "\n";
  });
}

}  // namespace fresnel::cli
