#include "guide/vlm_prompts.hpp"

#include <algorithm>
#include <cctype>
#include <regex>
#include <sstream>

namespace fresnel::guide {
namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::vector<std::string> find_all(const std::string& line, const std::regex& pattern) {
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(line.begin(), line.end(), pattern); it != std::sregex_iterator(); ++it)
    out.push_back(it->str());
  return out;
}

// Python's float() on the matched text: the whole string must be a number.
std::optional<float> to_float(const std::string& text) {
  try {
    size_t used = 0;
    const float v = std::stof(text, &used);
    if (used != text.size()) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<nlohmann::json> parse_between(const std::string& reply, char open, char close) {
  const size_t first = reply.find(open), last = reply.rfind(close);
  if (first == std::string::npos || last == std::string::npos || last < first) return std::nullopt;
  auto parsed = nlohmann::json::parse(reply.substr(first, last - first + 1), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return std::nullopt;
  return parsed;
}

}  // namespace

bool valid_grid_size(int g) { return g == 4 || g == 8 || g == 16; }

Prompt density_prompt(int g) {
  const std::string n = std::to_string(g) + "x" + std::to_string(g);
  return {
      "Analyze this image and rate the visual importance of each region.\n"
      "Divide the image into a " +
          n +
          " grid.\n\n"
          "For each cell, rate its importance from 0.0 to 1.0 where:\n"
          "- 1.0 = Critical detail (faces, eyes, text, fine textures)\n"
          "- 0.8 = High importance (edges, distinctive features)\n"
          "- 0.5 = Medium importance (general textures, patterns)\n"
          "- 0.2 = Low importance (flat areas, backgrounds)\n"
          "- 0.0 = Empty/uniform regions\n\n"
          "Output ONLY a " +
          n +
          " grid of numbers, one row per line.\n"
          "Example for a 4x4 grid:\n"
          "0.3 0.5 0.8 0.4\n"
          "0.4 1.0 1.0 0.5\n"
          "0.3 0.8 0.9 0.4\n"
          "0.2 0.3 0.4 0.2",
      512};
}

Prompt image_type_prompt() {
  return {"What is the main subject of this image? Reply with ONE word: face, object, scene, or animal", 10};
}

Prompt face_landmarks_prompt() {
  return {
      "This image contains a face. Identify these regions and their locations.\n\n"
      "For each region, provide coordinates as fractions (0-1) where 0,0 is top-left:\n"
      "- left_eye: [x_center, y_center, importance]\n"
      "- right_eye: [x_center, y_center, importance]\n"
      "- nose: [x_center, y_center, importance]\n"
      "- mouth: [x_center, y_center, importance]\n"
      "- face_outline: [x_center, y_center, importance]\n"
      "- hair: [x_center, y_center, importance]\n\n"
      "Importance is 0.0 to 1.0 (1.0 = most important for reconstruction).\n"
      "Eyes should be 1.0, mouth 0.9, nose 0.8, face_outline 0.7, hair 0.5.\n\n"
      "Output as JSON only:\n"
      "{\n"
      "  \"left_eye\": [0.35, 0.35, 1.0],\n"
      "  \"right_eye\": [0.65, 0.35, 1.0],\n"
      "  \"nose\": [0.5, 0.5, 0.8],\n"
      "  \"mouth\": [0.5, 0.65, 0.9],\n"
      "  \"face_outline\": [0.5, 0.45, 0.7],\n"
      "  \"hair\": [0.5, 0.15, 0.5]\n"
      "}",
      512};
}

Prompt segmentation_prompt() {
  return {
      "Identify the main semantic regions in this image.\n\n"
      "For each region provide:\n"
      "1. Label (e.g., face, body, background, object)\n"
      "2. Importance for 3D reconstruction (critical/high/medium/low)\n"
      "3. Approximate bounding box as fractions [x_min, y_min, x_max, y_max] where 0,0 is top-left\n\n"
      "Output as JSON array:\n"
      "[\n"
      "  {\"label\": \"face\", \"importance\": \"critical\", \"bbox\": [0.3, 0.1, 0.7, 0.5]},\n"
      "  {\"label\": \"background\", \"importance\": \"low\", \"bbox\": [0.0, 0.0, 1.0, 1.0]}\n"
      "]\n\n"
      "Only output JSON array.",
      1024};
}

Prompt depth_hints_prompt() {
  return {
      "Analyze the depth in this image. List the main objects/regions\n"
      "from NEAREST to FARTHEST from the camera.\n\n"
      "For each region, provide:\n"
      "1. Name/description (brief)\n"
      "2. Approximate screen position (top/bottom/left/right/center)\n"
      "3. Relative depth (0.0=very close, 1.0=very far)\n\n"
      "Output as JSON array:\n"
      "[\n"
      "  {\"name\": \"object name\", \"position\": \"center\", \"depth\": 0.2},\n"
      "  {\"name\": \"background\", \"position\": \"all\", \"depth\": 0.9}\n"
      "]\n\n"
      "Only output the JSON array, nothing else.",
      1024};
}

Prompt quality_prompt() {
  return {
      "Compare these two images (original on LEFT, reconstruction on RIGHT).\n\n"
      "Rate the reconstruction quality on these aspects (0-10):\n"
      "1. Overall similarity\n"
      "2. Fine detail preservation\n"
      "3. Color accuracy\n"
      "4. Edge sharpness\n"
      "5. Structural accuracy\n\n"
      "Also identify:\n"
      "- Best preserved regions\n"
      "- Regions needing improvement\n\n"
      "Output as JSON:\n"
      "{\n"
      "  \"similarity\": 7,\n"
      "  \"detail\": 6,\n"
      "  \"color\": 8,\n"
      "  \"sharpness\": 5,\n"
      "  \"structure\": 7,\n"
      "  \"overall\": 6.6,\n"
      "  \"good_regions\": [\"face\", \"edges\"],\n"
      "  \"needs_work\": [\"background texture\", \"fine details\"]\n"
      "}\n\n"
      "Only output JSON, nothing else.",
      512};
}

std::optional<std::vector<float>> parse_density_grid(const std::string& reply, int g) {
  // The three tiers of the original, in order; the same regular expressions (ECMAScript \b matches Python's).
  static const std::regex kFence(R"(```\w*\n?)");
  static const std::regex kTier1(R"(\b0?\.\d+\b|\b1\.0\b|\b[01]\b)");
  static const std::regex kTier2(R"([\d]+\.[\d]+|[01](?:\s|,|$))");
  static const std::regex kTier3(R"([\d.]+)");
  if (g < 1) return std::nullopt;
  const std::string text = trim(std::regex_replace(reply, kFence, ""));
  std::vector<float> grid;
  int rows = 0;
  std::istringstream lines(text);
  for (std::string line; rows < g && std::getline(lines, line);) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == '*') continue;
    auto numbers = find_all(line, kTier1);
    if (static_cast<int>(numbers.size()) < g) numbers = find_all(line, kTier2);
    if (static_cast<int>(numbers.size()) < g) {
      numbers.clear();
      for (const auto& n : find_all(line, kTier3))
        if (n.find('.') != std::string::npos || n == "0" || n == "1") numbers.push_back(n);
    }
    if (static_cast<int>(numbers.size()) < g) continue;
    std::vector<float> row;
    for (int i = 0; i < g; ++i) {
      // Python's float(): surrounding whitespace is fine; "1.2.3" or a tier-2 "0," fails and skips the line.
      auto v = to_float(trim(numbers[i]));
      if (!v) break;
      row.push_back(std::clamp(*v, 0.0f, 1.0f));
    }
    if (static_cast<int>(row.size()) != g) continue;
    grid.insert(grid.end(), row.begin(), row.end());
    ++rows;
  }
  if (rows < g) return std::nullopt;
  return grid;
}

std::string parse_image_type(const std::string& reply) {
  std::string lower = trim(reply);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* keyword : {"face", "object", "scene", "animal"})
    if (lower.find(keyword) != std::string::npos) return keyword;
  return "object";
}

std::optional<nlohmann::json> extract_json_array(const std::string& reply) { return parse_between(reply, '[', ']'); }
std::optional<nlohmann::json> extract_json_object(const std::string& reply) { return parse_between(reply, '{', '}'); }

std::optional<std::vector<Landmark>> parse_face_landmarks(const std::string& reply) {
  auto j = extract_json_object(reply);
  if (!j || !j->is_object()) return std::nullopt;
  std::vector<Landmark> out;
  for (const auto& [name, value] : j->items()) {
    if (!value.is_array() || value.size() < 3) continue;
    if (!value[0].is_number() || !value[1].is_number() || !value[2].is_number()) continue;
    out.push_back({name, value[0].get<double>(), value[1].get<double>(), value[2].get<double>()});
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<std::vector<Segment>> parse_segments(const std::string& reply) {
  auto j = extract_json_array(reply);
  if (!j || !j->is_array()) return std::nullopt;
  std::vector<Segment> out;
  for (const auto& item : *j) {
    if (!item.is_object()) continue;
    Segment s;
    if (item.contains("label") && item["label"].is_string()) s.label = item["label"].get<std::string>();
    s.importance = item.contains("importance") && item["importance"].is_string() ? item["importance"].get<std::string>()
                                                                                 : "medium";
    if (item.contains("bbox") && item["bbox"].is_array() && item["bbox"].size() >= 4) {
      bool numeric = true;
      for (int k = 0; k < 4; ++k) numeric &= item["bbox"][k].is_number();
      if (!numeric) continue;
      for (int k = 0; k < 4; ++k) s.bbox[k] = item["bbox"][k].get<double>();
    }
    out.push_back(s);
  }
  return out;
}

}  // namespace fresnel::guide
