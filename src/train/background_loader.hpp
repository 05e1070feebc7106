// Loads the items of one epoch (batches of any trainer) in background threads, in a fixed order, keeping at most
// `prefetch` items ready: the loading half of the training loop that every trainer shares. Item i is made by
// `load(i)`, which must be thread-safe; the items come out in order 0, 1, … whatever thread made them, so a run
// is repeatable with any number of workers.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "core/error.hpp"

namespace fresnel::train {

template <class Item>
class BackgroundLoader {
 public:
  BackgroundLoader(int64_t count, std::function<Item(int64_t)> load, int num_workers, int prefetch = 4)
      : load_(std::move(load)), count_(count), prefetch_(std::max(1, prefetch)) {
    for (int i = 0; i < std::max(1, num_workers); ++i) threads_.emplace_back([this] { work(); });
  }
  ~BackgroundLoader() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  BackgroundLoader(const BackgroundLoader&) = delete;
  BackgroundLoader& operator=(const BackgroundLoader&) = delete;

  int64_t size() const { return count_; }
  // Item i in order (blocks until loaded). Rethrows a loading error.
  Item next() {
    std::unique_lock<std::mutex> lock(mu_);
    if (next_to_take_ >= count_) throw Error("background loader: no more items in this epoch");
    cv_.wait(lock, [&] { return error_ || ready_.count(next_to_take_) > 0; });
    if (ready_.count(next_to_take_) == 0 && error_) std::rethrow_exception(error_);
    Item item = std::move(ready_.at(next_to_take_));
    ready_.erase(next_to_take_);
    ++next_to_take_;
    lock.unlock();
    cv_.notify_all();
    return item;
  }

 private:
  void work() {
    for (;;) {
      int64_t i;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] {
          return stop_ || error_ || (next_to_load_ < count_ && next_to_load_ - next_to_take_ < prefetch_);
        });
        if (stop_ || error_ || next_to_load_ >= count_) return;
        i = next_to_load_++;
      }
      try {
        Item item = load_(i);
        std::lock_guard<std::mutex> lock(mu_);
        ready_.emplace(i, std::move(item));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu_);
        if (!error_) error_ = std::current_exception();
      }
      cv_.notify_all();
    }
  }

  std::function<Item(int64_t)> load_;
  int64_t count_;
  int prefetch_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t next_to_load_ = 0, next_to_take_ = 0;
  std::map<int64_t, Item> ready_;
  std::exception_ptr error_;
  bool stop_ = false;
};

}  // namespace fresnel::train
