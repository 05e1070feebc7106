#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cctype>
#include <filesystem>

#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/image_io.hpp"
#include "testutil/testutil.hpp"

using namespace fresnel;

TEST(AtomicWrite, FailureLeavesExistingFileUntouched) {
  test::TempDir dir;
  const auto path = dir.file("out.txt");
  write_text_file(path, "original");
  EXPECT_THROW(atomic_write(path,
                            [](std::ostream& out) {
                              out << "partial";
                              throw Error("simulated failure");
                            }),
               Error);
  EXPECT_EQ(read_text_file(path), "original");
  // No temporary files are left behind.
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST(ImageIo, PngRoundTripIsExactAt8Bits) {
  test::TempDir dir;
  auto img = torch::randint(0, 256, {7, 9, 3}).to(torch::kFloat32) / 255.0;
  save_image(dir.file("a.png"), img);
  auto back = load_image(dir.file("a.png"));
  ASSERT_EQ(back.sizes(), img.sizes());
  EXPECT_LT(test::max_abs_diff(back, img), 1e-6);
}

TEST(ImageIo, AlphaIsKeptWhenAsked) {
  test::TempDir dir;
  auto img = torch::rand({4, 5, 4});
  save_image(dir.file("a.png"), img);
  EXPECT_EQ(load_image(dir.file("a.png"), true).size(2), 4);
  EXPECT_EQ(load_image(dir.file("a.png"), false).size(2), 3);
}

TEST(ImageIo, EveryImageExtensionIsRecognisedInAnyCaseAndListed) {
  const std::string listed = supported_image_extensions();
  for (const auto& ext : image_extensions()) {
    EXPECT_TRUE(is_image_file("photos/a" + ext)) << ext;
    std::string upper = ext;
    for (auto& c : upper) c = char(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_TRUE(is_image_file("A" + upper)) << upper;
    EXPECT_NE(listed.find(ext), std::string::npos) << listed;
  }
  EXPECT_FALSE(is_image_file("scene.ply"));
  EXPECT_FALSE(is_image_file("png"));  // a name, not an extension
}

TEST(ImageIo, MissingAndCorruptFilesNameThePath) {
  test::TempDir dir;
  try {
    load_image(dir.file("missing.png"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.png"), std::string::npos);
  }
  test::write_bytes(dir.file("bad.png"), "\x89PNG garbage");
  EXPECT_THROW(load_image(dir.file("bad.png")), Error);
}

TEST(ImageIo, ResizeFiltersPreserveConstantImages) {
  auto img = torch::full({16, 16, 3}, 0.25f);
  for (auto f : {ResizeFilter::Bilinear, ResizeFilter::Area, ResizeFilter::Lanczos, ResizeFilter::Nearest}) {
    auto r = resize_image(img, 7, 5, f);
    ASSERT_EQ(r.sizes(), (std::vector<int64_t>{5, 7, 3}));
    EXPECT_LT(test::max_abs_diff(r, torch::full({5, 7, 3}, 0.25f)), 1e-5);
  }
  // Area downsampling by 2 averages 2×2 blocks exactly.
  auto ramp = torch::arange(16, torch::kFloat32).reshape({4, 4, 1});
  auto half = resize_image(ramp, 2, 2, ResizeFilter::Area);
  EXPECT_NEAR(half[0][0][0].item<float>(), (0 + 1 + 4 + 5) / 4.0f, 1e-5);
}
