#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <string>

#include "core/log.hpp"
#include "core/progress.hpp"

using fresnel::Progress;

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(Progress::format_duration(3.44), "3.4s");
  EXPECT_EQ(Progress::format_duration(123), "2m03s");
  EXPECT_EQ(Progress::format_duration(3723), "1h02m03s");
}

TEST(Progress, PlainLinesWhenNotATerminalWithEta) {
  // Redirect stderr to a file: not a terminal, so plain lines without carriage returns.
  char path[] = "/tmp/fresnel_progress_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  {
    Progress p("epoch", 4, "img");
    p.set_status("loss 0.5");
    for (int i = 0; i < 4; ++i) p.advance();
    EXPECT_EQ(p.count(), 4);
  }
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  FILE* f = fopen(path, "r");
  std::string text(4096, '\0');
  text.resize(fread(text.data(), 1, text.size(), f));
  fclose(f);
  close(fd);
  unlink(path);
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_NE(text.find("epoch 4/4 (100%)"), std::string::npos);
  EXPECT_NE(text.find("img/s"), std::string::npos);
  EXPECT_NE(text.find("loss 0.5"), std::string::npos);
  // The final count is printed once, not again by finish().
  EXPECT_EQ(text.find("epoch 4/4", text.find("epoch 4/4") + 1), std::string::npos);
}

TEST(Progress, QuietPrintsNothing) {
  char path[] = "/tmp/fresnel_progress_XXXXXX";
  const int fd = mkstemp(path);
  const int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  fresnel::set_log_level(fresnel::LogLevel::Quiet);
  {
    Progress p("x", 2);
    p.advance(2);
  }
  fresnel::set_log_level(fresnel::LogLevel::Info);
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  EXPECT_EQ(lseek(fd, 0, SEEK_END), 0);
  close(fd);
  unlink(path);
}
