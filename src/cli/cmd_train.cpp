// `fresnel train`: trains a Gaussian decoder (the original's scripts/training/train_gaussian_decoder.py), keeping
// its flag names (spec §6.1; the flags and their rules: cli/train_flags.hpp). See docs/training.md. Launched by
// torchrun, `fresnel launch` or srun it is one rank of a data-parallel job (docs/distributed.md).
#include <iostream>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "cli/device_option.hpp"
#include "cli/train_flags.hpp"
#include "core/log.hpp"
#include "core/memory.hpp"
#include "distributed/process_group.hpp"

namespace fresnel::cli {

void register_train(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("train", "Train a Gaussian decoder (experiments " + decode::describe_decoder_kinds() +
                                      ") on precomputed DINOv2 features or with the built-in encoder; checkpoints "
                                      "decoder_exp{E}_epoch{N}.pt, history JSON/CSV and a loss-curve PNG.");
  auto flags = std::make_shared<TrainFlags>();
  auto dist = std::make_shared<distributed::DistFlags>();
  add_train_flags(*cmd, *flags);
  distributed::add_dist_flags(*cmd, *dist);
  set_guarded_callback(cmd, [cmd, flags, dist] {
    record_given_flags(*cmd, *flags);
    train::TrainConfig config = resolve_train_flags(*flags);
    resolve_device(config.device);  // CUDA asked for and absent: a clear error before any data is read
    auto source = open_training_source(config, *flags);
    // Declared before the trainer, which uses it to the end.
    auto group = distributed::join_if_distributed(*dist, config.device);
    train::Trainer trainer(config, std::move(source), group.get());
    const auto& st = trainer.run();
    if (group) group->barrier();  // rank 0 hosts the rendezvous store: nobody leaves while others still train
    if (group && group->rank() != 0) return;
    if (group) log_info("distributed: " + group->all_reduce_summary());
    std::cout << "trained " << st.epochs_done << " epochs; best loss " << st.best_loss << "; skipped batches "
              << st.skipped_batches << "; peak memory " << peak_memory_mib() << " MiB; checkpoints in "
              << config.loop.output_dir << "\n";
  });
}

}  // namespace fresnel::cli
