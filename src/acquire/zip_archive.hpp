// Read-only zip archives through libzip (ZIP64 included): a file on disk, or a zip held in memory — how a per-object
// zip nested inside Cap3D's outer `compressed_imgs_perobj_XX.zip` is opened in place, without extracting to disk.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct zip;

namespace fresnel::acquire {

struct ZipEntry {
  std::string name;
  uint64_t index = 0;
  uint64_t size = 0;  // uncompressed size from the central directory
};

class ZipArchive {
 public:
  // Opens a zip file. Throws fresnel::Error naming the file when it is missing or not a readable zip.
  static ZipArchive open_file(const std::string& path);
  // Opens a zip held in memory (the archive keeps the bytes). `name` is used in messages.
  static ZipArchive open_bytes(std::string bytes, const std::string& name);

  ZipArchive(ZipArchive&&) noexcept;
  ZipArchive& operator=(ZipArchive&&) noexcept;
  ~ZipArchive();

  const std::string& name() const { return name_; }
  // Files in central-directory order (directories left out).
  const std::vector<ZipEntry>& entries() const { return entries_; }
  // Entry with exactly this name, or nullptr.
  const ZipEntry* find(const std::string& entry_name) const;
  // Whole uncompressed entry. The size from the directory is checked against `max_bytes` before allocating, and
  // the bytes read against that size (a truncated or corrupt entry throws naming archive and entry).
  std::string read(const ZipEntry& entry, uint64_t max_bytes = kDefaultMaxEntryBytes) const;

  static constexpr uint64_t kDefaultMaxEntryBytes = uint64_t(1) << 30;

 private:
  ZipArchive() = default;
  void list_entries();
  std::string name_;
  std::unique_ptr<std::string> bytes_;  // backing memory for open_bytes (stable address)
  zip* archive_ = nullptr;
  std::vector<ZipEntry> entries_;
};

}  // namespace fresnel::acquire
