// fresnel: one binary, one subcommand per pipeline step (see `fresnel --help`).
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "cli/unknown_command.hpp"
#include "core/log.hpp"

#ifndef FRESNEL_VERSION
#define FRESNEL_VERSION "dev"
#endif

int main(int argc, char** argv) {
  CLI::App app{"Fresnel: single image to 3D Gaussians — data, training, inference and rendering in C++."};
  app.set_version_flag("--version", std::string("fresnel ") + FRESNEL_VERSION);
  app.require_subcommand(1);
  int threads = 0;
  bool quiet = false, verbose = false;
  app.add_option("--threads", threads, "Worker threads (default: all cores)");
  app.add_flag("--quiet,-q", quiet, "Only print errors and results");
  app.add_flag("--verbose", verbose, "Print debug messages");
  app.parse_complete_callback([&] {
    fresnel::cli::apply_thread_count(threads);
    fresnel::set_log_level(quiet ? fresnel::LogLevel::Quiet
                                 : (verbose ? fresnel::LogLevel::Debug : fresnel::LogLevel::Info));
  });

  using namespace fresnel::cli;
  register_version(app);
  register_train(app);
  register_convert(app);
  register_info(app);
  register_synth(app);
  register_eval(app);
  register_preprocess(app);
  register_models(app);
  register_bench(app);
  register_render(app);
  register_export_onnx(app);
  register_infer(app);
  register_decode(app);
  register_vlm(app);
  register_launch(app);
  register_sample_cap3d(app);
  register_cap3d_dataset(app);
  register_download(app);
  register_import_checkpoint(app);
  register_v2(app);
  register_cvs(app);

  if (const auto command = unknown_command(app, argc, argv)) {
    std::cerr << "error: unknown command '" << *command << "'; commands: " << command_names(app) << std::endl;
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::RuntimeError& e) {  // before ParseError: CLI11 derives RuntimeError from it
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;  // usage errors always exit 2
  }
  return 0;
}
