// `fresnel download` through the binary against a loopback dataset viewer: kill -9 and resume, tokens, errors.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "acquire/fake_viewer.hpp"
#include "testutil/cli_runner.hpp"
#include "testutil/testutil.hpp"

using fresnel::test::run_command;
using fresnel::test::run_fresnel;
namespace fs = std::filesystem;

namespace {

int count_with(const std::string& dir, const std::string& suffix) {
  int n = 0;
  if (!fs::is_directory(dir)) return 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    n += name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  }
  return n;
}

std::string server_flags(const fresnel::test::FakeViewer& v) {
  return " --api_url " + v.url() + " --endpoint " + v.url();
}

}  // namespace

TEST(CliDownload, KilledAtAnyMomentResumesToExactlyCountValidImages) {
  fresnel::test::FakeViewer v;
  v.image_delay_s = 0.05;  // slow enough to be killed mid-run
  v.cut_once = {3, 11};    // some partial files on the way
  v.start();
  fresnel::test::TempDir tmp;
  const std::string out = tmp.file("images");
  const std::string args =
      "download --dataset hf:" + v.repo + " --count 40 --workers 3 --output_dir " + out + server_flags(v);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string cmd = std::string(FRESNEL_EXE) + " " + args + " > /dev/null 2>&1";
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (count_with(out, ".jpg") < 8 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  const int before = count_with(out, ".jpg");
  EXPECT_GE(before, 8);
  EXPECT_LT(before, 40) << "finished before the kill: the test did not test resuming";
  // Whatever was renamed into place before the kill is a complete image.
  for (const auto& e : fs::directory_iterator(out))
    if (e.path().extension() == ".jpg") EXPECT_FALSE(cv::imread(e.path().string()).empty()) << e.path();

  const auto r = run_fresnel(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(std::to_string(before) + " already present"), std::string::npos) << r.output;
  EXPECT_EQ(count_with(out, ".jpg"), 40);
  EXPECT_EQ(count_with(out, ".part"), 0);
  EXPECT_EQ(count_with(out, ".download"), 0);
  int files = 0;
  for (const auto& e : fs::directory_iterator(out)) {
    ++files;
    const cv::Mat img = cv::imread(e.path().string());
    ASSERT_FALSE(img.empty()) << e.path();
    EXPECT_EQ(img.cols, 40);
  }
  EXPECT_EQ(files, 40);
}

TEST(CliDownload, TokenFromEnvironmentNeverPrintedAndClearErrors) {
  fresnel::test::FakeViewer v;
  v.gated_token = "hf_cli_secret_789";
  v.start();
  fresnel::test::TempDir tmp;
  const std::string base = "download --dataset hf:" + v.repo + " --count 3 --output_dir " + tmp.file("a");
  // The API URL from the environment; gated without a token: exit 1, says how to fix it.
  const std::string env = "FRESNEL_HF_API_URL=" + v.url() + " HF_ENDPOINT=" + v.url() + " ";
  auto r = run_command("env -u HF_TOKEN " + env + FRESNEL_EXE + " " + base);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("HF_TOKEN"), std::string::npos) << r.output;
  // With HF_TOKEN: works; the token appears nowhere in the output.
  r = run_command(env + "HF_TOKEN=hf_cli_secret_789 " + FRESNEL_EXE + " " + base + " --workers 1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("hf_cli_secret_789"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("3 downloaded"), std::string::npos) << r.output;
  // --count beyond the dataset, unknown dataset, bad --dataset, no network.
  r = run_fresnel("download --dataset hf:" + v.repo + " --count 5000 --token hf_cli_secret_789 --output_dir " +
                  tmp.file("b") + server_flags(v));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("beyond the dataset"), std::string::npos) << r.output;
  r = run_fresnel("download --dataset hf:x/unknown --count 5 --output_dir " + tmp.file("c") + server_flags(v));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("unknown dataset 'x/unknown'"), std::string::npos) << r.output;
  r = run_fresnel("download --dataset imagenet --output_dir " + tmp.file("d"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_fresnel("download --dataset ffhq --count 2 --retries 1 --output_dir " + tmp.file("e") +
                  " --api_url http://127.0.0.1:" + std::to_string(fresnel::test::closed_port()));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("cannot reach the dataset viewer"), std::string::npos) << r.output;
  const auto help = run_fresnel("download --help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--dataset", "--count", "--output_dir", "--workers", "--token", "--api_url", "--endpoint"})
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag;
}
