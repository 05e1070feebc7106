// Names taken from archives and servers become file names only through these checks, so nothing read from a zip
// or a dataset can write outside the output folder.
#pragma once
#include <string>

namespace fresnel::acquire {

// True when `entry_name` is a relative path with no "..", no empty or "." components, no backslash and no
// control characters.
bool is_safe_entry_name(const std::string& entry_name);
// True for a plain file-name stem: 1-200 characters from [A-Za-z0-9._-], not starting with '.'.
bool is_safe_stem(const std::string& stem);
// The last component of an entry name without its extension ("Cap3D_ABO_renderimgs/B07.zip" → "B07").
std::string entry_stem(const std::string& entry_name);
// Lower-case extension with the dot of the last component ("a/b.ZIP" → ".zip"), or "".
std::string entry_extension(const std::string& entry_name);

}  // namespace fresnel::acquire
