// Embedding gather out[i, :] = table[ids[i], :] (float32 or bfloat16 table rows `ld` apart) and its
// backward, the scatter-add dTable[ids[i], :] += dy[i, :].
//
// The scatter-add is split over column ranges, never over ids: every task walks all ids in order over its
// own columns, so repeated ids never race and each element receives its adds in the reference's order
// (bit-identical to it).
#pragma once

#include <cstdint>
#include <cstring>

#include "parallel.h"
#include "vmath.h"

namespace peft {

struct EmbeddingTable {
  void (*gather_f32)(const int32_t* ids, const float* table, int64_t ld, float* out, int64_t n, int64_t dim);
  void (*gather_bf16)(const int32_t* ids, const uint16_t* table, int64_t ld, float* out, int64_t n, int64_t dim);
  void (*scatter_add)(const int32_t* ids, const float* dy, float* dtable, int64_t n, int64_t dim);
};
extern const EmbeddingTable kEmbeddingScalar, kEmbeddingAvx2, kEmbeddingAvx512;

namespace {
namespace embedding {

template <class V>
void gather_f32(const int32_t* ids, const float* table, int64_t ld, float* out, int64_t n, int64_t dim) {
  for_ranges(n, rows_per_task(dim), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) std::memcpy(out + i * dim, table + ids[i] * ld, dim * sizeof(float));
  });
}

template <class V>
void gather_bf16(const int32_t* ids, const uint16_t* table, int64_t ld, float* out, int64_t n, int64_t dim) {
  for_ranges(n, rows_per_task(dim), [&](int64_t i0, int64_t i1) {
    const int64_t width = dim;  // a local: the may_alias stores below could otherwise change it
    for (int64_t i = i0; i < i1; i++) {
      const uint16_t* src = table + ids[i] * ld;
      bits32* dst = reinterpret_cast<bits32*>(out + i * width);
      for (int64_t c = 0; c < width; c++) dst[c] = static_cast<uint32_t>(src[c]) << 16;
    }
  });
}

template <class V>
void scatter_add(const int32_t* ids, const float* dy, float* dtable, int64_t n, int64_t dim) {
  const int64_t span = n * dim < 2 * kMinTaskElems ? dim : (dim + 3) / 4;
  const int64_t width = span < 64 ? 64 : (span + 15) / 16 * 16;
  for_ranges(dim, width, [&](int64_t c0, int64_t c1) {
    for (int64_t i = 0; i < n; i++) {
      float* dst = dtable + ids[i] * dim;
      const float* src = dy + i * dim;
      for_vectors<V>(c0, c1, [&](int64_t c, int w) {
        store_first<V>(dst + c, V::add(load_first<V>(dst + c, w), load_first<V>(src + c, w)), w);
      });
    }
  });
}

}  // namespace embedding

template <class V>
constexpr EmbeddingTable embedding_table() {
  return {embedding::gather_f32<V>, embedding::gather_bf16<V>, embedding::scatter_add<V>};
}

}  // namespace
}  // namespace peft
