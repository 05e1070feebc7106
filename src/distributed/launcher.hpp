// `fresnel launch`: torchrun's job for fresnel, without Python. Starts this machine's ranks of a job as copies of
// the running binary with torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, GROUP_RANK,
// MASTER_ADDR, MASTER_PORT), gives each its share of the threads, prefixes every output line with "[rank R]",
// forwards SIGINT/SIGTERM, and when one rank fails stops the others and fails with a message naming it.
#pragma once
#include <string>
#include <vector>

namespace fresnel::distributed {

struct LaunchOptions {
  int nproc_per_node = 1;
  int nnodes = 1;
  int node_rank = 0;
  std::string master_addr;     // empty: 127.0.0.1 on one node (required on several)
  int master_port = 0;         // 0: a free port on one node, 29500 on several
  int threads = 0;             // threads of this machine to share out; 0: all cores
  double grace_seconds = 5.0;  // after a failure or a signal: SIGTERM, then SIGKILL after this long
  std::string executable = "/proc/self/exe";
  std::vector<std::string> command;  // what each rank runs, e.g. {"train", "--data_dir", "d"}
};

// Checks the options and fills the defaults in. Throws fresnel::UsageError naming the flag.
LaunchOptions resolve_launch_options(LaunchOptions options);

// A port that no process listens on now (bind to port 0, read it, close).
int free_port();

// Runs the ranks to the end. Returns 0 when all succeed, 1 when a rank failed (after stopping the others), or
// 128 + the signal when the launcher was interrupted.
int run_launch(const LaunchOptions& options);

}  // namespace fresnel::distributed
