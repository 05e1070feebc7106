// Configuration structs list their fields once, in a static member template
//   template <class Self, class Visit> static void fields(Self& c, Visit&& visit) { visit("key", c.key); … }
// and these helpers derive JSON writing and reading from that one list, so a new field is saved, restored and
// round-trip tested by adding one line. std::optional fields are written as null when empty.
#pragma once
#include <optional>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace fresnel {

namespace field_detail {
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
nlohmann::json to_json_value(const T& v) {
  if constexpr (is_optional<T>::value)
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  else
    return nlohmann::json(v);
}
template <class T>
void from_json_value(const nlohmann::json& j, T& out) {
  if constexpr (is_optional<T>::value) {
    if (j.is_null())
      out.reset();
    else
      out = j.get<typename T::value_type>();
  } else {
    j.get_to(out);
  }
}
}  // namespace field_detail

template <class Config>
nlohmann::json fields_to_json(const Config& c) {
  nlohmann::json j = nlohmann::json::object();
  Config::fields(c, [&](const char* key, const auto& value) { j[key] = field_detail::to_json_value(value); });
  return j;
}

// Reads every field present in `j` (absent ones keep their value: older files predate newer fields). Throws
// fresnel::Error "`what`: field 'key' is malformed: …" naming the field.
template <class Config>
void fields_from_json(const nlohmann::json& j, Config& c, const std::string& what) {
  if (!j.is_object()) throw Error(what + ": expected a JSON object");
  Config::fields(c, [&](const char* key, auto& out) {
    if (!j.contains(key)) return;
    try {
      field_detail::from_json_value(j.at(key), out);
    } catch (const std::exception& e) {
      throw Error(what + ": field '" + key + "' is malformed: " + e.what());
    }
  });
}

}  // namespace fresnel
