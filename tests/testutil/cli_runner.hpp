// Runs the built `fresnel` binary (tests/cli only, where FRESNEL_EXE is defined).
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

inline CliResult run_fresnel(const std::string& args) {
  const std::string cmd = std::string(FRESNEL_EXE) + " " + args + " 2>&1";
  CliResult r{-1, ""};
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace fresnel::test
