// Sorts splats back to front on a background thread so the window keeps drawing (with the previous
// order) while a large scene is re-sorted after the camera moved. Only the newest request is kept.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/camera.hpp"

namespace fresnel::viewer {

class SortWorker {
 public:
  SortWorker();
  ~SortWorker();
  SortWorker(const SortWorker&) = delete;
  SortWorker& operator=(const SortWorker&) = delete;

  // New scene: positions with `stride` floats per splat (shared, read-only while sorting) and the candidate
  // indices to draw (the max-count subset). Cancels pending work.
  void set_scene(std::shared_ptr<const std::vector<float>> texels, int stride, std::vector<uint32_t> candidates,
                 uint64_t generation);
  // Asks for an order for this camera (replaces a request not yet started).
  void request(const Camera& camera);
  // A finished order, if one is ready since the last call; `generation` tells which scene it belongs to.
  struct Result {
    std::vector<uint32_t> order;
    uint64_t generation;
    double milliseconds;
  };
  std::optional<Result> take_result();

 private:
  void loop();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::shared_ptr<const std::vector<float>> texels_;
  std::shared_ptr<const std::vector<uint32_t>> candidates_;
  int stride_ = 4;
  uint64_t generation_ = 0;
  std::optional<Camera> pending_;
  std::optional<Result> result_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace fresnel::viewer
