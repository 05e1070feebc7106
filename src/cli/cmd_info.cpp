// `fresnel info FILE`: what a Gaussian file holds — count, bounds, SH degree, scale/opacity statistics and
// how many values are NaN/Inf or otherwise invalid. Reads leniently so that broken files can be inspected.
#include <torch/torch.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "cli/file_checks.hpp"
#include "core/error.hpp"
#include "core/gaussian_io.hpp"

namespace fresnel::cli {

namespace {

struct Stats {
  int64_t n = 0;  // finite values considered
  double min = 0, median = 0, max = 0;
};

Stats finite_stats(const torch::Tensor& t) {
  const auto v = t.reshape({-1}).masked_select(torch::isfinite(t.reshape({-1}))).to(torch::kFloat64);
  Stats s;
  s.n = v.numel();
  if (s.n == 0) return s;
  s.min = v.min().item<double>();
  s.max = v.max().item<double>();
  s.median = v.median().item<double>();
  return s;
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v + 0.0);  // + 0.0 turns −0 into 0
  return buf;
}

std::string stats_line(const Stats& s) {
  if (s.n == 0) return "n/a (no finite values)";
  return "min " + fmt(s.min) + "  median " + fmt(s.median) + "  max " + fmt(s.max);
}

nlohmann::json stats_json(const Stats& s) {
  if (s.n == 0) return nullptr;
  return {{"min", s.min}, {"median", s.median}, {"max", s.max}};
}

}  // namespace

void register_info(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Summarise a Gaussian file: count, bounds, SH degree, statistics, NaN count");
  auto file = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("FILE", *file, "Gaussian file: " + gaussian_formats_help())->required()->check(gaussian_file_check());
  cmd->add_flag("--json", *as_json, "Print the summary as one JSON object");
  set_guarded_callback(cmd, [file, as_json] {
    GaussianLoadOptions lenient;
    lenient.allow_invalid = true;
    const Gaussians g = load_gaussians(*file, lenient);
    const int64_t n = g.count();

    // Non-finite values over every field, and how many Gaussians have at least one.
    int64_t bad_values = 0;
    auto bad_rows = torch::zeros({n}, torch::kBool);
    for (const auto* t : {&g.means, &g.quats, &g.scales, &g.opacities, &g.colors, &g.phases}) {
      if (!t->defined() || n == 0) continue;
      const auto nf = ~torch::isfinite(*t);
      bad_values += nf.sum().item<int64_t>();
      bad_rows |= nf.reshape({n, -1}).any(1);
    }
    const auto finite_rows = torch::isfinite(g.means).all(1);
    const auto finite_means = g.means.index({finite_rows});
    const int64_t nonpositive_scales = (g.scales <= 0).any(1).sum().item<int64_t>();
    const int64_t bad_opacity = ((g.opacities < 0) | (g.opacities > 1)).sum().item<int64_t>();
    const int64_t zero_quats = (g.quats.norm(2, -1) < 1e-12).sum().item<int64_t>();
    const Stats scale = finite_stats(g.scales), opacity = finite_stats(g.opacities);
    const Stats max_scale = n > 0 ? finite_stats(std::get<0>(g.scales.max(1))) : Stats{};
    const std::string colors = g.has_sh() ? "SH, " + std::to_string(g.colors.size(-2)) + " coefficients" : "RGB";

    std::vector<double> lo(3, 0), hi(3, 0);
    if (finite_means.size(0) > 0)
      for (int a = 0; a < 3; ++a) {
        lo[a] = finite_means.select(1, a).min().item<double>();
        hi[a] = finite_means.select(1, a).max().item<double>();
      }

    if (*as_json) {
      nlohmann::json j = {{"file", *file},
                          {"count", n},
                          {"sh_degree", g.sh_degree()},
                          {"colors", colors},
                          {"phases", g.has_phases()},
                          {"bounds_min", finite_means.size(0) ? nlohmann::json(lo) : nlohmann::json(nullptr)},
                          {"bounds_max", finite_means.size(0) ? nlohmann::json(hi) : nlohmann::json(nullptr)},
                          {"scale", stats_json(scale)},
                          {"max_scale_per_gaussian", stats_json(max_scale)},
                          {"opacity", stats_json(opacity)},
                          {"non_finite_values", bad_values},
                          {"gaussians_with_non_finite", bad_rows.sum().item<int64_t>()},
                          {"nonpositive_scales", nonpositive_scales},
                          {"opacity_outside_0_1", bad_opacity},
                          {"zero_quaternions", zero_quats}};
      std::cout << j.dump(2) << std::endl;
      return;
    }
    auto vec = [](const std::vector<double>& v) { return "(" + fmt(v[0]) + ", " + fmt(v[1]) + ", " + fmt(v[2]) + ")"; };
    std::cout << "file:           " << *file << "\n"
              << "count:          " << n << "\n"
              << "sh degree:      " << g.sh_degree() << " (" << colors << ")\n"
              << "phases:         " << (g.has_phases() ? "yes" : "no") << "\n"
              << "bounds:         "
              << (finite_means.size(0) ? "min " + vec(lo) + "  max " + vec(hi) : std::string("n/a")) << "\n"
              << "scale:          " << stats_line(scale) << "\n"
              << "largest axis:   " << stats_line(max_scale) << "\n"
              << "opacity:        " << stats_line(opacity) << "\n"
              << "NaN/Inf values: " << bad_values << " (in " << bad_rows.sum().item<int64_t>() << " Gaussians)\n";
    if (nonpositive_scales || bad_opacity || zero_quats)
      std::cout << "invalid:        " << nonpositive_scales << " with scale <= 0, " << bad_opacity
                << " with opacity outside [0,1], " << zero_quats << " zero quaternions\n";
    std::cout.flush();
  });
}

}  // namespace fresnel::cli
