#include "core/atomic_write.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.hpp"

namespace fresnel {
namespace fs = std::filesystem;

static std::string temp_name_for(const std::string& path) { return path + ".tmp." + std::to_string(::getpid()); }

void atomic_write_path(const std::string& path, const std::function<void(const std::string&)>& write) {
  const fs::path target(path);
  if (target.has_parent_path() && !target.parent_path().empty()) ensure_directory(target.parent_path().string());
  const std::string tmp = temp_name_for(path);
  try {
    write(tmp);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw file_error(path, "cannot move temporary file into place: " + ec.message());
  }
}

void atomic_write(const std::string& path, const std::function<void(std::ostream&)>& write) {
  atomic_write_path(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw file_error(path, "cannot open for writing");
    write(out);
    out.flush();
    if (!out) throw file_error(path, "write failed (disk full?)");
  });
}

void write_text_file(const std::string& path, const std::string& text) {
  atomic_write(path, [&](std::ostream& out) { out << text; });
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(path, "cannot open for reading (missing or unreadable)");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void ensure_directory(const std::string& path) {
  if (path.empty()) return;
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec && !fs::is_directory(path)) throw file_error(path, "cannot create directory: " + ec.message());
}

}  // namespace fresnel
