#include "v2/generate.hpp"

#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/image_io.hpp"
#include "core/log.hpp"
#include "core/progress.hpp"

extern char** environ;
namespace fs = std::filesystem;

namespace fresnel::v2 {
namespace {

std::map<std::string, int64_t> read_failures(const fs::path& path) {
  std::map<std::string, int64_t> out;
  if (!fs::exists(path)) return out;
  try {
    auto j = nlohmann::json::parse(read_text_file(path.string()));
    for (const auto& [k, v] : j.items()) out[k] = v.get<int64_t>();
  } catch (const std::exception& e) {
    throw file_error(path.string(), std::string("not a {image: failure count} JSON object: ") + e.what());
  }
  return out;
}

void write_failures(const fs::path& path, const std::map<std::string, int64_t>& failures) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : failures) j[k] = v;
  write_text_file(path.string(), j.dump(2));
}

// Runs argv (no shell) with the environment plus `env`, waits; returns the exit status (128 + signal when killed).
int run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) envs.emplace_back(*e);
  envs.insert(envs.end(), env.begin(), env.end());
  std::vector<char*> a, en;
  for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  for (const auto& s : envs) en.push_back(const_cast<char*>(s.c_str()));
  en.push_back(nullptr);
  pid_t pid;
  const int rc = posix_spawnp(&pid, a[0], nullptr, nullptr, a.data(), en.data());
  if (rc != 0) throw Error("cannot start the TRELLIS worker '" + argv[0] + "': " + std::strerror(rc));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw Error("waiting for the TRELLIS worker failed: " + std::string(std::strerror(errno)));
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

}  // namespace

GenerateSummary run_generation(const GenerateOptions& o) {
  if (!fs::is_directory(o.input_dir)) throw file_error(o.input_dir, "is not a directory");
  std::vector<fs::path> images;
  for (const auto& e : fs::directory_iterator(o.input_dir))
    if (e.is_regular_file() && is_image_file(e.path().string())) images.push_back(e.path());
  std::sort(images.begin(), images.end());
  if (o.num_samples > 0 && static_cast<int64_t>(images.size()) > o.num_samples) images.resize(o.num_samples);
  if (images.empty()) throw file_error(o.input_dir, "holds no image (" + supported_image_extensions() + ")");
  ensure_directory(o.output_dir);
  const fs::path out(o.output_dir);
  const fs::path failures_path = out / "_failures.json";
  auto failures = read_failures(failures_path);
  const std::string python =
      o.python.empty() ? (fs::path(o.trellis_dir) / ".venv" / "bin" / "python").string() : o.python;

  auto done = [&](const fs::path& img) { return fs::exists(out / img.stem() / "gaussians.ply"); };
  std::set<std::string> redo;  // without --resume, existing samples are made again once
  if (!o.resume)
    for (const auto& img : images) redo.insert(img.filename().string());

  GenerateSummary summary;
  Progress bar("v2 generate", static_cast<int64_t>(images.size()), "image");
  int64_t reported = 0;
  for (;;) {
    std::vector<fs::path> pending;
    int64_t finished = 0;
    for (const auto& img : images) {
      const std::string name = img.filename().string();
      if (done(img) && !redo.count(name)) {
        ++finished;
        continue;
      }
      if (failures.count(name) && failures[name] >= o.max_failures) {
        ++finished;
        continue;
      }
      pending.push_back(img);
    }
    if (finished > reported) bar.advance(finished - reported), reported = finished;
    if (pending.empty()) break;
    if (o.batch_size > 0 && static_cast<int64_t>(pending.size()) > o.batch_size) pending.resize(o.batch_size);
    // Re-made samples are cleared first, so "no gaussians.ply" means "not finished in this round".
    for (const auto& img : pending)
      if (redo.erase(img.filename().string())) fs::remove_all(out / img.stem());
    const fs::path list = out / "_batch.txt";
    std::string text;
    for (const auto& img : pending) text += fs::absolute(img).string() + "\n";
    write_text_file(list.string(), text);
    const int status = run_process({python, o.worker, "--images", list.string(), "--output_dir", out.string(),
                                    "--num_steps", std::to_string(o.num_steps), "--seed", std::to_string(o.seed)},
                                   {"HSA_OVERRIDE_GFX_VERSION=11.0.0", "ATTN_BACKEND=sdpa", "XFORMERS_DISABLED=1",
                                    "SPARSE_BACKEND=torchsparse", "PYTHONPATH=" + o.trellis_dir});
    ++summary.rounds;
    bool charged = false;
    for (const auto& img : pending) {
      const std::string name = img.filename().string();
      if (done(img)) {
        failures.erase(name);
      } else if (!charged) {  // the image the worker stopped at
        charged = true;
        const int64_t n = ++failures[name];
        log_warn("v2 generate: " + name + " failed (" + std::to_string(n) + "/" + std::to_string(o.max_failures) +
                 ", worker exit " + std::to_string(status) + ")");
      }
    }
    write_failures(failures_path, failures);
  }
  fs::remove(out / "_batch.txt");
  bar.finish();
  for (const auto& img : images) (done(img) ? summary.done : summary.skipped)++;
  return summary;
}

}  // namespace fresnel::v2
