#include <gtest/gtest.h>

#include "acquire/archive_names.hpp"

using namespace fresnel::acquire;

TEST(ArchiveNames, EntryNamesThatCouldEscapeAreRejected) {
  EXPECT_TRUE(is_safe_entry_name("Cap3D_ABO_renderimgs/B07B4DBBVX.zip"));
  EXPECT_TRUE(is_safe_entry_name("00000.png"));
  for (const char* bad :
       {"../escape.zip", "a/../../b.zip", "/etc/passwd", "a//b", "./a", "a/..", "a\\..\\b", "", "C:evil.zip", "a\nb"})
    EXPECT_FALSE(is_safe_entry_name(bad)) << bad;
}

TEST(ArchiveNames, StemsAndExtensions) {
  EXPECT_EQ(entry_stem("Cap3D_ABO_renderimgs/B07B4DBBVX.zip"), "B07B4DBBVX");
  EXPECT_EQ(entry_stem("x.tar.zip"), "x.tar");
  EXPECT_EQ(entry_extension("a/B.ZIP"), ".zip");
  EXPECT_EQ(entry_extension("a/.zip"), "");
  EXPECT_TRUE(is_safe_stem("ed51a51909ee46c780db3a85e821feb2"));
  for (const char* bad : {"", ".hidden", "a b", "a/b", "..", "x;rm"}) EXPECT_FALSE(is_safe_stem(bad)) << bad;
}
