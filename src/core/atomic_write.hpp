// Writers never leave partial outputs: data goes to a temporary file beside the target, then rename().
#pragma once
#include <functional>
#include <iosfwd>
#include <string>

namespace fresnel {

// Calls `write` with a stream on "<path>.tmp.<pid>"; renames onto `path` only if `write` returns
// normally and the stream is good. Throws fresnel::Error naming `path` otherwise; the target is untouched.
void atomic_write(const std::string& path, const std::function<void(std::ostream&)>& write);

// Same for producers that need a file name (OpenCV, libtorch archives): `write` receives the temporary path.
void atomic_write_path(const std::string& path, const std::function<void(const std::string& tmp_path)>& write);

// Whole-file helpers.
void write_text_file(const std::string& path, const std::string& text);
std::string read_text_file(const std::string& path);

// Creates a directory and its parents; throws fresnel::Error on failure.
void ensure_directory(const std::string& path);

}  // namespace fresnel
