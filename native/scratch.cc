// Scratch buffers of parallel.h: per thread (thread_local, freed when a pool thread exits) and per call.
#include <cstdlib>

#include "parallel.h"

namespace peft {
namespace {

class Buffer {
 public:
  ~Buffer() { std::free(data_); }
  float* get(size_t n) {
    if (n > size_) {
      std::free(data_);
      // Grow geometrically so that a slowly rising size does not reallocate on every call.
      size_t want = n > size_ + size_ / 2 ? n : size_ + size_ / 2;
      size_t bytes = (want * sizeof(float) + 63) / 64 * 64;
      data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!data_) {
        size_ = 0;
        throw std::bad_alloc();
      }
      size_ = bytes / sizeof(float);
    }
    return data_;
  }

 private:
  float* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace

float* thread_scratch(size_t n) {
  thread_local Buffer buffer;
  return buffer.get(n);
}

float* call_scratch(size_t n) {
  static Buffer buffer;
  return buffer.get(n);
}

}  // namespace peft
