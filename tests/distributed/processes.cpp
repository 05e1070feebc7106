#include "processes.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "testutil/cli_runner.hpp"
#include "testutil/testutil.hpp"

namespace fresnel::test {

pid_t spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
            const std::string& log) {
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

std::optional<int> wait_exit(pid_t pid, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0) return std::nullopt;
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool wait_for_text(const std::string& path, const std::string& text, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (read_text(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::vector<std::string> split_args(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string a;
  while (ss >> a) out.push_back(a);
  return out;
}

std::string make_tiny_dataset(const std::string& dir) {
  const auto r =
      run_fresnel("--quiet synth --out " + dir + "/d --objects 8 --views 1 --size 32 --seed 2 --split 1,0,0 --aa 1");
  if (r.exit_code != 0) throw std::runtime_error("fresnel synth failed: " + r.output);
  return dir + "/d";
}

std::unique_ptr<TempDir> TinyDatasetTest::data_;

void TinyDatasetTest::SetUpTestSuite() {
  data_ = std::make_unique<TempDir>();
  make_tiny_dataset(data_->path());
}
void TinyDatasetTest::TearDownTestSuite() { data_.reset(); }
TinyDatasetTest::TinyDatasetTest() : tmp_(std::make_unique<TempDir>()) {}
TinyDatasetTest::~TinyDatasetTest() = default;
std::string TinyDatasetTest::data_dir() { return data_->path() + "/d"; }
std::string TinyDatasetTest::tmp() const { return tmp_->path(); }

std::string tiny_train_args(const std::string& data, const std::string& out, int batch, int epochs,
                            const std::string& extra) {
  return "--quiet --threads 1 train --experiment 2 --encoder builtin --feature_dim 8 --decoder_hidden 16 "
         "--gaussians_per_patch 1 --image_size 32 --num_workers 1 --dropout 0 --no_augmentation --depth_weight 0 "
         "--depth_head_weight 0 --save_interval 1 --dist_timeout 60 --data_dir " +
         data + " --batch_size " + std::to_string(batch) + " --epochs " + std::to_string(epochs) + " --output_dir " +
         out + " " + extra;
}

}  // namespace fresnel::test
