// One torch.optim.AdamW step (single-tensor form) over n parameters, in the reference's float64
// arithmetic with float32 storage between the statements (bit-identical to it):
//   θ ← θ·(1 − lr·λ);  m ← m + (g − m)(1 − β1);  v ← β2·v + (1 − β2)·g²;
//   θ ← θ − stepSize · m / (√v / √(1 − β2^t) + ε),  stepSize = lr / (1 − β1^t).
// The step constants come from the caller (computed in JavaScript exactly as the reference computes them,
// since C's pow and JavaScript's ** may differ in the last bit). The compiler vectorises the loop.
#pragma once

#include <cmath>
#include <cstdint>

#include "exact.h"
#include "parallel.h"

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
template <class V>
void adamw(float* param, const float* grad, float* m, float* v, int64_t n, const AdamwStep& s) {
  const AdamwStep k = s;
  for_ranges(n, kMinTaskElems, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) {
      const double g = grad[i];
      const float p = static_cast<float>(param[i] * k.decay);
      const float mi = static_cast<float>(m[i] + (g - m[i]) * (1 - k.beta1));
      const float vi = static_cast<float>(v[i] * k.beta2 + (1 - k.beta2) * g * g);
      m[i] = mi;
      v[i] = vi;
      param[i] = static_cast<float>(p - (k.step_size * mi) / (std::sqrt(static_cast<double>(vi)) / k.bc2_sqrt + k.eps));
    }
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
