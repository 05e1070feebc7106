#include "distributed/launcher.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "core/error.hpp"
#include "core/log.hpp"

namespace fresnel::distributed {

namespace {

using Clock = std::chrono::steady_clock;

int g_signal_pipe[2] = {-1, -1};

void on_signal(int sig) {
  const unsigned char byte = static_cast<unsigned char>(sig);
  [[maybe_unused]] const auto n = write(g_signal_pipe[1], &byte, 1);
}

// One output stream of one rank: bytes in, whole lines out with the rank's prefix.
struct Stream {
  int fd = -1;
  int out_fd = 1;
  std::string pending;
};

struct Rank {
  int rank = 0, local_rank = 0;
  pid_t pid = -1;
  bool running = false;
  Stream streams[2];
};

void write_all(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return;
    }
    done += static_cast<size_t>(n);
  }
}

// Writes the complete lines of `s` (a progress bar's carriage returns end lines too); `flush` writes the rest.
void emit_lines(Stream& s, const std::string& prefix, bool flush) {
  size_t start = 0;
  for (size_t i = 0; i < s.pending.size(); ++i) {
    if (s.pending[i] != '\n' && s.pending[i] != '\r') continue;
    if (i > start) write_all(s.out_fd, prefix + s.pending.substr(start, i - start) + "\n");
    start = i + 1;
  }
  s.pending.erase(0, start);
  if (flush && !s.pending.empty()) {
    write_all(s.out_fd, prefix + s.pending + "\n");
    s.pending.clear();
  }
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  const int sig = WTERMSIG(status);
  const char* name = strsignal(sig);
  return "was killed by signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")" : "");
}

pid_t start_rank(const LaunchOptions& o, const Rank& r, int threads, int out_pipe[2], int err_pipe[2]) {
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) throw Error("fresnel launch: fork failed: " + std::string(std::strerror(errno)));
  if (pid > 0) return pid;
  // Child: dies with the launcher (even kill -9), writes into the pipes, gets torchrun's environment.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  dup2(out_pipe[1], 1);
  dup2(err_pipe[1], 2);
  close(out_pipe[0]);
  close(err_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  const int world = o.nnodes * o.nproc_per_node;
  const std::pair<const char*, std::string> vars[] = {
      {"RANK", std::to_string(r.rank)},
      {"WORLD_SIZE", std::to_string(world)},
      {"LOCAL_RANK", std::to_string(r.local_rank)},
      {"LOCAL_WORLD_SIZE", std::to_string(o.nproc_per_node)},
      {"GROUP_RANK", std::to_string(o.node_rank)},
      {"ROLE_RANK", std::to_string(r.rank)},
      {"ROLE_WORLD_SIZE", std::to_string(world)},
      {"MASTER_ADDR", o.master_addr},
      {"MASTER_PORT", std::to_string(o.master_port)},
      {"OMP_NUM_THREADS", std::to_string(threads)},
      {"OPENBLAS_NUM_THREADS", std::to_string(threads)},
  };
  for (const auto& [k, v] : vars) setenv(k, v.c_str(), 1);
  std::vector<std::string> args{o.executable};
  // The rank's share of the threads, unless the command sets its own.
  if (std::find(o.command.begin(), o.command.end(), "--threads") == o.command.end()) {
    args.push_back("--threads");
    args.push_back(std::to_string(threads));
  }
  args.insert(args.end(), o.command.begin(), o.command.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  execv(o.executable.c_str(), argv.data());
  const std::string msg = "fresnel launch: cannot run " + o.executable + ": " + std::strerror(errno) + "\n";
  write_all(2, msg);
  _exit(127);
}

}  // namespace

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error("fresnel launch: socket() failed: " + std::string(std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  socklen_t len = sizeof addr;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  if (!ok) throw Error("fresnel launch: could not find a free port; pass --master_port");
  return ntohs(addr.sin_port);
}

LaunchOptions resolve_launch_options(LaunchOptions o) {
  if (o.nproc_per_node < 1) throw UsageError("--nproc_per_node must be >= 1");
  if (o.nnodes < 1) throw UsageError("--nnodes must be >= 1");
  if (o.node_rank < 0 || o.node_rank >= o.nnodes)
    throw UsageError("--node_rank " + std::to_string(o.node_rank) + " is outside [0, --nnodes " +
                     std::to_string(o.nnodes) + ")");
  if (o.master_port < 0 || o.master_port > 65535) throw UsageError("--master_port must be in [1, 65535]");
  if (o.threads < 0) throw UsageError("--threads must be >= 0");
  if (o.command.empty())
    throw UsageError("fresnel launch needs the command every rank runs after --, e.g. -- train --data_dir d");
  if (o.command.front() == "launch") throw UsageError("fresnel launch cannot launch itself");
  if (o.master_addr.empty()) {
    if (o.nnodes > 1) throw UsageError("--master_addr: with --nnodes > 1 every node must be told rank 0's host");
    o.master_addr = "127.0.0.1";
  }
  if (o.master_port == 0) o.master_port = o.nnodes == 1 ? free_port() : 29500;
  if (o.threads == 0) o.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return o;
}

int run_launch(const LaunchOptions& o) {
  const int threads = std::max(1, o.threads / o.nproc_per_node);
  if (pipe(g_signal_pipe) != 0) throw Error("fresnel launch: pipe failed");
  fcntl(g_signal_pipe[0], F_SETFL, O_NONBLOCK);
  fcntl(g_signal_pipe[1], F_SETFL, O_NONBLOCK);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  struct sigaction old_int {
  }, old_term{};
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  signal(SIGPIPE, SIG_IGN);

  std::vector<Rank> ranks(o.nproc_per_node);
  for (int l = 0; l < o.nproc_per_node; ++l) {
    Rank& r = ranks[l];
    r.local_rank = l;
    r.rank = o.node_rank * o.nproc_per_node + l;
    int out_pipe[2], err_pipe[2];
    if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) throw Error("fresnel launch: pipe failed");
    fcntl(out_pipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(err_pipe[0], F_SETFD, FD_CLOEXEC);
    r.pid = start_rank(o, r, threads, out_pipe, err_pipe);
    r.running = true;
    close(out_pipe[1]);
    close(err_pipe[1]);
    r.streams[0] = {out_pipe[0], 1, ""};
    r.streams[1] = {err_pipe[0], 2, ""};
    log_info("fresnel launch: rank " + std::to_string(r.rank) + " (local rank " + std::to_string(l) + ") pid " +
             std::to_string(r.pid) + ", " + std::to_string(threads) + " threads, rendezvous " + o.master_addr + ":" +
             std::to_string(o.master_port));
  }

  std::string failure;  // the first rank that failed, or the signal that stopped the job
  int exit_code = 0;
  bool stopping = false;
  Clock::time_point kill_at{};
  auto stop_all = [&](int sig) {
    for (auto& r : ranks)
      if (r.running) kill(r.pid, sig);
  };
  for (;;) {
    // Output first, so that a rank's last words come before the verdict.
    std::vector<pollfd> fds{{g_signal_pipe[0], POLLIN, 0}};
    std::vector<Stream*> streams;
    for (auto& r : ranks)
      for (auto& s : r.streams)
        if (s.fd >= 0) {
          fds.push_back({s.fd, POLLIN, 0});
          streams.push_back(&s);
        }
    const bool any_running = std::any_of(ranks.begin(), ranks.end(), [](const Rank& r) { return r.running; });
    if (!any_running && streams.empty()) break;
    poll(fds.data(), fds.size(), 100);
    if (fds[0].revents & POLLIN) {
      unsigned char sig = 0;
      while (read(g_signal_pipe[0], &sig, 1) == 1) {
        if (failure.empty()) {
          failure = std::string("fresnel launch: stopped by ") + (sig == SIGINT ? "SIGINT" : "SIGTERM");
          exit_code = 128 + sig;
        }
        stop_all(sig);  // forwarded: each rank ends as it would without a launcher
        if (!stopping)
          kill_at = Clock::now() +
                    std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.grace_seconds));
        stopping = true;
      }
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Stream& s = *streams[i - 1];
      const Rank& owner = *std::find_if(ranks.begin(), ranks.end(),
                                        [&](const Rank& r) { return &r.streams[0] == &s || &r.streams[1] == &s; });
      const std::string prefix = "[rank " + std::to_string(owner.rank) + "] ";
      char buf[8192];
      const ssize_t n = read(s.fd, buf, sizeof buf);
      if (n > 0) {
        s.pending.append(buf, static_cast<size_t>(n));
        emit_lines(s, prefix, false);
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        emit_lines(s, prefix, true);
        close(s.fd);
        s.fd = -1;
      }
    }
    for (auto& r : ranks) {
      if (!r.running) continue;
      int status = 0;
      if (waitpid(r.pid, &status, WNOHANG) != r.pid) continue;
      r.running = false;
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (ok || stopping) continue;
      failure = "fresnel launch: rank " + std::to_string(r.rank) + " (local rank " + std::to_string(r.local_rank) +
                ", pid " + std::to_string(r.pid) + ") " + describe_status(status);
      exit_code = 1;
      log_warn(failure + "; stopping the other ranks");
      stop_all(SIGTERM);
      stopping = true;
      kill_at =
          Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.grace_seconds));
    }
    if (stopping && Clock::now() > kill_at) {
      stop_all(SIGKILL);
      kill_at = Clock::time_point::max();
    }
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  close(g_signal_pipe[0]);
  close(g_signal_pipe[1]);
  if (exit_code == 1) std::fprintf(stderr, "error: %s; the job failed\n", failure.c_str());
  if (exit_code > 128) std::fprintf(stderr, "error: %s\n", failure.c_str());
  return exit_code;
}

}  // namespace fresnel::distributed
