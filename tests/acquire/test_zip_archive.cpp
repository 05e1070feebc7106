#include <gtest/gtest.h>

#include "acquire/cap3d_fixture.hpp"
#include "acquire/zip_archive.hpp"
#include "core/error.hpp"

using namespace fresnel;
using namespace fresnel::acquire;

TEST(ZipArchive, ReadsFilesAndNestedZipsInMemory) {
  test::TempDir tmp;
  const std::string inner =
      test::make_zip({{"a.txt", "hello"}, {"dir/b.bin", std::string(5000, 'x')}}, tmp.file("inner.zip"));
  test::make_zip({{"objs/inner.zip", inner}, {"c.txt", "outer"}}, tmp.file("outer.zip"), /*store=*/true);
  const ZipArchive outer = ZipArchive::open_file(tmp.file("outer.zip"));
  ASSERT_EQ(outer.entries().size(), 2u);
  const ZipEntry* e = outer.find("objs/inner.zip");
  ASSERT_NE(e, nullptr);
  const ZipArchive nested = ZipArchive::open_bytes(outer.read(*e), "outer.zip: objs/inner.zip");
  EXPECT_EQ(nested.read(*nested.find("a.txt")), "hello");
  EXPECT_EQ(nested.read(*nested.find("dir/b.bin")), std::string(5000, 'x'));
  EXPECT_EQ(nested.find("missing"), nullptr);
}

TEST(ZipArchive, CorruptTruncatedAndOversizedAreClearErrors) {
  test::TempDir tmp;
  const std::string bytes = test::make_zip({{"a.txt", std::string(100000, 'y')}}, tmp.file("a.zip"));
  test::write_bytes(tmp.file("cut.zip"), bytes.substr(0, bytes.size() / 2));
  try {
    ZipArchive::open_file(tmp.file("cut.zip"));
    FAIL() << "truncated zip opened";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cut.zip"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ZipArchive::open_bytes("not a zip at all", "junk"), Error);
  EXPECT_THROW(ZipArchive::open_file(tmp.file("missing.zip")), Error);
  const ZipArchive a = ZipArchive::open_file(tmp.file("a.zip"));
  try {
    a.read(a.entries()[0], 1000);
    FAIL() << "size limit not enforced";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("exceeds"), std::string::npos) << e.what();
  }
  // Flip bytes inside the compressed data: the CRC or inflate must catch it.
  std::string damaged = bytes;
  for (size_t i = 60; i < 90; ++i) damaged[i] = char(damaged[i] ^ 0x5a);
  const ZipArchive d = ZipArchive::open_bytes(damaged, "damaged");
  EXPECT_THROW(d.read(d.entries()[0]), Error);
}
