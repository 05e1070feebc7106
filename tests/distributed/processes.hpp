// Starting and watching `fresnel` processes from tests: ranks launched the way torchrun launches them (environment
// variables), free loopback ports, exit codes with a deadline.
#pragma once
#include <gtest/gtest.h>
#include <sys/types.h>

#include <memory>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fresnel::test {

// Starts `args` (args[0] is the program) with `env` added to this process's environment, stdout and stderr to `log`.
pid_t spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
            const std::string& log);
// The exit code (128 + signal when killed) or nullopt when `pid` is still running after `seconds`.
std::optional<int> wait_exit(pid_t pid, double seconds);
// Waits until the file holds `text`; false after `seconds`.
bool wait_for_text(const std::string& path, const std::string& text, double seconds);
std::string read_text(const std::string& path);
// Splits on spaces (test command lines have no quoted arguments).
std::vector<std::string> split_args(const std::string& line);

// A tiny multi-view set of 8 objects (fresnel synth) in `dir`/d; returns its path.
std::string make_tiny_dataset(const std::string& dir);
// `fresnel train` on it, exactly reproducible across world sizes: experiment 2 with the built-in encoder, per-sample
// mean losses only (the masked depth terms divide by the local batch's valid pixels, so they are off), no dropout,
// no augmentation. 8 objects: 2 ranks × batch 2 see the same samples per step as 1 rank × batch 4.
std::string tiny_train_args(const std::string& data, const std::string& out, int batch, int epochs,
                            const std::string& extra = "");

class TempDir;
// A test suite sharing one tiny dataset (made once per suite) and a temporary folder per test.
class TinyDatasetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  TinyDatasetTest();
  ~TinyDatasetTest() override;
  static std::string data_dir();
  std::string tmp() const;  // this test's folder

 private:
  static std::unique_ptr<TempDir> data_;
  std::unique_ptr<TempDir> tmp_;
};

}  // namespace fresnel::test
