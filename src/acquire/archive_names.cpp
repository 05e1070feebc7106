#include "acquire/archive_names.hpp"

#include <algorithm>
#include <cctype>

namespace fresnel::acquire {

bool is_safe_entry_name(const std::string& name) {
  if (name.empty() || name.front() == '/') return false;
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f || c == '\\' || c == ':') return false;
  size_t start = 0;
  while (start <= name.size()) {
    const size_t slash = name.find('/', start);
    const std::string part = name.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return true;
}

bool is_safe_stem(const std::string& stem) {
  if (stem.empty() || stem.size() > 200 || stem.front() == '.') return false;
  return std::all_of(stem.begin(), stem.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '_' || c == '-'; });
}

static std::string last_component(const std::string& name) {
  const size_t slash = name.find_last_of('/');
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

std::string entry_stem(const std::string& entry_name) {
  const std::string base = last_component(entry_name);
  const size_t dot = base.find_last_of('.');
  return dot == std::string::npos || dot == 0 ? base : base.substr(0, dot);
}

std::string entry_extension(const std::string& entry_name) {
  const std::string base = last_component(entry_name);
  const size_t dot = base.find_last_of('.');
  if (dot == std::string::npos || dot == 0) return "";
  std::string ext = base.substr(dot);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext;
}

}  // namespace fresnel::acquire
