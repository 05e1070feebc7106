// File-extension helpers shared by the format tables (Gaussian files in gaussian_io, images in image_io).
#pragma once
#include <string>
#include <vector>

namespace fresnel {

// The extension with its dot, lower case: "scene.PLY" → ".ply"; "" when there is none.
std::string lower_extension(const std::string& path);
// "a, b, c": lists of extensions or names in messages and help strings.
std::string join_list(const std::vector<std::string>& items);

}  // namespace fresnel
