// `fresnel sample-cap3d`: one composited view of each of `num_samples` Cap3D objects as `{prefix}_{uid}.png`
// (the seed's sample_cap3d.py, absent from the original repository; TRAINING_HOWTO "Step 0").
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fresnel::acquire {

struct SampleCap3dOptions {
  std::string input_dir, output_dir = "images/training_diverse", prefix = "cap3d";
  int64_t num_samples = 500;
  uint64_t seed = 42;
};

struct SampleCap3dSummary {
  int64_t available = 0;  // objects found
  int64_t written = 0, existing = 0;
  int64_t blank = 0, corrupt = 0, unsafe = 0;  // objects skipped, by reason
  std::vector<std::string> problems;           // one line per skipped object or unreadable zip
};

// Picks objects in a seeded order and one non-blank view of each (seeded per object), composites it on black and
// writes it atomically. Files already there count as done (a re-run resumes). Throws fresnel::UsageError on bad
// options, fresnel::Error when the input has no zips.
SampleCap3dSummary sample_cap3d(const SampleCap3dOptions& options);

}  // namespace fresnel::acquire
