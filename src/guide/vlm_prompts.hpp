// The original's VLM prompts (vlm_guidance.py, §8) and the parsers of their replies. Pure text in, values out: no
// network here, so every parser is tested on a corpus of real-looking replies.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fresnel::guide {

// A reply budget per prompt (the original's max_tokens).
struct Prompt {
  std::string text;
  int max_tokens = 512;
};

Prompt density_prompt(int grid_size);  // G×G importance grid, one row per line
Prompt image_type_prompt();            // one word: face, object, scene or animal
Prompt face_landmarks_prompt();        // JSON {left_eye: [x, y, importance], …}
Prompt segmentation_prompt();          // JSON [{label, importance, bbox}]
Prompt depth_hints_prompt();           // JSON [{name, position, depth}] nearest → farthest
Prompt quality_prompt();               // side-by-side original | render → JSON scores 0–10

// Grid sizes the original offers.
bool valid_grid_size(int grid_size);

// The original's grid parser: code fences removed; per line (skipping empty, '#' and '*' lines) three number patterns
// tried in turn until one finds at least G numbers; such a line gives its first G numbers clamped to [0,1]; the first
// G such rows form the grid (row-major, G·G values). nullopt with fewer rows.
std::optional<std::vector<float>> parse_density_grid(const std::string& reply, int grid_size);

// The first of face/object/scene/animal contained in the reply (case-insensitive); "object" otherwise.
std::string parse_image_type(const std::string& reply);

struct Landmark {
  std::string name;
  double x = 0, y = 0;  // fractions of width / height, 0,0 top-left
  double importance = 0;
};
// The JSON object in the reply (first '{' to last '}'); entries that are not arrays of ≥3 numbers are skipped.
// nullopt when there is no JSON object or no usable entry.
std::optional<std::vector<Landmark>> parse_face_landmarks(const std::string& reply);

struct Segment {
  std::string label;
  std::string importance;         // critical / high / medium / low (as given)
  double bbox[4] = {0, 0, 1, 1};  // x_min, y_min, x_max, y_max as fractions
};
std::optional<std::vector<Segment>> parse_segments(const std::string& reply);

// The first '[' … last ']' (or '{' … '}') of the reply as JSON; nullopt when absent or not valid JSON.
std::optional<nlohmann::json> extract_json_array(const std::string& reply);
std::optional<nlohmann::json> extract_json_object(const std::string& reply);

}  // namespace fresnel::guide
