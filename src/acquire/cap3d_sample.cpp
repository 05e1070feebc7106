#include "acquire/cap3d_sample.hpp"

#include <filesystem>

#include "acquire/archive_names.hpp"
#include "acquire/cap3d_source.hpp"
#include "acquire/mat_tensor.hpp"
#include "core/atomic_write.hpp"
#include "core/error.hpp"
#include "core/image_io.hpp"
#include "core/progress.hpp"

namespace fresnel::acquire {
namespace fs = std::filesystem;

SampleCap3dSummary sample_cap3d(const SampleCap3dOptions& o) {
  if (o.num_samples <= 0) throw UsageError("--num_samples must be positive");
  if (!is_safe_stem(o.prefix)) throw UsageError("--prefix must be a plain name of letters, digits, '.', '_', '-'");
  const Cap3dListing listing = list_cap3d_objects(o.input_dir);
  SampleCap3dSummary s;
  s.available = int64_t(listing.objects.size());
  s.unsafe = listing.unsafe_names;
  s.problems = listing.problems;
  ensure_directory(o.output_dir);
  Cap3dReader reader;
  Progress progress("sample-cap3d", std::min<int64_t>(o.num_samples, s.available), "img");
  for (size_t i : seeded_permutation(listing.objects.size(), o.seed)) {
    if (s.written + s.existing >= o.num_samples) break;
    const Cap3dObjectRef& ref = listing.objects[i];
    const std::string out = (fs::path(o.output_dir) / (o.prefix + "_" + ref.uid + ".png")).string();
    if (fs::exists(out)) {
      ++s.existing;
      progress.advance();
      continue;
    }
    cv::Mat rgb;  // decoded inside the try: a corrupt object is skipped, a failing write (disk full) stops the run
    try {
      const Cap3dObject obj = reader.open(ref);
      const std::vector<int> views = obj.views();
      // The seeded view first; blank renders are skipped in view order after it.
      const size_t first = mix_seed(o.seed ^ hash_string(ref.uid)) % views.size();
      int chosen = -1;
      for (size_t k = 0; k < views.size() && chosen < 0; ++k) {
        const int v = views[(first + k) % views.size()];
        if (!obj.info(v).blank) chosen = v;
      }
      if (chosen < 0) {
        ++s.blank;
        s.problems.push_back(ref.label() + ": every view is blank; skipped");
        continue;
      }
      rgb = obj.load(chosen).rgb;
    } catch (const Error& e) {
      ++s.corrupt;
      s.problems.push_back(std::string(e.what()) + "; skipped");
      continue;
    }
    save_image(out, mat_to_tensor(rgb));
    ++s.written;
    progress.advance();
  }
  progress.finish();
  return s;
}

}  // namespace fresnel::acquire
