#include "acquire/zip_archive.hpp"

#include <zip.h>

#include <filesystem>

#include "core/error.hpp"

namespace fresnel::acquire {

static std::string zip_error_text(zip_error_t* error) {
  const std::string text = zip_error_strerror(error);
  zip_error_fini(error);
  return text;
}

ZipArchive ZipArchive::open_file(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) throw file_error(path, "zip file not found");
  int code = 0;
  zip* z = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (!z) {
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    throw file_error(path, "not a readable zip archive (" + zip_error_text(&error) + ")");
  }
  ZipArchive a;
  a.name_ = path;
  a.archive_ = z;
  a.list_entries();
  return a;
}

ZipArchive ZipArchive::open_bytes(std::string bytes, const std::string& name) {
  ZipArchive a;
  a.name_ = name;
  a.bytes_ = std::make_unique<std::string>(std::move(bytes));
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* source = zip_source_buffer_create(a.bytes_->data(), a.bytes_->size(), 0, &error);
  if (!source) throw file_error(name, "cannot read zip from memory (" + zip_error_text(&error) + ")");
  zip* z = zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error);
  if (!z) {
    zip_source_free(source);
    throw file_error(name, "not a readable zip archive (" + zip_error_text(&error) + ")");
  }
  zip_error_fini(&error);
  a.archive_ = z;
  a.list_entries();
  return a;
}

ZipArchive::ZipArchive(ZipArchive&& o) noexcept
    : name_(std::move(o.name_)), bytes_(std::move(o.bytes_)), archive_(o.archive_), entries_(std::move(o.entries_)) {
  o.archive_ = nullptr;
}

ZipArchive& ZipArchive::operator=(ZipArchive&& o) noexcept {
  if (this != &o) {
    if (archive_) zip_discard(archive_);
    name_ = std::move(o.name_);
    bytes_ = std::move(o.bytes_);
    archive_ = o.archive_;
    entries_ = std::move(o.entries_);
    o.archive_ = nullptr;
  }
  return *this;
}

ZipArchive::~ZipArchive() {
  if (archive_) zip_discard(archive_);
}

void ZipArchive::list_entries() {
  const zip_int64_t n = zip_get_num_entries(archive_, 0);
  if (n < 0) throw file_error(name_, "cannot list the zip's entries");
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(archive_, uint64_t(i), 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME) ||
        !(st.valid & ZIP_STAT_SIZE))
      throw file_error(name_, "corrupt central directory entry " + std::to_string(i));
    std::string entry_name = st.name;
    if (!entry_name.empty() && entry_name.back() == '/') continue;  // directory
    entries_.push_back({std::move(entry_name), uint64_t(i), uint64_t(st.size)});
  }
}

const ZipEntry* ZipArchive::find(const std::string& entry_name) const {
  for (const auto& e : entries_)
    if (e.name == entry_name) return &e;
  return nullptr;
}

std::string ZipArchive::read(const ZipEntry& entry, uint64_t max_bytes) const {
  const std::string where = name_ + ": " + entry.name;
  if (entry.size > max_bytes)
    throw Error(where + ": entry of " + std::to_string(entry.size) + " bytes exceeds the limit of " +
                std::to_string(max_bytes));
  zip_file_t* f = zip_fopen_index(archive_, entry.index, 0);
  if (!f) throw Error(where + ": cannot open entry (" + std::string(zip_strerror(archive_)) + ")");
  std::string data(size_t(entry.size), '\0');
  uint64_t got = 0;
  while (got < entry.size) {
    const zip_int64_t r = zip_fread(f, data.data() + got, entry.size - got);
    if (r < 0) {
      const std::string why = zip_file_strerror(f);
      zip_fclose(f);
      throw Error(where + ": corrupt entry (" + why + ")");
    }
    if (r == 0) break;
    got += uint64_t(r);
  }
  // One more byte would mean the data is longer than the directory says.
  char extra;
  const zip_int64_t more = got == entry.size ? zip_fread(f, &extra, 1) : 0;
  const int close_code = zip_fclose(f);  // verifies the CRC
  if (got != entry.size || more != 0)
    throw Error(where + ": entry size does not match the directory (truncated or corrupt)");
  if (close_code != 0) throw Error(where + ": corrupt entry (CRC mismatch)");
  return data;
}

}  // namespace fresnel::acquire
