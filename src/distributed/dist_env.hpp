// Where a process sits in a data-parallel job, read the way torchrun hands it over: the environment variables RANK,
// WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT (set by torchrun and `fresnel launch`), then flags of the same
// names (`--rank` …) as fallbacks, then Slurm's SLURM_PROCID / SLURM_NTASKS / SLURM_LOCALID (srun). A world of
// one process is a plain single-process run. Every bad value is an error naming the variable or flag.
#pragma once
#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace fresnel::distributed {

// The flags of every trainer that can run distributed; unset (-1 / empty) unless given.
struct DistFlags {
  int rank = -1, world_size = -1, local_rank = -1, master_port = -1;
  std::string master_addr;
  double timeout_seconds = 1800;  // --dist_timeout: torch's default process-group timeout
  std::string backend = "auto";   // --dist_backend: auto (gloo on CPU, nccl on CUDA), gloo, nccl
};
void add_dist_flags(CLI::App& cmd, DistFlags& flags);

struct DistEnv {
  int rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr;
  int master_port = 29500;
  double timeout_seconds = 1800;
  std::string backend = "auto";
  std::string source;  // where rank and world size came from: "environment", "flags", "Slurm" or "" (single)
  bool distributed() const { return world_size > 1; }
};

// Looks a variable up; std::nullopt when unset. The real one is std::getenv; tests pass a map.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_environment();

// Resolves the process's place in the job. Throws fresnel::UsageError naming the variable or flag.
DistEnv resolve_dist_env(const EnvLookup& env, const DistFlags& flags);

// The default local CUDA device of a rank: LOCAL_RANK modulo the visible devices (torchrun's convention).
int local_device_index(const DistEnv& env, int device_count);

}  // namespace fresnel::distributed
