// Runs commands and the built `fresnel` binary (run_fresnel where FRESNEL_EXE is defined: tests/cli, tests/viewer).
#pragma once
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace fresnel::test {

struct CliResult {
  int exit_code;
  std::string output;  // stdout and stderr together
};

// Runs a shell command line; stdout and stderr are captured together.
inline CliResult run_command(const std::string& command) {
  CliResult r{-1, ""};
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

#ifdef FRESNEL_EXE
inline CliResult run_fresnel(const std::string& args) { return run_command(std::string(FRESNEL_EXE) + " " + args); }
#endif

}  // namespace fresnel::test
