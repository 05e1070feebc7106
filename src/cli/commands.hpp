// Every subcommand registers itself on the root app; main.cpp calls these in order.
// Add a line here and in main.cpp when adding a command (one file per command: cmd_<name>.cpp).
#pragma once
#include <CLI/CLI.hpp>

namespace fresnel::cli {

void register_version(CLI::App& app);
void register_train(CLI::App& app);
void register_convert(CLI::App& app);
void register_info(CLI::App& app);
void register_synth(CLI::App& app);
void register_eval(CLI::App& app);
void register_preprocess(CLI::App& app);
void register_models(CLI::App& app);
void register_bench(CLI::App& app);
void register_render(CLI::App& app);
void register_export_onnx(CLI::App& app);
void register_infer(CLI::App& app);
void register_decode(CLI::App& app);
void register_vlm(CLI::App& app);
void register_launch(CLI::App& app);
void register_sample_cap3d(CLI::App& app);
void register_cap3d_dataset(CLI::App& app);
void register_download(CLI::App& app);
void register_import_checkpoint(CLI::App& app);
void register_v2(CLI::App& app);
void register_cvs(CLI::App& app);

}  // namespace fresnel::cli
