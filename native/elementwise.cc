// Elementwise kernels (memory-bound): split into contiguous chunks over the pool.
#include <algorithm>

#include "runtime.h"

namespace peft {
namespace {

constexpr int64_t kChunk = 1 << 14;

template <typename F>
void for_chunks(int64_t n, F&& body) {
  int tasks = static_cast<int>((n + kChunk - 1) / kChunk);
  parallel_for(tasks, [&](int t) {
    int64_t i0 = t * kChunk;
    body(i0, std::min(n, i0 + kChunk));
  });
}

// axpy(dst, src, alpha, n): dst += alpha * src
Napi::Value Axpy(const Napi::CallbackInfo& info) {
  float* dst = f32_arg(info, 0);
  const float* src = f32_arg(info, 1);
  const float alpha = static_cast<float>(num_arg(info, 2));
  const int64_t n = int_arg(info, 3);
  for_chunks(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) dst[i] += alpha * src[i];
  });
  return info.Env().Undefined();
}

PEFT_EXPORT("axpy", Axpy);

}  // namespace
}  // namespace peft
