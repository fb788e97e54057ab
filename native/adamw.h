// One torch.optim.AdamW step (single-tensor form) over n parameters, in the reference's float64
// arithmetic with float32 storage between the statements (bit-identical to it):
//   θ ← θ·(1 − lr·λ);  m ← m + (g − m)(1 − β1);  v ← β2·v + (1 − β2)·g²;
//   θ ← θ − stepSize · m / (√v / √(1 − β2^t) + ε),  stepSize = lr / (1 − β1^t).
// The step constants come from the caller (computed in JavaScript exactly as the reference computes them,
// since C's pow and JavaScript's ** may differ in the last bit). Vectorised in float64 lanes (V::D).
#pragma once

#include <cmath>
#include <cstdint>

#include "exact.h"
#include "parallel.h"
#include "vmath.h"

namespace peft {

struct AdamwStep {
  double step_size;  // lr / (1 − β1^t)
  double bc2_sqrt;   // √(1 − β2^t)
  double decay;      // 1 − lr·λ
  double beta1, beta2, eps;
};

struct AdamwTable {
  void (*adamw)(float* param, const float* grad, float* m, float* v, int64_t n, const AdamwStep& s);
};
extern const AdamwTable kAdamwScalar, kAdamwAvx2, kAdamwAvx512;

namespace {
namespace adamw {

PEFT_EXACT_BEGIN
/** W parameters in float64 (each statement rounded to float32, as the reference stores between them). */
template <class V>
void adamw_vector(float* param, const float* grad, float* m, float* v, int w, const AdamwStep& k) {
  const auto g = V::widen(load_first<V>(grad, w));
  const auto p = V::narrow(V::dmul(V::widen(load_first<V>(param, w)), V::dset1(k.decay)));
  const auto m0 = V::widen(load_first<V>(m, w));
  const auto mi = V::narrow(V::dadd(m0, V::dmul(V::dsub(g, m0), V::dset1(1 - k.beta1))));
  const auto v0 = V::widen(load_first<V>(v, w));
  const auto vi = V::narrow(V::dadd(V::dmul(v0, V::dset1(k.beta2)), V::dmul(V::dmul(V::dset1(1 - k.beta2), g), g)));
  const auto denom = V::dadd(V::ddiv(V::dsqrt(V::widen(vi)), V::dset1(k.bc2_sqrt)), V::dset1(k.eps));
  const auto step = V::ddiv(V::dmul(V::dset1(k.step_size), V::widen(mi)), denom);
  store_first<V>(m, mi, w);
  store_first<V>(v, vi, w);
  store_first<V>(param, V::narrow(V::dsub(V::widen(p), step)), w);
}

template <class V>
void adamw(float* param, const float* grad, float* m, float* v, int64_t n, const AdamwStep& s) {
  const AdamwStep k = s;
  for_ranges(n, kMinTaskElems, [&](int64_t i0, int64_t i1) {
    int64_t i = i0;
    for (; i + V::W <= i1; i += V::W) adamw_vector<V>(param + i, grad + i, m + i, v + i, V::W, k);
    if (i < i1) adamw_vector<V>(param + i, grad + i, m + i, v + i, static_cast<int>(i1 - i), k);
  });
}
PEFT_EXACT_END

}  // namespace adamw

template <class V>
constexpr AdamwTable adamw_table() {
  return {adamw::adamw<V>};
}

}  // namespace
}  // namespace peft
