// Finding Cap3D objects: `--input_dir` may be a folder of per-object zips (an extracted
// `compressed_imgs_perobj_XX.zip`), a folder holding outer zips, or one zip file of either kind, searched
// recursively. Per-object zips inside an outer zip are read in place (into memory, never extracted to disk).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "acquire/cap3d_object.hpp"

namespace fresnel::acquire {

struct Cap3dObjectRef {
  std::string uid;        // stem of the per-object zip (a safe file-name stem)
  std::string container;  // zip file on disk
  std::string entry;      // entry of the per-object zip inside `container`; empty when `container` is it
  std::string label() const { return entry.empty() ? container : container + ": " + entry; }
};

struct Cap3dListing {
  std::vector<Cap3dObjectRef> objects;  // sorted by uid (then container, entry); duplicates of a uid dropped
  std::vector<std::string> problems;    // one line per unreadable zip or unsafe entry name, for the summary
  int64_t unsafe_names = 0, unreadable_zips = 0, duplicates = 0;
};

// Throws fresnel::Error when `input` does not exist or holds no zip files.
Cap3dListing list_cap3d_objects(const std::string& input);

// Opens objects, keeping the outer archives it has opened.
class Cap3dReader {
 public:
  // Throws fresnel::Error naming the zip (and entry) when it is corrupt or not a Cap3D object.
  Cap3dObject open(const Cap3dObjectRef& ref);

 private:
  std::map<std::string, std::unique_ptr<ZipArchive>> outer_;
};

// Deterministic Fisher–Yates permutation of 0..n−1 for a seed (splitmix64 stream; the same on every platform).
std::vector<size_t> seeded_permutation(size_t n, uint64_t seed);
// splitmix64 of a value: deterministic per-item choices (e.g. the view of an object).
uint64_t mix_seed(uint64_t value);
uint64_t hash_string(const std::string& s);  // FNV-1a

}  // namespace fresnel::acquire
