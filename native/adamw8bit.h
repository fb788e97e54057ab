// bitsandbytes' 8-bit blockwise AdamW step (the reference and its contract: src/backend/js/adamw8bit.ts),
// bit-identical to the reference: every float32 operation in the same order, without contraction.
//
// The one part done differently is the encoding of m / absmax and v / absmax. bitsandbytes' quantize_2D is
// a binary search over the 256-entry map, a chain of eight dependent loads per value; over the 2·10^9
// state values of a full fine-tuning step that would cost more than the step's arithmetic. quantize_2D is a
// monotone step function of x, so it is fixed by its 255 thresholds: CodeLut finds each by bisection over
// float32 values (evaluating quantize_2d itself), and a 2^17-cell table indexed by the top bits of x's
// order-preserving key gives the code at the start of x's cell. Each cell is narrower than the gap between
// two thresholds (checked when the table is built), so one comparison with the next threshold finishes it.
#pragma once

#include <cmath>
#include <cstdint>

#include "exact.h"

namespace peft {

constexpr int kAdamw8bitBlock = 256;

struct Adamw8bitStep {
  float beta1, beta2, one_minus_beta1, one_minus_beta2;
  float step_size;   // −lr·√(1 − β2^t) / (1 − β1^t)
  float eps_scaled;  // ε·√(1 − β2^t)
  bool has_decay;
  float decay;  // 1 − lr·λ
};

namespace {
namespace adamw8bit {

PEFT_EXACT_BEGIN

// Compiler builtins rather than <cmath>: functions declared outside the PEFT_EXACT region carry other
// optimisation attributes, and GCC will not inline them into it (a call per element, 3× slower).
inline bool finite(float x) { return __builtin_isfinite(x); }
inline float absf(float x) { return __builtin_fabsf(x); }
inline float sqrtf32(float x) { return __builtin_sqrtf(x); }
inline bool negative(float x) { return __builtin_signbit(x); }

/** bitsandbytes' quantize_2D, literally (see quantize2dRef). */
inline uint8_t quantize2d(const float* map, bool is_signed, float x) {
  int pivot = 127, upper_pivot = 255, lower_pivot = 0;
  float lower = is_signed ? -1.0f : 0.0f, upper = 1.0f;
  float val = map[127];
  for (int i = 64; i > 0; i >>= 1) {
    if (x > val) {
      lower_pivot = pivot;
      lower = val;
      pivot += i;
    } else {
      upper_pivot = pivot;
      upper = val;
      pivot -= i;
    }
    val = map[pivot];
  }
  if (x > val) return static_cast<uint8_t>(x > (upper + val) * 0.5f ? upper_pivot : pivot);
  return static_cast<uint8_t>(x < (lower + val) * 0.5f ? lower_pivot : pivot);
}

/** Order-preserving unsigned key of a float (−0 just below +0), and back. */
inline uint32_t key_of(float x) {
  uint32_t b;
  __builtin_memcpy(&b, &x, 4);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
inline float float_of(uint32_t k) {
  const uint32_t b = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
  float x;
  __builtin_memcpy(&x, &b, 4);
  return x;
}

/** quantize2d through thresholds and a cell table; equal to it for every x in [−1, 1] and NaN. */
class CodeLut {
 public:
  static constexpr int kShift = 15;

  /** False when two thresholds fall in one cell (a map much denser than bitsandbytes' two). */
  bool build(const float* map, bool is_signed) {
    __builtin_memcpy(map_, map, sizeof(map_));
    signed_ = is_signed;
    nan_code_ = quantize2d(map, is_signed, NAN);
    const uint32_t lo = key_of(-1.0f), hi = key_of(1.0f);
    auto code_at = [&](uint32_t k) { return quantize2d(map, is_signed, float_of(k < lo ? lo : k > hi ? hi : k)); };
    // threshold_[c]: the first key in [lo, hi] whose code exceeds c (hi + 1 when none does).
    for (int c = 0; c < 255; c++) {
      uint32_t a = lo, b = hi + 1;  // code_at(a - 1) <= c < code_at(b), by monotonicity
      if (code_at(lo) > c) b = lo;
      while (a < b) {
        const uint32_t mid = a + (b - a) / 2;
        if (code_at(mid) > c) b = mid;
        else a = mid + 1;
      }
      threshold_[c] = b;
    }
    for (uint32_t cell = 0; cell < (1u << (32 - kShift)); cell++) {
      const uint32_t first = cell << kShift, last = first | ((1u << kShift) - 1);
      const int c0 = code_at(first), c1 = code_at(last);
      if (c1 - c0 > 1) return false;
      base_[cell] = static_cast<uint8_t>(c0);
    }
    return true;
  }

  bool matches(const float* map, bool is_signed) const {
    return signed_ == is_signed && __builtin_memcmp(map_, map, sizeof(map_)) == 0;
  }

  uint8_t encode(float x) const {
    if (x != x) return nan_code_;
    const uint32_t k = key_of(x);
    const uint32_t c = base_[k >> kShift];
    return static_cast<uint8_t>(c + (c < 255 && k >= threshold_[c]));
  }

 private:
  float map_[256] = {};
  bool signed_ = false;
  uint8_t nan_code_ = 0;
  uint32_t threshold_[255] = {};
  uint8_t base_[1u << (32 - kShift)] = {};
};

/** Blocks [b0, b1) of the step (see the reference for the statements and their order). */
inline void step_blocks(float* param, const float* grad, uint8_t* state1, uint8_t* state2, float* absmax1,
                        float* absmax2, int64_t n, int64_t b0, int64_t b1, const Adamw8bitStep& k,
                        const float* qmap1, const float* qmap2, const CodeLut& lut1, const CodeLut& lut2) {
  float m[kAdamw8bitBlock], v[kAdamw8bitBlock];
  for (int64_t b = b0; b < b1; b++) {
    const int64_t i0 = b * kAdamw8bitBlock;
    const int len = static_cast<int>(n - i0 < kAdamw8bitBlock ? n - i0 : kAdamw8bitBlock);
    float max1 = -3.402823466e38f, max2 = -3.402823466e38f;
    const float a1 = absmax1[b], a2 = absmax2[b];
    for (int j = 0; j < kAdamw8bitBlock; j++) {
      const bool inside = j < len;
      const float g = inside ? grad[i0 + j] : 0.0f;
      float s1 = 0.0f, s2 = 0.0f;
      if (finite(g)) {
        s2 = qmap2[inside ? state2[i0 + j] : 0] * a2;
        s2 = s2 * k.beta2 + (k.one_minus_beta2 * g) * g;
        s1 = qmap1[inside ? state1[i0 + j] : 128] * a1;
        s1 = s1 * k.beta1 + k.one_minus_beta1 * g;
      }
      if (absf(s1) > max1) max1 = absf(s1);
      if (absf(s2) > max2) max2 = absf(s2);
      m[j] = s1;
      v[j] = s2;
    }
    for (int j = 0; j < len; j++) {
      const int64_t i = i0 + j;
      if (finite(grad[i])) {
        float p = param[i] + k.step_size * (m[j] / (sqrtf32(v[j]) + k.eps_scaled));
        if (k.has_decay) p = p * k.decay;
        param[i] = p;
      }
      const float s1 = m[j];
      uint8_t c1 = lut1.encode(s1 / max1);
      if (negative(qmap1[c1]) != negative(s1)) c1 = static_cast<uint8_t>(s1 > 0.0f ? c1 + 1 : c1 - 1);
      state1[i] = c1;
      state2[i] = lut2.encode(v[j] / max2);
    }
    absmax1[b] = max1;
    absmax2[b] = max2;
  }
}

PEFT_EXACT_END

}  // namespace adamw8bit
}  // namespace
}  // namespace peft
