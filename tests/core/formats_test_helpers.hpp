// Shared by the test_formats_*.cpp files: random Gaussians and hand-built PLY files.
#pragma once
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/gaussians.hpp"
#include "testutil/testutil.hpp"

namespace fresnel::test {

// n random valid Gaussians; sh_degree < 0 gives plain RGB colours.
inline Gaussians random_gaussians(int64_t n, int sh_degree = -1, bool phases = false, uint64_t seed = 7) {
  torch::manual_seed(seed);
  Gaussians g;
  g.means = torch::randn({n, 3});
  g.quats = torch::randn({n, 4});
  g.quats = g.quats / g.quats.norm(2, -1, true);
  g.scales = torch::exp(torch::randn({n, 3}) * 0.5 - 3.0);
  g.opacities = torch::rand({n}) * 0.98 + 0.01;
  g.colors = sh_degree < 0 ? torch::rand({n, 3}) : torch::randn({n, sh_coeffs_for_degree(sh_degree), 3}) * 0.3;
  if (phases) g.phases = torch::rand({n, 3}) * 6.28;
  return g;
}

// Bytes of one little-endian scalar of PLY type `type` ("float", "double", "uchar", "int").
inline std::string ply_scalar_bytes(const std::string& type, double v) {
  std::string s;
  auto put = [&](const void* p, size_t n) { s.append(static_cast<const char*>(p), n); };
  if (type == "float") {
    float f = float(v);
    put(&f, 4);
  } else if (type == "double") {
    put(&v, 8);
  } else if (type == "uchar") {
    uint8_t u = uint8_t(v);
    put(&u, 1);
  } else if (type == "int") {
    int32_t i = int32_t(v);
    put(&i, 4);
  } else
    ADD_FAILURE() << "test helper: unsupported type " << type;
  return s;
}

struct PlyProp {
  std::string type, name;
};

// A PLY file built by hand: header with `declared_count` vertices, then the rows (binary or ASCII).
inline std::string make_ply(const std::string& format, const std::vector<PlyProp>& props,
                            const std::vector<std::vector<double>>& rows, int64_t declared_count = -1) {
  std::string s = "ply\nformat " + format + " 1.0\ncomment made by a test\nelement vertex " +
                  std::to_string(declared_count >= 0 ? declared_count : int64_t(rows.size())) + "\n";
  for (const auto& p : props) s += "property " + p.type + " " + p.name + "\n";
  s += "end_header\n";
  for (const auto& r : rows) {
    for (size_t i = 0; i < props.size(); ++i) {
      if (format == "ascii") {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", r[i]);
        s += buf;
        s += i + 1 < props.size() ? " " : "\n";
      } else {
        s += ply_scalar_bytes(props[i].type, r[i]);
      }
    }
  }
  return s;
}

// Runs f, expects a fresnel::Error whose message contains every string in `parts`.
template <class F>
void expect_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected a fresnel::Error containing '" << parts.front() << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "message: " << msg << "\nmissing: " << p;
  }
}

}  // namespace fresnel::test
