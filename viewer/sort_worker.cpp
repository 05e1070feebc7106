#include "sort_worker.hpp"

#include <chrono>

#include "depth_sort.hpp"

namespace fresnel::viewer {

SortWorker::SortWorker() : thread_([this] { loop(); }) {}

SortWorker::~SortWorker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void SortWorker::set_scene(std::shared_ptr<const std::vector<float>> texels, int stride,
                           std::vector<uint32_t> candidates, uint64_t generation) {
  std::lock_guard<std::mutex> lock(mutex_);
  texels_ = std::move(texels);
  stride_ = stride;
  candidates_ = std::make_shared<const std::vector<uint32_t>>(std::move(candidates));
  generation_ = generation;
  pending_.reset();
  result_.reset();
}

void SortWorker::request(const Camera& camera) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_ = camera;
  }
  wake_.notify_all();
}

std::optional<SortWorker::Result> SortWorker::take_result() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::optional<Result> r = std::move(result_);
  result_.reset();
  return r;
}

void SortWorker::loop() {
  std::vector<uint32_t> order;
  for (;;) {
    Camera cam;
    std::shared_ptr<const std::vector<float>> texels;
    std::shared_ptr<const std::vector<uint32_t>> candidates;
    int stride;
    uint64_t generation;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || pending_.has_value(); });
      if (stop_) return;
      cam = *pending_;
      pending_.reset();
      texels = texels_;
      candidates = candidates_;
      stride = stride_;
      generation = generation_;
    }
    const auto t0 = std::chrono::steady_clock::now();
    order.clear();
    if (texels && candidates) {
      const double row[4] = {cam.world_to_camera[8], cam.world_to_camera[9], cam.world_to_camera[10],
                             cam.world_to_camera[11]};
      sort_back_to_front(texels->data(), stride, *candidates, row, cam.near_plane, order);
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::lock_guard<std::mutex> lock(mutex_);
    if (generation == generation_) result_ = Result{order, generation, ms};
  }
}

}  // namespace fresnel::viewer
