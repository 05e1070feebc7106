// The c10d headers compile only with the backends' switches set. They are defined here, after the precompiled
// header, rather than on the target: a target definition would invalidate the PCH every module shares.
#include "distributed/process_group.hpp"

#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#ifndef USE_DISTRIBUTED
#define USE_DISTRIBUTED 1
#endif
#if defined(FRESNEL_WITH_NCCL) && !defined(USE_C10D_NCCL)
#define USE_C10D_NCCL 1
#endif

#include <torch/version.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#ifdef FRESNEL_WITH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif

#include <chrono>
#include <cstdlib>
#include <thread>

#include "core/error.hpp"
#include "core/log.hpp"

namespace fresnel::distributed {

namespace {

#if TORCH_VERSION_MAJOR >= 2
using Backend = c10d::Backend;  // 2.x: Gloo and NCCL are backends of a ProcessGroup
#else
using Backend = c10d::ProcessGroup;  // 1.13: they are process groups themselves
#endif

using Clock = std::chrono::steady_clock;

bool is_loopback(const std::string& host) { return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1"; }

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", s);
  return buf;
}

std::string join_ranks(const std::vector<int>& ranks) {
  std::string s;
  for (int r : ranks) s += (s.empty() ? "" : ", ") + std::to_string(r);
  return s;
}

// Consecutive tensors of one dtype and device, at most `bucket_bytes` together (one larger tensor alone).
std::vector<std::vector<size_t>> make_buckets(const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes) {
  std::vector<std::vector<size_t>> buckets;
  int64_t bytes = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    const int64_t size = t.numel() * static_cast<int64_t>(t.element_size());
    const bool same_kind = !buckets.empty() && tensors[buckets.back().front()].scalar_type() == t.scalar_type() &&
                           tensors[buckets.back().front()].device() == t.device();
    if (buckets.empty() || !same_kind || bytes + size > bucket_bytes) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().push_back(i);
    bytes += size;
  }
  return buckets;
}

}  // namespace

struct ProcessGroup::Impl {
  DistEnv env;
  std::string backend;  // "gloo" or "nccl"
  std::chrono::milliseconds timeout;
  int64_t bucket_bytes;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<Backend> group;
  double reduce_seconds = 0;
  int64_t reduce_calls = 0, reduce_bytes = 0;

  std::string where() const { return "rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size); }

  // Which ranks stopped answering: each survivor leaves a mark in the store and looks, for a short while, for the
  // others' marks. A store that cannot be reached means rank 0, its host, is gone.
  std::string unresponsive_ranks() {
    const std::string host =
        " (host of the rendezvous store " + env.master_addr + ":" + std::to_string(env.master_port) + ")";
    try {
      store->set("fresnel_fault/" + std::to_string(env.rank), std::vector<uint8_t>{1});
      const auto window = std::clamp(timeout / 4, std::chrono::milliseconds(1000), std::chrono::milliseconds(10000));
      const auto deadline = Clock::now() + window;
      std::vector<int> missing;
      for (;;) {
        missing.clear();
        for (int r = 0; r < env.world_size; ++r)
          if (r != env.rank && !store->check({"fresnel_fault/" + std::to_string(r)})) missing.push_back(r);
        if (missing.empty() || Clock::now() > deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (missing.empty()) return "every rank reported the failure";
      return std::string(missing.size() == 1 ? "rank " : "ranks ") + join_ranks(missing) +
             " stopped answering (the process died or hung)";
    } catch (const std::exception&) {
      return "rank 0" + host + " stopped answering (the process died or hung)";
    }
  }

  [[noreturn]] void fail(const std::string& op, const std::exception& e) {
    std::string detail = e.what();
    if (const auto nl = detail.find('\n'); nl != std::string::npos) detail.resize(nl);  // drop c10's backtrace
    throw Error("distributed " + op + " failed on " + where() + ": " + unresponsive_ranks() +
                " (process-group timeout " + seconds_text(env.timeout_seconds) + ", " + backend + ": " + detail + ")");
  }

  // Runs `op` on every bucket of `tensors` (all buckets in flight, then waited for) and scatters the results back.
  template <class Op>
  void bucketed(const std::string& name, std::vector<torch::Tensor>& tensors, Op op, double scale) {
    if (tensors.empty()) return;
    torch::NoGradGuard ng;
    struct Flat {
      std::vector<size_t> members;
      torch::Tensor flat, wire;  // wire: what travels (a CPU copy when Gloo meets CUDA tensors)
      c10::intrusive_ptr<c10d::Work> work;
    };
    std::vector<Flat> flats;
    for (auto& members : make_buckets(tensors, bucket_bytes)) {
      Flat f;
      f.members = members;
      std::vector<torch::Tensor> parts;
      for (size_t i : members) parts.push_back(tensors[i].reshape(-1));
      f.flat = torch::cat(parts);
      f.wire = backend == "gloo" && f.flat.is_cuda() ? f.flat.cpu() : f.flat;
      flats.push_back(std::move(f));
    }
    try {
      for (auto& f : flats) {
        std::vector<torch::Tensor> one{f.wire};
        f.work = op(one);
      }
      for (auto& f : flats) f.work->wait(timeout);
    } catch (const std::exception& e) {
      fail(name, e);
    }
    for (auto& f : flats) {
      if (!f.wire.is_same(f.flat)) f.flat.copy_(f.wire);
      if (scale != 1.0) f.flat.mul_(scale);
      int64_t at = 0;
      for (size_t i : f.members) {
        auto& t = tensors[i];
        t.copy_(f.flat.narrow(0, at, t.numel()).view(t.sizes()));
        at += t.numel();
      }
    }
  }
};

ProcessGroup::ProcessGroup(const DistEnv& env, const std::string& device, int64_t bucket_bytes)
    : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  m.env = env;
  m.bucket_bytes = std::max<int64_t>(1, bucket_bytes);
  m.timeout = std::chrono::milliseconds(static_cast<int64_t>(env.timeout_seconds * 1000.0));
  m.backend = env.backend == "auto" ? (device == "cuda" ? "nccl" : "gloo") : env.backend;
  if (m.backend == "nccl") {
#ifndef USE_C10D_NCCL
    throw UsageError(
        "--dist_backend nccl: this build of fresnel has no NCCL (it needs a CUDA libtorch with NCCL, "
        "docs/distributed.md); use --dist_backend gloo");
#endif
    if (device != "cuda") throw UsageError("--dist_backend nccl needs --device cuda");
  }
#ifdef FRESNEL_WITH_CUDA
  if (device == "cuda")
    c10::cuda::set_device(
        static_cast<c10::DeviceIndex>(local_device_index(env, static_cast<int>(c10::cuda::device_count()))));
#endif
  const std::string at = env.master_addr + ":" + std::to_string(env.master_port);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(env.master_port);
    so.isServer = env.rank == 0;
    so.numWorkers = static_cast<size_t>(env.world_size);
    so.waitWorkers = true;
    so.timeout = m.timeout;
    m.store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
  } catch (const std::exception& e) {
    std::string detail = e.what();
    if (const auto nl = detail.find('\n'); nl != std::string::npos) detail.resize(nl);
    throw Error("distributed rendezvous failed on " + m.where() + " at " + at + " (MASTER_ADDR:MASTER_PORT" +
                (env.rank == 0 ? ", hosted by this rank" : "") + ") within " + seconds_text(env.timeout_seconds) +
                ": " + detail);
  }
  auto prefixed = c10::make_intrusive<c10d::PrefixStore>("fresnel_pg", m.store);
  try {
    if (m.backend == "gloo") {
      auto opts = c10d::ProcessGroupGloo::Options::create(m.timeout);
      if (is_loopback(env.master_addr)) {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      } else if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME")) {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      } else {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      m.group = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, env.rank, env.world_size, opts);
    } else {
#ifdef USE_C10D_NCCL
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = m.timeout;
      m.group = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, env.rank, env.world_size, opts);
#endif
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    m.fail(m.backend + " set-up", e);
  }
  log_info("distributed: " + m.where() + " (local rank " + std::to_string(env.local_rank) + ", from " + env.source +
           "), " + m.backend + " via " + at);
}

ProcessGroup::~ProcessGroup() = default;

int ProcessGroup::rank() const { return impl_->env.rank; }
int ProcessGroup::world_size() const { return impl_->env.world_size; }
std::string ProcessGroup::backend_name() const { return impl_->backend; }
double ProcessGroup::all_reduce_seconds() const { return impl_->reduce_seconds; }
int64_t ProcessGroup::all_reduce_calls() const { return impl_->reduce_calls; }
int64_t ProcessGroup::all_reduce_bytes() const { return impl_->reduce_bytes; }

std::string ProcessGroup::all_reduce_summary() const {
  char buf[160];
  const auto& m = *impl_;
  std::snprintf(buf, sizeof buf, "%lld gradient all-reduces of %.2f MB, mean %.2f ms (%s, %d ranks)",
                static_cast<long long>(m.reduce_calls), double(m.reduce_bytes) / 1e6,
                m.reduce_calls ? 1e3 * m.reduce_seconds / double(m.reduce_calls) : 0.0, m.backend.c_str(),
                m.env.world_size);
  return buf;
}

void ProcessGroup::all_reduce_mean(std::vector<torch::Tensor>& gradients) {
  const auto t0 = Clock::now();
  impl_->reduce_bytes = 0;
  for (const auto& g : gradients) impl_->reduce_bytes += g.numel() * static_cast<int64_t>(g.element_size());
  auto& group = impl_->group;
  impl_->bucketed(
      "gradient all-reduce", gradients, [&](std::vector<torch::Tensor>& t) { return group->allreduce(t); },
      1.0 / double(impl_->env.world_size));
  impl_->reduce_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  ++impl_->reduce_calls;
}

void ProcessGroup::broadcast_from_rank0(std::vector<torch::Tensor>& tensors) {
  auto& group = impl_->group;
  impl_->bucketed(
      "broadcast of rank 0's weights", tensors, [&](std::vector<torch::Tensor>& t) { return group->broadcast(t); },
      1.0);
}

void ProcessGroup::all_reduce_sum(std::vector<double>& values) {
  if (values.empty()) return;
  auto t = torch::tensor(values, torch::kDouble);
  if (impl_->backend == "nccl") t = t.to(torch::kCUDA);
  std::vector<torch::Tensor> one{t};
  auto& group = impl_->group;
  impl_->bucketed(
      "metric all-reduce", one, [&](std::vector<torch::Tensor>& x) { return group->allreduce(x); }, 1.0);
  auto cpu = one[0].cpu();
  for (size_t i = 0; i < values.size(); ++i) values[i] = cpu[static_cast<int64_t>(i)].item<double>();
}

void ProcessGroup::barrier() {
  try {
    impl_->group->barrier()->wait(impl_->timeout);
  } catch (const std::exception& e) {
    impl_->fail("barrier", e);
  }
}

std::unique_ptr<ProcessGroup> join_if_distributed(const DistFlags& flags, const std::string& device) {
  const DistEnv env = resolve_dist_env(process_environment(), flags);
  if (!env.distributed()) return nullptr;
  return std::make_unique<ProcessGroup>(env, device);
}

}  // namespace fresnel::distributed
