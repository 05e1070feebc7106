#include "distributed/dist_env.hpp"

#include <cstdlib>

#include "core/error.hpp"

namespace fresnel::distributed {

namespace {

// A whole-string integer in [lo, hi]; `what` names the variable or flag in the error.
int parse_int(const std::string& text, const std::string& what, long lo, long hi) {
  try {
    size_t used = 0;
    const long v = std::stol(text, &used);
    if (used == text.size() && v >= lo && v <= hi) return static_cast<int>(v);
  } catch (const std::exception&) {
  }
  throw UsageError(what + "='" + text + "': expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                   "]");
}

// One setting from the environment (first of `names` that is set) or from its flag.
struct Value {
  std::optional<std::string> text;
  std::string what;  // "environment RANK", "--rank", "environment SLURM_PROCID"
};

Value lookup(const EnvLookup& env, const std::string& name) {
  if (auto v = env(name)) return {v, "environment " + name};
  return {};
}

}  // namespace

void add_dist_flags(CLI::App& cmd, DistFlags& f) {
  const std::string group = "Distributed (torchrun's environment variables take precedence)";
  cmd.add_option("--rank", f.rank, "This process's rank (RANK)")->group(group);
  cmd.add_option("--world_size", f.world_size, "Number of processes in the job (WORLD_SIZE)")->group(group);
  cmd.add_option("--local_rank", f.local_rank, "Rank on this machine, picks the GPU (LOCAL_RANK)")->group(group);
  cmd.add_option("--master_addr", f.master_addr, "Host of rank 0's rendezvous store (MASTER_ADDR)")->group(group);
  cmd.add_option("--master_port", f.master_port, "Port of the rendezvous store (MASTER_PORT, default 29500)")
      ->group(group);
  cmd.add_option("--dist_timeout", f.timeout_seconds,
                 "Seconds a collective (or the rendezvous) may wait for the other ranks before the job fails "
                 "naming the rank that stopped answering")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--dist_backend", f.backend, "Process group: auto (gloo on CPU, nccl with --device cuda), gloo, nccl")
      ->check(CLI::IsMember({"auto", "gloo", "nccl"}))
      ->capture_default_str()
      ->group(group);
}

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

DistEnv resolve_dist_env(const EnvLookup& env, const DistFlags& f) {
  DistEnv d;
  d.backend = f.backend;
  if (!(f.timeout_seconds > 0)) throw UsageError("--dist_timeout must be > 0 seconds");
  d.timeout_seconds = f.timeout_seconds;

  Value rank = lookup(env, "RANK"), world = lookup(env, "WORLD_SIZE"), local = lookup(env, "LOCAL_RANK");
  if (rank.text || world.text) {
    d.source = "environment";
  } else if (f.rank >= 0 || f.world_size >= 0) {
    d.source = "flags";
    if (f.rank >= 0) rank = {std::to_string(f.rank), "--rank"};
    if (f.world_size >= 0) world = {std::to_string(f.world_size), "--world_size"};
    if (!local.text && f.local_rank >= 0) local = {std::to_string(f.local_rank), "--local_rank"};
  } else if (env("SLURM_PROCID") || env("SLURM_NTASKS")) {
    d.source = "Slurm";
    rank = lookup(env, "SLURM_PROCID");
    world = lookup(env, "SLURM_NTASKS");
    if (!local.text) local = lookup(env, "SLURM_LOCALID");
  } else {
    if (f.local_rank >= 0 || f.master_port >= 0 || !f.master_addr.empty())
      throw UsageError(
          "--local_rank/--master_addr/--master_port need --rank and --world_size (or RANK and WORLD_SIZE)");
    return d;  // one process
  }
  if (!rank.text || !world.text)
    throw UsageError((rank.text ? rank.what : world.what) + " is set but " +
                     (rank.text ? (d.source == "Slurm" ? "SLURM_NTASKS" : "WORLD_SIZE (or --world_size)")
                                : (d.source == "Slurm" ? "SLURM_PROCID" : "RANK (or --rank)")) +
                     " is not: a distributed run needs both");
  d.world_size = parse_int(*world.text, world.what, 1, 1 << 20);
  d.rank = parse_int(*rank.text, rank.what, 0, d.world_size - 1);
  if (local.text) {
    d.local_rank = parse_int(*local.text, local.what, 0, d.world_size - 1);
  } else if (f.local_rank >= 0) {
    d.local_rank = f.local_rank;
  } else {
    d.local_rank = d.rank;  // one machine
  }
  if (!d.distributed()) return d;

  Value addr = lookup(env, "MASTER_ADDR"), port = lookup(env, "MASTER_PORT");
  if (!addr.text && !f.master_addr.empty()) addr = {f.master_addr, "--master_addr"};
  if (!port.text && f.master_port >= 0) port = {std::to_string(f.master_port), "--master_port"};
  if (!addr.text || addr.text->empty())
    throw UsageError("rank " + std::to_string(d.rank) + " of " + std::to_string(d.world_size) + " (from " + d.source +
                     "): MASTER_ADDR (or --master_addr) must name the host of rank 0");
  d.master_addr = *addr.text;
  if (port.text) d.master_port = parse_int(*port.text, port.what, 1, 65535);
  return d;
}

int local_device_index(const DistEnv& env, int device_count) {
  if (device_count < 1) throw Error("no CUDA device is visible to rank " + std::to_string(env.rank));
  return env.local_rank % device_count;
}

}  // namespace fresnel::distributed
