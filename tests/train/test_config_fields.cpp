// Every field of the training configurations round-trips through JSON: each field is changed from its default by
// a visitor over the same field table that writing and reading use, so a field missing from the table fails here.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>
#include <type_traits>

#include "core/error.hpp"
#include "core/field_table.hpp"
#include "train/trainer.hpp"

using namespace fresnel;
using namespace fresnel::train;

namespace {

struct IgnoreField {
  template <class V>
  void operator()(const char*, V&) const {}
};
template <class T, class = void>
struct has_fields : std::false_type {};
template <class T>
struct has_fields<T, std::void_t<decltype(T::fields(std::declval<T&>(), IgnoreField{}))>> : std::true_type {};

// Valid non-default values for fields whose values are checked.
const std::map<std::string, std::string> kStringAlternatives = {
    {"encoder", "builtin"}, {"depth_mode", "metric"}, {"decoder_depth", "data"}, {"device", "cpu"}, {"depth_head", "fine"}};

struct Mutator {
  std::set<std::string> skip;
  template <class T>
  void operator()(const char* key, T& v) const {
    if (skip.count(key)) return;
    if constexpr (has_fields<T>::value) {
      T::fields(v, *this);
    } else if constexpr (std::is_same_v<T, bool>) {
      v = !v;
    } else if constexpr (std::is_enum_v<T>) {
      v = static_cast<T>(static_cast<int>(v) + 1);
    } else if constexpr (std::is_integral_v<T>) {
      v += 3;
    } else if constexpr (std::is_floating_point_v<T>) {
      v += 0.125;
    } else if constexpr (std::is_same_v<T, std::string>) {
      auto it = kStringAlternatives.find(key);
      v = it != kStringAlternatives.end() ? it->second : v + "_changed";
    } else if constexpr (std::is_same_v<T, std::optional<int>> || std::is_same_v<T, std::optional<int64_t>>) {
      v = 17;
    } else {
      for (auto& x : v) x += 1;  // arrays and vectors
    }
  }
};

// Every leaf key of `changed` differs from `original` (so the mutator reached every field).
void expect_every_leaf_differs(const nlohmann::json& original, const nlohmann::json& changed, const std::string& at,
                               const std::set<std::string>& skip) {
  for (auto it = changed.begin(); it != changed.end(); ++it) {
    if (skip.count(it.key())) continue;
    if (it.value().is_object())
      expect_every_leaf_differs(original.at(it.key()), it.value(), at + it.key() + ".", skip);
    else
      EXPECT_NE(original.at(it.key()), it.value()) << at + it.key() << " was not changed by the field visitor";
  }
}

template <class Config>
void expect_round_trip(const std::set<std::string>& skip = {}) {
  Config c;
  const nlohmann::json defaults = fields_to_json(c);
  Config::fields(c, Mutator{skip});
  const nlohmann::json changed = fields_to_json(c);
  expect_every_leaf_differs(defaults, changed, "", skip);
  Config back;
  fields_from_json(changed, back, "test");
  EXPECT_EQ(fields_to_json(back), changed);
}

}  // namespace

TEST(ConfigFields, LossConfigRoundTrips) { expect_round_trip<LossConfig>(); }
TEST(ConfigFields, HftsOptionsRoundTrip) { expect_round_trip<HftsOptions>(); }
TEST(ConfigFields, LoopOptionsRoundTrip) { expect_round_trip<LoopOptions>(); }
// The decoder kind must stay valid with pixel_aligned changed: it gets its own check below.
TEST(ConfigFields, ModelConfigRoundTrips) { expect_round_trip<ModelConfig>({"experiment", "device"}); }
TEST(ConfigFields, TrainConfigRoundTrips) { expect_round_trip<TrainConfig>({"experiment", "device"}); }

TEST(ConfigFields, DecoderKindIsSavedAsTheExperimentNumber) {
  ModelConfig c;
  c.kind = decode::DecoderKind::FeatureGuidedSaag;
  EXPECT_EQ(c.to_json().at("experiment"), 3);
  EXPECT_EQ(ModelConfig::from_json(c.to_json()).kind, decode::DecoderKind::FeatureGuidedSaag);
  auto bad = c.to_json();
  bad["experiment"] = 7;
  try {
    ModelConfig::from_json(bad);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("experiment"), std::string::npos) << e.what();
  }
}

TEST(ConfigFields, MalformedFieldIsNamed) {
  auto j = TrainConfig{}.to_json();
  j["loss"]["ssim_weight"] = "heavy";
  try {
    TrainConfig::from_json(j);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ssim_weight"), std::string::npos) << e.what();
  }
}

TEST(ConfigFields, OptionalFieldsAreNullWhenEmpty) {
  HftsOptions h;
  auto j = fields_to_json(h);
  EXPECT_TRUE(j.at("stochastic_k").is_null());
  h.stochastic_k = 256;
  HftsOptions back;
  back.stochastic_k = 5;
  fields_from_json(fields_to_json(h), back, "hfts");
  EXPECT_EQ(back.stochastic_k, std::optional<int64_t>(256));
  fields_from_json(j, back, "hfts");
  EXPECT_FALSE(back.stochastic_k.has_value());
}
