// The Gaussian file format table (core/gaussian_io.hpp): every lookup, check and help string is derived from it,
// so these tests walk the rows rather than naming formats.
#include <cctype>
#include <filesystem>
#include <set>

#include "core/file_extension.hpp"
#include "core/gaussian_io.hpp"
#include "formats_test_helpers.hpp"

using namespace fresnel;
using fresnel::test::expect_error;

namespace {

std::string upper(std::string s) {
  for (auto& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

TEST(GaussianFormatTable, RowsHaveDistinctNamesAndLowerCaseDottedExtensions) {
  std::set<std::string> names, extensions;
  for (const auto& f : gaussian_formats()) {
    EXPECT_TRUE(names.insert(f.name).second) << "duplicate name " << f.name;
    EXPECT_TRUE(extensions.insert(f.extension).second) << "duplicate extension " << f.extension;
    ASSERT_GE(f.extension.size(), 2u);
    EXPECT_EQ(f.extension[0], '.');
    EXPECT_EQ(lower_extension("scene" + f.extension), f.extension) << "lower case";
    EXPECT_FALSE(f.description.empty()) << f.name;
  }
  EXPECT_EQ(gaussian_formats().size(), names.size());
}

TEST(GaussianFormatTable, EveryExtensionAndNameLooksUpItsOwnRow) {
  for (const auto& f : gaussian_formats()) {
    EXPECT_EQ(&gaussian_format_for_path("some/dir/scene" + f.extension), &f) << f.extension;
    EXPECT_EQ(&gaussian_format_for_path("SCENE" + upper(f.extension)), &f) << "extensions are case-insensitive";
    EXPECT_EQ(&gaussian_format_named(f.name), &f) << f.name;
    EXPECT_TRUE(is_gaussian_file("scene" + f.extension));
  }
  EXPECT_FALSE(is_gaussian_file("scene.obj"));
  EXPECT_FALSE(is_gaussian_file("scene"));
}

TEST(GaussianFormatTable, EveryReadableAndWritableFormatRoundTripsThroughItsExtension) {
  test::TempDir dir;
  const Gaussians g = test::random_gaussians(12);
  for (const auto& f : gaussian_formats()) {
    ASSERT_TRUE(f.read && f.write) << f.name;
    save_gaussians(dir.file("g" + f.extension), g);
    const Gaussians r = load_gaussians(dir.file("g" + f.extension));
    EXPECT_EQ(r.count(), 12) << f.name;
  }
}

TEST(GaussianFormatTable, UnknownExtensionErrorsNameTheFileAndTheSupportedExtensions) {
  test::TempDir dir;
  std::vector<std::string> expected = {"some/dir/scene.obj", "'.obj'"};
  for (const auto& f : gaussian_formats()) expected.push_back(f.extension);
  expect_error([] { gaussian_format_for_path("some/dir/scene.obj"); }, expected);
  expect_error([&] { load_gaussians(dir.file("x.obj")); }, {"x.obj", "unknown Gaussian file extension"});
  expect_error([&] { save_gaussians(dir.file("y.txt"), test::random_gaussians(2)); }, {"y.txt", "'.txt'"});
  EXPECT_FALSE(std::filesystem::exists(dir.file("y.txt")));
}

TEST(GaussianFormatTable, UnknownFormatNameIsAUsageErrorListingTheNames) {
  try {
    gaussian_format_named("obj");
    ADD_FAILURE() << "expected a UsageError";
  } catch (const UsageError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'obj'"), std::string::npos) << msg;
    for (const auto& f : gaussian_formats()) EXPECT_NE(msg.find(f.name), std::string::npos) << msg;
  }
}

TEST(GaussianFormatTable, HelpStringsListEveryFormatInTableOrder) {
  const std::string help = gaussian_formats_help(), exts = supported_gaussian_extensions();
  size_t help_at = 0, exts_at = 0;
  std::vector<std::string> names;
  for (const auto& f : gaussian_formats()) {
    const size_t h = help.find(f.extension + " (" + f.description + ")");
    ASSERT_NE(h, std::string::npos) << help;
    EXPECT_GE(h, help_at) << "order: " << help;
    help_at = h;
    const size_t e = exts.find(f.extension);
    ASSERT_NE(e, std::string::npos) << exts;
    EXPECT_GE(e, exts_at) << "order: " << exts;
    exts_at = e;
    names.push_back(f.name);
  }
  EXPECT_EQ(gaussian_format_names(), names);
}
