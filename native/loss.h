// Cross-entropy over rows of logits [rows, V] (V up to a vocabulary of ~150k), generic over the vector V.
//
//   lse[r] = max + log Σ exp(x − max);  loss[r] = lse[r] − x[label]  (0 where label = ignoreIndex)
//   dlogits = scale · (exp(x − lse) − onehot(label)), zero rows where ignored; dlogits may alias logits.
// One row per task. The forward reads a row once (rows of 200-600 KB come from DRAM): per 1024-element
// block (4 KB, then in L1) its max, the running sum moved to a new max by one scalar exp, and the block's
// exp-sum. Sums are float32 within a block and float64 across blocks; lse and the label's terms are formed
// in float64.
#pragma once

#include <cmath>
#include <cstdint>

#include "parallel.h"
#include "vmath.h"

namespace peft {

struct LossTable {
  void (*cross_entropy)(const float* logits, const int32_t* labels, float* loss, float* lse, int64_t rows,
                        int64_t vocab, int32_t ignore_index);
  void (*cross_entropy_backward)(const float* logits, const int32_t* labels, const float* lse, float* dlogits,
                                 int64_t rows, int64_t vocab, int32_t ignore_index, float scale);
};
extern const LossTable kLossScalar, kLossAvx2, kLossAvx512;

namespace {
namespace loss {

/** log Σ exp(x) of one row, in one pass over memory. */
template <class V>
double log_sum_exp(const float* x, int64_t n) {
  constexpr int64_t kBlock = 1024;
  float m = -INFINITY;
  double sum = 0;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t len = n - b < kBlock ? n - b : kBlock;
    const float bm = reduce_max<V>(x + b, len);
    if (bm > m) {
      sum *= std::exp(static_cast<double>(m) - bm);  // 0 while m was −∞
      m = bm;
    }
    if (m == -INFINITY) continue;
    const auto vm = V::set1(m);
    sum += reduce_sum<V>(
        len, [&](int64_t c, int w) { return keep_first<V>(vexp<V>(V::sub(load_first<V>(x + b + c, w), vm)), w, 0.f); });
  }
  return static_cast<double>(m) + std::log(sum);
}

template <class V>
void cross_entropy(const float* logits, const int32_t* labels, float* loss, float* lse, int64_t rows, int64_t vocab,
                   int32_t ignore_index) {
  for_ranges(rows, rows_per_task(vocab), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* x = logits + r * vocab;
      const double l = log_sum_exp<V>(x, vocab);
      lse[r] = static_cast<float>(l);
      loss[r] = labels[r] == ignore_index ? 0.f : static_cast<float>(l - x[labels[r]]);
    }
  });
}

template <class V>
void cross_entropy_backward(const float* logits, const int32_t* labels, const float* lse, float* dlogits, int64_t rows,
                            int64_t vocab, int32_t ignore_index, float scale) {
  for_ranges(rows, rows_per_task(vocab), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* x = logits + r * vocab;
      float* d = dlogits + r * vocab;
      const int32_t y = labels[r];
      if (y == ignore_index) {
        for_vectors<V>(0, vocab, [&](int64_t c, int n) { store_first<V>(d + c, V::zero(), n); });
        continue;
      }
      // Read the label's logit before the row is overwritten (d may be x).
      const float dy = static_cast<float>(scale * (std::exp(static_cast<double>(x[y]) - lse[r]) - 1.0));
      const auto vl = V::set1(lse[r]), vs = V::set1(scale);
      for_vectors<V>(0, vocab, [&](int64_t c, int n) {
        store_first<V>(d + c, V::mul(vs, vexp<V>(V::sub(load_first<V>(x + c, n), vl))), n);
      });
      d[y] = dy;
    }
  });
}

}  // namespace loss

template <class V>
constexpr LossTable loss_table() {
  return {loss::cross_entropy<V>, loss::cross_entropy_backward<V>};
}

}  // namespace
}  // namespace peft
