#include "cli/unknown_command.hpp"

namespace fresnel::cli {

namespace {

std::vector<const CLI::App*> subcommands(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App*) { return true; });
}

}  // namespace

std::optional<std::string> unknown_command(const CLI::App& app, int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") return std::nullopt;  // everything after it is positional; leave it to CLI11
    if (arg.size() > 1 && arg[0] == '-') {
      // A main-app option: its value is the next word unless attached (--threads=4). Unknown options are
      // left to CLI11's own error.
      const auto eq = arg.find('=');
      const CLI::Option* opt = app.get_option_no_throw(arg.substr(0, eq));
      if (opt != nullptr && eq == std::string::npos && opt->get_items_expected_min() > 0) ++i;
      continue;
    }
    for (const CLI::App* sub : subcommands(app))
      if (sub->check_name(arg)) return std::nullopt;
    return arg;
  }
  return std::nullopt;
}

std::string command_names(const CLI::App& app) {
  std::string names;
  for (const CLI::App* sub : subcommands(app)) names += (names.empty() ? "" : ", ") + sub->get_name();
  return names;
}

}  // namespace fresnel::cli
