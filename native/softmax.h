// Row softmax (max subtracted) and its backward dx = y·(dy − Σ dy·y), rows × cols, generic over V.
// Rows are independent and split over the pool; each row is three passes (max, exp and sum, scale), so out
// may even alias x.
#pragma once

#include <cstdint>

#include "parallel.h"
#include "vmath.h"

namespace peft {

struct SoftmaxTable {
  void (*softmax)(const float* x, float* out, int64_t rows, int64_t cols);
  void (*softmax_backward)(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols);
};
extern const SoftmaxTable kSoftmaxScalar, kSoftmaxAvx2, kSoftmaxAvx512;

namespace {
namespace softmax {

template <class V>
void softmax(const float* x, float* out, int64_t rows, int64_t cols) {
  for_ranges(rows, rows_per_task(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x + r * cols;
      float* o = out + r * cols;
      const auto max = V::set1(reduce_max<V>(xr, cols));
      const double sum = reduce_sum_long<V>(cols, [&](int64_t c, int n) {
        const auto e = keep_first<V>(vexp<V>(V::sub(load_first<V>(xr + c, n), max)), n, 0.f);
        store_first<V>(o + c, e, n);
        return e;
      });
      const auto inv = V::set1(static_cast<float>(1.0 / sum));
      for_vectors<V>(0, cols,
                     [&](int64_t c, int n) { store_first<V>(o + c, V::mul(load_first<V>(o + c, n), inv), n); });
    }
  });
}

template <class V>
void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols) {
  for_ranges(rows, rows_per_task(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const int64_t o = r * cols;
      const auto dot = V::set1(reduce_sum<V>(
          cols, [&](int64_t c, int n) { return V::mul(load_first<V>(dy + o + c, n), load_first<V>(y + o + c, n)); }));
      for_vectors<V>(0, cols, [&](int64_t c, int n) {
        const auto yv = load_first<V>(y + o + c, n);
        store_first<V>(dx + o + c, V::mul(yv, V::sub(load_first<V>(dy + o + c, n), dot)), n);
      });
    }
  });
}

}  // namespace softmax

template <class V>
constexpr SoftmaxTable softmax_table() {
  return {softmax::softmax<V>, softmax::softmax_backward<V>};
}

}  // namespace
}  // namespace peft
