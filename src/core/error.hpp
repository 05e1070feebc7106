// Errors that reach the user: one message naming the file or field, and an exit code.
#pragma once
#include <stdexcept>
#include <string>

namespace fresnel {

// Failure caused by input data or the environment (exit code 1).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Wrong command-line usage (exit code 2).
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& message) : Error(message) {}
};

// Builds "path: problem" messages consistently.
inline Error file_error(const std::string& path, const std::string& problem) { return Error(path + ": " + problem); }

}  // namespace fresnel
