// One rank's membership of a c10d process group — PyTorch's own collectives, the ones behind
// DistributedDataParallel: a TCPStore rendezvous at MASTER_ADDR:MASTER_PORT (hosted by rank 0), then Gloo on CPU
// or NCCL on CUDA (when the libtorch has it). It is the training loop's GradientSync: broadcasts from rank 0,
// all-reduces gradients in ~25 MB flat buckets, sums metrics. A collective that fails or outlives the timeout ends
// the job with an error naming the rank(s) that stopped answering, found through the store.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "distributed/dist_env.hpp"
#include "train/loop.hpp"

namespace fresnel::distributed {

class ProcessGroup : public train::GradientSync {
 public:
  static constexpr int64_t kDefaultBucketBytes = 25 << 20;  // DDP's bucket_cap_mb = 25
  // Joins the group (blocks until all ranks arrive or the timeout passes). `device` is "cpu" or "cuda".
  // Throws fresnel::Error / UsageError with what went wrong and where.
  ProcessGroup(const DistEnv& env, const std::string& device, int64_t bucket_bytes = kDefaultBucketBytes);
  ~ProcessGroup() override;
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const override;
  int world_size() const override;
  void all_reduce_mean(std::vector<torch::Tensor>& gradients) override;
  void broadcast_from_rank0(std::vector<torch::Tensor>& tensors) override;
  void all_reduce_sum(std::vector<double>& values) override;
  // Waits for every rank (the end of a run: rank 0 hosts the store and must not leave first).
  void barrier();
  std::string backend_name() const;
  // Seconds spent in gradient all-reduces so far, how many, and the bytes of the last one (for benchmarks).
  double all_reduce_seconds() const;
  int64_t all_reduce_calls() const;
  int64_t all_reduce_bytes() const;
  // "N gradient all-reduces of X MB, mean Y ms" (the log line of a finished run).
  std::string all_reduce_summary() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What every trainer calls: resolves the job from the environment and `flags` (dist_env.hpp) and joins the group
// when the world has more than one process; nullptr for a single-process run.
std::unique_ptr<ProcessGroup> join_if_distributed(const DistFlags& flags, const std::string& device);

}  // namespace fresnel::distributed
