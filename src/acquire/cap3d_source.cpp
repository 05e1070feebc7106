#include "acquire/cap3d_source.hpp"

#include <algorithm>
#include <filesystem>
#include <tuple>

#include "acquire/archive_names.hpp"
#include "core/error.hpp"

namespace fresnel::acquire {
namespace fs = std::filesystem;

uint64_t mix_seed(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t hash_string(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::vector<size_t> seeded_permutation(size_t n, uint64_t seed) {
  std::vector<size_t> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = i;
  uint64_t state = mix_seed(seed);
  for (size_t i = n; i > 1; --i) {
    state = mix_seed(state);
    std::swap(p[i - 1], p[state % i]);  // modulo bias is < i/2^64: irrelevant here
  }
  return p;
}

static std::vector<std::string> zip_files_under(const std::string& input) {
  std::vector<std::string> files;
  if (fs::is_regular_file(input)) {
    files.push_back(input);
    return files;
  }
  if (!fs::is_directory(input)) throw file_error(input, "not found (expected a folder of Cap3D zips or a zip file)");
  for (auto it = fs::recursive_directory_iterator(input, fs::directory_options::skip_permission_denied);
       it != fs::recursive_directory_iterator(); ++it)
    if (it->is_regular_file() && entry_extension(it->path().string()) == ".zip") files.push_back(it->path().string());
  std::sort(files.begin(), files.end());
  if (files.empty())
    throw file_error(input, "holds no .zip files (Cap3D per-object zips or compressed_imgs_perobj_XX.zip)");
  return files;
}

Cap3dListing list_cap3d_objects(const std::string& input) {
  Cap3dListing out;
  std::vector<Cap3dObjectRef> refs;
  for (const auto& path : zip_files_under(input)) {
    std::unique_ptr<ZipArchive> z;
    try {
      z = std::make_unique<ZipArchive>(ZipArchive::open_file(path));
    } catch (const Error& e) {
      ++out.unreadable_zips;
      out.problems.push_back(e.what());
      continue;
    }
    bool outer = false;
    for (const auto& e : z->entries()) {
      if (entry_extension(e.name) != ".zip") continue;
      outer = true;
      const std::string uid = entry_stem(e.name);
      if (!is_safe_entry_name(e.name) || !is_safe_stem(uid)) {
        ++out.unsafe_names;
        out.problems.push_back(path + ": entry '" + e.name + "' has an unsafe name; skipped");
        continue;
      }
      refs.push_back({uid, path, e.name});
    }
    if (!outer) {
      const std::string uid = entry_stem(fs::path(path).filename().string());
      if (!is_safe_stem(uid)) {
        ++out.unsafe_names;
        out.problems.push_back(path + ": file name is not a usable object id; skipped");
        continue;
      }
      refs.push_back({uid, path, ""});
    }
  }
  std::sort(refs.begin(), refs.end(), [](const Cap3dObjectRef& a, const Cap3dObjectRef& b) {
    return std::tie(a.uid, a.container, a.entry) < std::tie(b.uid, b.container, b.entry);
  });
  for (auto& r : refs) {
    if (!out.objects.empty() && out.objects.back().uid == r.uid) {
      ++out.duplicates;
      continue;
    }
    out.objects.push_back(std::move(r));
  }
  return out;
}

Cap3dObject Cap3dReader::open(const Cap3dObjectRef& ref) {
  if (ref.entry.empty()) return Cap3dObject(ZipArchive::open_file(ref.container), ref.uid);
  auto& outer = outer_[ref.container];
  if (!outer) outer = std::make_unique<ZipArchive>(ZipArchive::open_file(ref.container));
  const ZipEntry* e = outer->find(ref.entry);
  if (!e) throw Error(ref.label() + ": entry not found");
  return Cap3dObject(ZipArchive::open_bytes(outer->read(*e), ref.label()), ref.uid);
}

}  // namespace fresnel::acquire
