// Reply parsing: the grid corpus (expected results from the original's parser, scripts/make_vlm_grid_corpus.py) and
// the JSON replies of the type, landmark and segmentation prompts.
#include <gtest/gtest.h>

#include <vector>

#include "guide/vlm_prompts.hpp"

namespace fresnel::guide {
namespace {

struct CorpusEntry {
  const char* name;
  int grid;
  const char* reply;
  bool has_grid;
  std::vector<float> values;
};

const std::vector<CorpusEntry>& corpus() {
  static const std::vector<CorpusEntry> entries = {
#include "vlm_grid_corpus.inc"
  };
  return entries;
}

TEST(GridParsing, CorpusMatchesTheOriginalParser) {
  ASSERT_GE(corpus().size(), 30u);
  int with_grid = 0;
  for (const auto& c : corpus()) {
    SCOPED_TRACE(c.name);
    const auto grid = parse_density_grid(c.reply, c.grid);
    ASSERT_EQ(grid.has_value(), c.has_grid);
    if (!grid) continue;
    ++with_grid;
    ASSERT_EQ(grid->size(), static_cast<size_t>(c.grid * c.grid));
    for (size_t i = 0; i < grid->size(); ++i) {
      EXPECT_FLOAT_EQ((*grid)[i], c.values[i]) << "cell " << i;
      EXPECT_GE((*grid)[i], 0.0f);
      EXPECT_LE((*grid)[i], 1.0f);
    }
  }
  EXPECT_GT(with_grid, 10);
  EXPECT_LT(with_grid, static_cast<int>(corpus().size()));  // the corpus has failures too
}

TEST(GridParsing, PromptAsksForTheGridSize) {
  for (int g : {4, 8, 16}) {
    const auto p = density_prompt(g);
    const std::string n = std::to_string(g) + "x" + std::to_string(g);
    EXPECT_NE(p.text.find("Divide the image into a " + n + " grid"), std::string::npos);
    EXPECT_NE(p.text.find("Output ONLY a " + n + " grid"), std::string::npos);
    EXPECT_EQ(p.max_tokens, 512);
  }
  EXPECT_TRUE(valid_grid_size(8));
  EXPECT_FALSE(valid_grid_size(5));
  EXPECT_EQ(image_type_prompt().max_tokens, 10);
  EXPECT_EQ(segmentation_prompt().max_tokens, 1024);
  EXPECT_EQ(depth_hints_prompt().max_tokens, 1024);
  EXPECT_EQ(quality_prompt().max_tokens, 512);
}

TEST(ImageType, FirstKeywordElseObject) {
  EXPECT_EQ(parse_image_type("Face"), "face");
  EXPECT_EQ(parse_image_type("  face.\n"), "face");
  EXPECT_EQ(parse_image_type("This is a scene with an animal"), "scene");  // keyword order, as the original
  EXPECT_EQ(parse_image_type("Animal"), "animal");
  EXPECT_EQ(parse_image_type("a portrait of a person"), "object");
  EXPECT_EQ(parse_image_type(""), "object");
  EXPECT_EQ(parse_image_type("SURFACE"), "face");  // substring match, as the original
}

TEST(FaceLandmarks, ParsesJsonInsideProseAndSkipsBadEntries) {
  const std::string reply =
      "Sure! Here are the landmarks:\n```json\n{\n  \"left_eye\": [0.35, 0.4, 1.0],\n  \"right_eye\": [0.65, 0.4, 1],\n"
      "  \"nose\": [0.5, 0.55],\n  \"mouth\": \"center\",\n  \"hair\": [0.5, 0.1, 0.5, \"extra\"]\n}\n```";
  auto l = parse_face_landmarks(reply);
  ASSERT_TRUE(l.has_value());
  ASSERT_EQ(l->size(), 3u);  // nose (2 values) and mouth (string) skipped
  std::map<std::string, Landmark> by_name;
  for (const auto& x : *l) by_name[x.name] = x;
  EXPECT_DOUBLE_EQ(by_name.at("left_eye").x, 0.35);
  EXPECT_DOUBLE_EQ(by_name.at("right_eye").importance, 1.0);
  EXPECT_DOUBLE_EQ(by_name.at("hair").y, 0.1);
  EXPECT_FALSE(parse_face_landmarks("no json here").has_value());
  EXPECT_FALSE(parse_face_landmarks("{\"left_eye\": [0.3,}").has_value());  // malformed
  EXPECT_FALSE(parse_face_landmarks("{\"note\": \"no face\"}").has_value());
}

TEST(Segments, ParsesArrayAndDefaults) {
  const std::string reply =
      "[{\"label\": \"face\", \"importance\": \"critical\", \"bbox\": [0.3, 0.1, 0.7, 0.5]},\n"
      " {\"label\": \"background\", \"bbox\": [0, 0, 1, 1]},\n"
      " {\"label\": \"broken\", \"importance\": \"low\", \"bbox\": [\"a\", 0, 1, 1]}, 7]";
  auto s = parse_segments(reply);
  ASSERT_TRUE(s.has_value());
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].label, "face");
  EXPECT_EQ((*s)[0].importance, "critical");
  EXPECT_DOUBLE_EQ((*s)[0].bbox[2], 0.7);
  EXPECT_EQ((*s)[1].importance, "medium");
  EXPECT_FALSE(parse_segments("I see a face.").has_value());
  auto depth = extract_json_array("Nearest first:\n[{\"name\": \"nose\", \"depth\": 0.1}]\nDone.");
  ASSERT_TRUE(depth.has_value());
  EXPECT_EQ((*depth)[0]["name"], "nose");
  auto quality = extract_json_object("```json\n{\"similarity\": 7, \"overall\": 6.6}\n```");
  ASSERT_TRUE(quality.has_value());
  EXPECT_DOUBLE_EQ((*quality)["overall"].get<double>(), 6.6);
}

}  // namespace
}  // namespace fresnel::guide
