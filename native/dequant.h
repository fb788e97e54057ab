// Dequantization of rows [row0, row0 + count) of a quantized [rows, cols] matrix (layout: src/quant/types.ts)
// into float32, bit-identical to dequantizeRowsRef:
//   4-bit: element i (row-major flat index) is codebook[nibble i] · absmax[i / blockSize], the even
//          element in the high nibble; a double-quantized absmax is
//          float(float(nestedMap[code[b]] · nestedAbsmax[b / nestedBlockSize]) + nestedOffset);
//   int8:  code · rowScale[row].
// Each product of two float32 values is rounded once, as the reference's fround(a · b) is.
#pragma once

#include <cstdint>

#include "exact.h"
#include "parallel.h"
#include "vmath.h"

namespace peft {

struct Quant4 {
  const uint8_t* codes;   // two elements per byte
  const float* codebook;  // 16 values
  int64_t cols, block_size;
  const float* absmax;  // plain per-block absmax, or null when nested
  const uint8_t* nested_codes;
  const float* nested_absmax;
  const float* nested_map;  // 256 values
  int64_t nested_block_size;
  double nested_offset;
};

struct DequantTable {
  void (*dequant4)(const Quant4& q, int64_t row0, int64_t count, float* out);
  void (*dequant8)(const int8_t* codes, const float* row_scale, int64_t cols, int64_t row0, int64_t count, float* out);
};
extern const DequantTable kDequantScalar, kDequantAvx2, kDequantAvx512;

namespace {
namespace dequant {

PEFT_EXACT_BEGIN
inline float block_absmax(const Quant4& q, int64_t block) {
  if (q.absmax) return q.absmax[block];
  const float scaled = q.nested_map[q.nested_codes[block]] * q.nested_absmax[block / q.nested_block_size];
  return static_cast<float>(static_cast<double>(scaled) + q.nested_offset);
}

/** Flat elements [i0, i1) of one block, scale s, into o[0, i1 − i0). */
template <class V>
void dequant_span(const Quant4& q, int64_t i0, int64_t i1, float s, float* o) {
  int64_t i = i0;
  if (i < i1 && (i & 1)) *o++ = q.codebook[q.codes[i++ >> 1] & 15] * s;
  // Whole bytes, W at a time (2W values), then one by one.
  const uint8_t* bytes = q.codes + (i >> 1);
  const int64_t pairs = (i1 - i) / 2;
  const auto vs = V::set1(s);
  int64_t j = 0;
  for (; j + V::W <= pairs; j += V::W) {
    typename V::F v[2];
    V::nibbles(bytes + j, q.codebook, v);
    V::store(o + 2 * j, V::mul(v[0], vs));
    V::store(o + 2 * j + V::W, V::mul(v[1], vs));
  }
  for (; j < pairs; j++) {
    o[2 * j] = q.codebook[bytes[j] >> 4] * s;
    o[2 * j + 1] = q.codebook[bytes[j] & 15] * s;
  }
  i += 2 * pairs;
  if (i < i1) o[2 * pairs] = q.codebook[q.codes[i >> 1] >> 4] * s;
}

template <class V>
void dequant4(const Quant4& q, int64_t row0, int64_t count, float* out) {
  const int64_t base = row0 * q.cols;  // out[i − base] holds flat element i
  for_ranges(count, rows_per_task(q.cols), [&](int64_t r0, int64_t r1) {
    const int64_t end = (row0 + r1) * q.cols;
    for (int64_t i = (row0 + r0) * q.cols; i < end;) {
      const int64_t block = i / q.block_size;
      const int64_t stop = (block + 1) * q.block_size < end ? (block + 1) * q.block_size : end;
      dequant_span<V>(q, i, stop, block_absmax(q, block), out + (i - base));
      i = stop;
    }
  });
}

template <class V>
void dequant8(const int8_t* codes, const float* row_scale, int64_t cols, int64_t row0, int64_t count, float* out) {
  for_ranges(count, rows_per_task(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float s = row_scale[row0 + r];
      const int8_t* src = codes + (row0 + r) * cols;
      float* dst = out + r * cols;
      for (int64_t c = 0; c < cols; c++) dst[c] = static_cast<float>(src[c]) * s;
    }
  });
}
PEFT_EXACT_END

}  // namespace dequant

template <class V>
constexpr DequantTable dequant_table() {
  return {dequant::dequant4<V>, dequant::dequant8<V>};
}

}  // namespace
}  // namespace peft
