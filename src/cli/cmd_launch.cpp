// `fresnel launch --nproc_per_node N [--nnodes M --node_rank K --master_addr A --master_port P] -- train …`:
// torchrun for fresnel (distributed/launcher.hpp). See docs/distributed.md.
#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "distributed/launcher.hpp"

namespace fresnel::cli {

void register_launch(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "launch",
      "Start this machine's ranks of a data-parallel job (torchrun's environment, threads shared out, output "
      "prefixed [rank R]); if a rank fails the others are stopped and the job fails naming it. Example: "
      "fresnel launch --nproc_per_node 2 -- train --data_dir d --encoder builtin");
  auto o = std::make_shared<distributed::LaunchOptions>();
  cmd->add_option("--nproc_per_node", o->nproc_per_node, "Ranks (processes) on this machine")->capture_default_str();
  cmd->add_option("--nnodes", o->nnodes, "Machines in the job")->capture_default_str();
  cmd->add_option("--node_rank", o->node_rank, "This machine's index in [0, nnodes)")->capture_default_str();
  cmd->add_option("--master_addr", o->master_addr, "Host of rank 0 (default 127.0.0.1 on one machine)");
  cmd->add_option("--master_port", o->master_port, "Rendezvous port (default: a free port on one machine, 29500)");
  cmd->add_option("--grace", o->grace_seconds, "Seconds ranks get to stop after a failure or signal before SIGKILL")
      ->capture_default_str();
  cmd->add_option("command", o->command, "The fresnel command each rank runs, after --, e.g. -- train --data_dir d")
      ->required();
  // The global --threads (before `launch`) is this machine's budget, shared out between the ranks.
  const CLI::Option* threads = app.get_option("--threads");
  cmd->callback([o, threads] {
    int code = 0;
    const int rc = run_guarded([&] {
      auto options = *o;
      options.threads = threads->count() ? threads->as<int>() : 0;
      code = distributed::run_launch(distributed::resolve_launch_options(options));
    });
    if (rc != 0) throw CLI::RuntimeError(rc);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace fresnel::cli
