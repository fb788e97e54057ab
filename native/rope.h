// Rotary position embedding in the rotate-half layout on the first `rot` dims of each head of x
// [rows, heads, hd], row r at positions[r]; with R = rot/2:
//   out[i] = x[i]·cos − x[i + R]·sin,  out[i + R] = x[i + R]·cos + x[i]·sin,  i < R,
// with cos/sin = tables[positions[r], i] ([maxPos, R]); dims ≥ rot are copied (partial rotary, Phi-4-mini);
// `inverse` uses −sin (the backward). out may alias x: both halves of a vector are loaded before either is
// stored.
#pragma once

#include <cstdint>
#include <cstring>

#include "parallel.h"
#include "vmath.h"

namespace peft {

struct RopeTable {
  void (*rope)(const float* x, float* out, const float* cos, const float* sin, const int32_t* positions, int64_t rows,
               int64_t heads, int64_t hd, bool inverse, int64_t rot);
};
extern const RopeTable kRopeScalar, kRopeAvx2, kRopeAvx512;

namespace {
namespace rope {

template <class V>
void rope(const float* x, float* out, const float* cos, const float* sin, const int32_t* positions, int64_t rows,
          int64_t heads, int64_t hd, bool inverse, int64_t rot) {
  const int64_t half = rot / 2;
  for_ranges(rows, rows_per_task(heads * hd), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* c_row = cos + static_cast<int64_t>(positions[r]) * half;
      const float* s_row = sin + static_cast<int64_t>(positions[r]) * half;
      for (int64_t h = 0; h < heads; h++) {
        const int64_t o = (r * heads + h) * hd;
        if (out != x && rot < hd) std::memcpy(out + o + rot, x + o + rot, sizeof(float) * (hd - rot));
        for_vectors<V>(0, half, [&](int64_t i, int n) {
          const auto c = load_first<V>(c_row + i, n);
          auto s = load_first<V>(s_row + i, n);
          if (inverse) s = V::sub(V::zero(), s);
          const auto x1 = load_first<V>(x + o + i, n);
          const auto x2 = load_first<V>(x + o + half + i, n);
          store_first<V>(out + o + i, V::fnma(x2, s, V::mul(x1, c)), n);
          store_first<V>(out + o + half + i, V::fma(x1, s, V::mul(x2, c)), n);
        });
      }
    }
  });
}

}  // namespace rope

template <class V>
constexpr RopeTable rope_table() {
  return {rope::rope<V>};
}

}  // namespace
}  // namespace peft
