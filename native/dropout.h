// Inverted dropout with the counter-based mask of src/util/random.ts: element i is kept when
// uniform01(seed, offset + i) ≥ p and then scaled by 1/(1 − p); the same call on dy is the backward.
//
//   hash32(seed, c) = fmix32(seed ^ fmix32(c·0x9e3779b9 ^ 0x5bd1e995)),  uniform01 = (hash32 >> 8) / 2^24
// The 24-bit draw is compared with p in float64 and kept values are x·(1/(1 − p)) in float64 rounded once,
// as the reference does, so masks and values are bit-identical to it. The loop is plain integer and
// float64 code that the compiler vectorises for each ISA.
#pragma once

#include <cstdint>

#include "exact.h"
#include "parallel.h"

namespace peft {

struct DropoutTable {
  void (*dropout)(const float* x, float* out, int64_t n, double p, uint32_t seed, uint32_t offset);
};
extern const DropoutTable kDropoutScalar, kDropoutAvx2, kDropoutAvx512;

namespace {
namespace dropout {

// (The helpers sit inside the exact region too: GCC does not inline across different optimize options.)
PEFT_EXACT_BEGIN
inline uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

inline uint32_t hash32(uint32_t seed, uint32_t counter) {
  return fmix32(seed ^ fmix32((counter * 0x9e3779b9u) ^ 0x5bd1e995u));
}

template <class V>
void dropout(const float* x, float* out, int64_t n, double p, uint32_t seed, uint32_t offset) {
  const double keep_scale = 1.0 / (1.0 - p);
  for_ranges(n, kMinTaskElems, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) {
      const uint32_t counter = offset + static_cast<uint32_t>(i);  // wraps like the reference's `>>> 0`
      const double u = static_cast<double>(hash32(seed, counter) >> 8) * (1.0 / 16777216.0);
      const float kept = static_cast<float>(x[i] * keep_scale);  // unconditional, so the select vectorises
      out[i] = u >= p ? kept : 0.f;
    }
  });
}
PEFT_EXACT_END

}  // namespace dropout

template <class V>
constexpr DropoutTable dropout_table() {
  return {dropout::dropout<V>};
}

}  // namespace
}  // namespace peft
