// Elementwise kernels, row-vector broadcasts, column sums, the sum of squares and the bf16 conversions
// (all memory-bound): generic over the vector type V (vmath.h), split over the pool in fixed ranges.
//
// Outputs may alias inputs exactly (each vector is loaded before it is stored). sumRows accumulates in
// float64 column by column in row order, as the reference does, so it is bit-identical to it;
// sumSquares sums float64 squares in a fixed order that is the same for every ISA and thread count
// (16 interleaved lanes per 16384-element chunk, lanes then chunks added in order).
#pragma once

#include <cstdint>
#include <cstring>

#include "parallel.h"

namespace peft {

struct ElementwiseTable {
  void (*add)(const float* a, const float* b, float* out, int64_t n);
  void (*axpy)(float* dst, const float* src, float alpha, int64_t n);
  void (*mul)(const float* a, const float* b, float* out, int64_t n);
  void (*scale)(const float* a, float s, float* out, int64_t n);
  void (*add_row_vector)(const float* x, const float* v, float* out, int64_t rows, int64_t cols);
  void (*mul_row_vector)(const float* x, const float* v, float* out, int64_t rows, int64_t cols);
  void (*sum_rows)(const float* x, float* out, int64_t rows, int64_t cols, bool accumulate);
  double (*sum_squares)(const float* x, int64_t n);
  void (*bf16_to_f32)(const uint16_t* src, float* dst, int64_t n);
  void (*f32_to_bf16)(const float* src, uint16_t* dst, int64_t n);
};
extern const ElementwiseTable kElementwiseScalar, kElementwiseAvx2, kElementwiseAvx512;

namespace {
namespace elementwise {

/** out[i] = op(a[i], b[i]) over [i0, i1), full vectors then one partial. */
template <class V, class Op>
void map2(const float* a, const float* b, float* out, int64_t i0, int64_t i1, Op op) {
  int64_t i = i0;
  for (; i + V::W <= i1; i += V::W) V::store(out + i, op(V::load(a + i), V::load(b + i)));
  if (i < i1) {
    const int n = static_cast<int>(i1 - i);
    V::storen(out + i, op(V::loadn(a + i, n), V::loadn(b + i, n)), n);
  }
}

template <class V>
void add(const float* a, const float* b, float* out, int64_t n) {
  for_ranges(n, kMinTaskElems,
             [&](int64_t i0, int64_t i1) { map2<V>(a, b, out, i0, i1, [](auto x, auto y) { return V::add(x, y); }); });
}

template <class V>
void mul(const float* a, const float* b, float* out, int64_t n) {
  for_ranges(n, kMinTaskElems,
             [&](int64_t i0, int64_t i1) { map2<V>(a, b, out, i0, i1, [](auto x, auto y) { return V::mul(x, y); }); });
}

template <class V>
void axpy(float* dst, const float* src, float alpha, int64_t n) {
  const auto va = V::set1(alpha);
  for_ranges(n, kMinTaskElems, [&](int64_t i0, int64_t i1) {
    map2<V>(dst, src, dst, i0, i1, [&](auto d, auto s) { return V::fma(va, s, d); });
  });
}

template <class V>
void scale(const float* a, float s, float* out, int64_t n) {
  const auto vs = V::set1(s);
  for_ranges(n, kMinTaskElems,
             [&](int64_t i0, int64_t i1) { map2<V>(a, a, out, i0, i1, [&](auto x, auto) { return V::mul(x, vs); }); });
}

template <class V, class Op>
void row_vector(const float* x, const float* v, float* out, int64_t rows, int64_t cols, Op op) {
  for_ranges(rows, rows_per_task(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) map2<V>(x + r * cols, v, out + r * cols, 0, cols, op);
  });
}

template <class V>
void add_row_vector(const float* x, const float* v, float* out, int64_t rows, int64_t cols) {
  row_vector<V>(x, v, out, rows, cols, [](auto a, auto b) { return V::add(a, b); });
}

template <class V>
void mul_row_vector(const float* x, const float* v, float* out, int64_t rows, int64_t cols) {
  row_vector<V>(x, v, out, rows, cols, [](auto a, auto b) { return V::mul(a, b); });
}

/** Column sums in float64 (vectorised by the compiler across columns; the row order is the reference's). */
template <class V>
void sum_rows(const float* x, float* out, int64_t rows, int64_t cols, bool accumulate) {
  constexpr int64_t kBlock = 512;  // columns per accumulator block (4 KB of doubles, in L1)
  // Column ranges as tasks; one task for small inputs.
  const int64_t span = rows * cols < 2 * kMinTaskElems ? cols : (cols + 7) / 8;
  const int64_t width = span < 64 ? 64 : (span + 15) / 16 * 16;
  for_ranges(cols, width, [&](int64_t c0, int64_t c1) {
    double acc[kBlock];
    for (int64_t b0 = c0; b0 < c1; b0 += kBlock) {
      const int64_t w = c1 - b0 < kBlock ? c1 - b0 : kBlock;
      for (int64_t c = 0; c < w; c++) acc[c] = 0;
      for (int64_t r = 0; r < rows; r++) {
        const float* row = x + r * cols + b0;
        for (int64_t c = 0; c < w; c++) acc[c] += static_cast<double>(row[c]);
      }
      for (int64_t c = 0; c < w; c++) out[b0 + c] = static_cast<float>(accumulate ? out[b0 + c] + acc[c] : acc[c]);
    }
  });
}

template <class V>
double sum_squares(const float* x, int64_t n) {
  constexpr int64_t kChunk = kMinTaskElems;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  double* partial = reinterpret_cast<double*>(call_scratch(2 * static_cast<size_t>(chunks)));
  for_ranges(n, kChunk, [&](int64_t i0, int64_t i1) {
    double lane[16] = {0};
    int64_t i = i0;
    for (; i + 16 <= i1; i += 16) {
      for (int j = 0; j < 16; j++) {
        const double v = x[i + j];
        lane[j] += v * v;  // exact square: a float's square fits a double
      }
    }
    for (int j = 0; i < i1; i++, j++) lane[j] += static_cast<double>(x[i]) * x[i];
    for (int w = 8; w >= 1; w /= 2)
      for (int j = 0; j < w; j++) lane[j] += lane[j + w];
    partial[i0 / kChunk] = lane[0];
  });
  double total = 0;
  for (int64_t c = 0; c < chunks; c++) total += partial[c];
  return total;
}

template <class V>
void bf16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  for_ranges(n, kMinTaskElems, [&](int64_t i0, int64_t i1) {
    // Local copies: a may_alias store could otherwise change the captured pointers, which blocks vectorising.
    const uint16_t* s = src;
    bits32* d = reinterpret_cast<bits32*>(dst);
    for (int64_t i = i0; i < i1; i++) d[i] = static_cast<uint32_t>(s[i]) << 16;
  });
}

/** Round to nearest even on the 16 dropped bits; a NaN stays a quiet NaN with its sign and top payload. */
template <class V>
void f32_to_bf16(const float* src, uint16_t* dst, int64_t n) {
  for_ranges(n, kMinTaskElems, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) {
      uint32_t x;
      std::memcpy(&x, src + i, 4);
      const uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
      const uint32_t nan = (x >> 16) | 0x40u;
      dst[i] = static_cast<uint16_t>((x & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
    }
  });
}

}  // namespace elementwise

template <class V>
constexpr ElementwiseTable elementwise_table() {
  using namespace elementwise;
  return {add<V>,      axpy<V>,        mul<V>,         scale<V>,      add_row_vector<V>, mul_row_vector<V>,
          sum_rows<V>, sum_squares<V>, bf16_to_f32<V>, f32_to_bf16<V>};
}

}  // namespace
}  // namespace peft
