#include "render/screen_filter.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "core/error.hpp"

namespace fresnel {

ScreenFilter parse_screen_filter(const std::string& text) {
  const auto colon = text.find(':');
  const std::string kind = text.substr(0, colon);
  ScreenFilter f;
  if (kind == "dilation")
    f = ScreenFilter::dilation();
  else if (kind == "mip")
    f = ScreenFilter::mip();
  else
    throw UsageError("screen filter '" + text + "': expected dilation, mip, dilation:V or mip:V (V in pixels²)");
  if (colon != std::string::npos) {
    const std::string value = text.substr(colon + 1);
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != value.size() || !std::isfinite(v) || !(v > 0) || v > 100)
      throw UsageError("screen filter '" + text + "': the variance must be a number in (0, 100] pixels²");
    f.variance_px2 = v;
  }
  return f;
}

std::string screen_filter_name(const ScreenFilter& f) {
  // The shortest decimal that reads back as the same double ("mip:0.1", not "mip:0.10000000000000001").
  char buf[64];
  for (int digits = 6; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, f.variance_px2);
    if (std::strtod(buf, nullptr) == f.variance_px2) break;
  }
  return std::string(f.is_mip() ? "mip:" : "dilation:") + buf;
}

}  // namespace fresnel
