#include "guide/density.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/atomic_write.hpp"
#include "core/log.hpp"

namespace fresnel::guide {
namespace fs = std::filesystem;

double landmark_sigma(const std::string& name) {
  if (name == "left_eye" || name == "right_eye") return 15;
  if (name == "nose") return 25;
  if (name == "mouth") return 20;
  if (name == "face_outline") return 40;
  if (name == "hair") return 50;
  return 30;
}

std::vector<float> landmarks_to_density(const std::vector<Landmark>& landmarks, int size) {
  std::vector<double> acc(static_cast<size_t>(size) * size, 0.0);
  for (const auto& l : landmarks) {
    const int cx = static_cast<int>(l.x * size), cy = static_cast<int>(l.y * size);  // Python int(): truncation
    const double s2 = 2.0 * landmark_sigma(l.name) * landmark_sigma(l.name);
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        const double d2 = double(x - cx) * (x - cx) + double(y - cy) * (y - cy);
        acc[static_cast<size_t>(y) * size + x] += l.importance * std::exp(-d2 / s2);
      }
  }
  const double peak = *std::max_element(acc.begin(), acc.end());
  std::vector<float> out(acc.size());
  for (size_t i = 0; i < acc.size(); ++i) out[i] = static_cast<float>(peak > 0 ? acc[i] / peak : acc[i]);
  return out;
}

DensityGrid zoom_bilinear(const std::vector<float>& map, int size, int g) {
  DensityGrid out(static_cast<size_t>(g) * g);
  auto coord = [&](int i) { return g == 1 ? 0.0 : i * double(size - 1) / double(g - 1); };
  for (int i = 0; i < g; ++i) {
    const double fy = coord(i);
    const int y0 = std::min(static_cast<int>(fy), size - 1), y1 = std::min(y0 + 1, size - 1);
    const double wy = fy - y0;
    for (int j = 0; j < g; ++j) {
      const double fx = coord(j);
      const int x0 = std::min(static_cast<int>(fx), size - 1), x1 = std::min(x0 + 1, size - 1);
      const double wx = fx - x0;
      auto at = [&](int y, int x) { return double(map[static_cast<size_t>(y) * size + x]); };
      out[static_cast<size_t>(i) * g + j] = static_cast<float>((1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x1)) +
                                                               wy * ((1 - wx) * at(y1, x0) + wx * at(y1, x1)));
    }
  }
  return out;
}

// ---- reply cache ----

namespace {
uint64_t fnv1a(const std::string& data, uint64_t hash) {
  for (unsigned char c : data) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}
}  // namespace

ReplyCache::ReplyCache(std::string dir) : dir_(std::move(dir)) {}

std::string ReplyCache::key(const EncodedImage& image, const Prompt& prompt, const std::string& model, int grid) {
  // Length-prefixed fields so that no two different tuples serialise alike; two independent 64-bit FNV-1a hashes.
  std::string material;
  for (const std::string* field : {&image.bytes, &prompt.text, &model})
    material += std::to_string(field->size()) + ":" + *field;
  material += "|max_tokens=" + std::to_string(prompt.max_tokens) + "|grid=" + std::to_string(grid);
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx",
                static_cast<unsigned long long>(fnv1a(material, 0xcbf29ce484222325ULL)),
                static_cast<unsigned long long>(fnv1a(material, 0x84222325cbf29ce4ULL)));
  return hex;
}

std::optional<std::string> ReplyCache::get(const std::string& key) const {
  if (dir_.empty()) return std::nullopt;
  const auto path = fs::path(dir_) / (key + ".txt");
  if (!fs::exists(path)) return std::nullopt;
  return read_text_file(path.string());
}

void ReplyCache::put(const std::string& key, const std::string& reply) const {
  if (dir_.empty()) return;
  ensure_directory(dir_);
  write_text_file((fs::path(dir_) / (key + ".txt")).string(), reply);
}

// ---- density from the VLM ----

std::string first_line(const std::string& reply) {
  size_t b = reply.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "(empty reply)";
  std::string line = reply.substr(b, reply.find_first_of("\r\n", b) - b);
  if (line.size() > 100) line = line.substr(0, 100) + "…";
  return line;
}

VlmDensity::VlmDensity(VlmClient& client, const ReplyCache& cache, int grid_size, bool smart)
    : client_(client), cache_(cache), grid_(grid_size), smart_(smart) {}

std::string VlmDensity::ask(const EncodedImage& image, const Prompt& prompt, int& requests) {
  const std::string key = ReplyCache::key(image, prompt, client_.options().model, grid_);
  if (auto cached = cache_.get(key)) return *cached;
  ++requests;
  std::string reply = client_.ask(image, prompt);
  cache_.put(key, reply);
  return reply;
}

std::optional<DensityGrid> VlmDensity::smart_face(const EncodedImage& image, int& requests, std::string& note) {
  const std::string type = parse_image_type(ask(image, image_type_prompt(), requests));
  if (type != "face") {
    note = "image type '" + type + "'";
    return std::nullopt;
  }
  const std::string reply = ask(image, face_landmarks_prompt(), requests);
  auto landmarks = parse_face_landmarks(reply);
  const bool usable = landmarks && std::any_of(landmarks->begin(), landmarks->end(),
                                               [](const Landmark& l) { return l.importance > 0; });
  if (!usable) {
    note = "face landmarks not parsed (" + first_line(reply) + ")";
    return std::nullopt;
  }
  return zoom_bilinear(landmarks_to_density(*landmarks, 256), 256, grid_);
}

DensityResult VlmDensity::compute(const EncodedImage& image) {
  DensityResult result;
  try {
    if (smart_) {
      std::string note;
      try {
        if (auto face = smart_face(image, result.requests, note)) {
          result.grid = std::move(face);
          result.method = "face landmarks";
          return result;
        }
      } catch (const Error& e) {  // any failure of the face path falls back to grid mode
        note = e.what();
      }
      log_debug("smart mode: " + note + "; using grid mode");
    }
    const std::string reply = ask(image, density_prompt(grid_), result.requests);
    result.grid = parse_density_grid(reply, grid_);
    if (result.grid) {
      result.method = "grid";
    } else {
      result.problem = "reply is not a " + std::to_string(grid_) + "x" + std::to_string(grid_) +
                       " grid; first line: " + first_line(reply);
    }
  } catch (const Error& e) {
    result.grid.reset();
    result.problem = e.what();
  }
  return result;
}

}  // namespace fresnel::guide
