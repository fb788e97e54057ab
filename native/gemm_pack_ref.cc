// Reference packing and B-panel loaders, in plain C++: the arithmetic every faster loader must reproduce bit
// for bit (the dequantization of src/quant/dequantize.ts), and the packers of the scalar and AVX2 kernel sets.
// Layouts: see gemm.h.
#include <algorithm>
#include <cstring>

#include "gemm.h"

namespace peft::gemm {

void q4_block_scales(const Quant4& q, int64_t first, int count, float* out) {
  if (q.absmax) {
    for (int i = 0; i < count; i++) out[i] = q.absmax[first + i];
    return;
  }
  int64_t group = first / q.nested_block_size, in_group = first - group * q.nested_block_size;
  for (int i = 0; i < count; i++) {
    // Two roundings, as bitsandbytes computes it: `volatile` keeps the product from being fused with the
    // add into one FMA (GCC contracts by default in C++), which would change the last bit. The add is done
    // in double and rounded once, exactly the reference's fround(product + offset) for any offset.
    volatile float product = q.nested_map[q.nested_codes[first + i]] * q.nested_absmax[group];
    out[i] = static_cast<float>(static_cast<double>(product) + q.nested_offset);
    if (++in_group == q.nested_block_size) in_group = 0, group++;
  }
}

namespace ref {

void decode_row(const BMatrix& b, int64_t row, int64_t col0, int64_t count, float* out) {
  switch (b.kind) {
    case BKind::F32:
      std::memcpy(out, b.f32 + row * b.ld + col0, count * sizeof(float));
      return;
    case BKind::Bf16: {
      const uint16_t* src = b.bf16 + row * b.ld + col0;
      for (int64_t i = 0; i < count; i++) {
        uint32_t bits = static_cast<uint32_t>(src[i]) << 16;
        std::memcpy(out + i, &bits, sizeof(float));
      }
      return;
    }
    case BKind::Q8: {
      const int8_t* src = b.q8.codes + row * b.cols + col0;
      const float s = b.q8.row_scale[row];
      for (int64_t i = 0; i < count; i++) out[i] = static_cast<float>(src[i]) * s;
      return;
    }
    case BKind::Q4: {
      const Quant4& q = b.q4;
      int64_t e = row * b.cols + col0;
      const int64_t end = e + count;
      const int64_t last = (end - 1) / q.block_size;
      float scales[kQ4ScaleBatch];
      int64_t batch = 0, batched = 0;
      for (int64_t block = e / q.block_size; e < end; block++) {  // one absmax block at a time
        if (block - batch >= batched) {
          batch = block;
          batched = std::min<int64_t>(kQ4ScaleBatch, last - block + 1);
          q4_block_scales(q, block, static_cast<int>(batched), scales);
        }
        const float s = scales[block - batch];
        const int64_t seg_end = std::min(end, (block + 1) * q.block_size);
        for (; e < seg_end; e++) {
          const uint8_t byte = q.codes[e >> 1];
          *out++ = q.codebook[(e & 1) ? (byte & 0x0f) : (byte >> 4)] * s;
        }
      }
      return;
    }
  }
}

template <int MR>
void pack_a(const float* a, int64_t lda, bool trans, int64_t m0, int mc, int64_t k0, int kc, float* dst) {
  for (int i0 = 0; i0 < mc; i0 += MR) {
    const int rows = std::min(MR, mc - i0);
    for (int k = 0; k < kc; k++) {
      for (int i = 0; i < MR; i++) {
        const int64_t r = m0 + i0 + i, col = k0 + k;
        dst[k * MR + i] = i < rows ? (trans ? a[col * lda + r] : a[r * lda + col]) : 0.0f;
      }
    }
    dst += static_cast<int64_t>(kc) * MR;
  }
}

template <int NR>
void pack_b(const BMatrix& b, int64_t k0, int kc, int64_t n0, int nc, float* dst, float* scratch) {
  const int64_t sliver = static_cast<int64_t>(kc) * NR;
  std::fill(dst, dst + (nc + NR - 1) / NR * sliver, 0.0f);
  if (b.trans) {  // stored [N, K]: stored row n0 + j is column j of the block
    for (int j = 0; j < nc; j++) {
      decode_row(b, n0 + j, k0, kc, scratch);
      float* col = dst + (j / NR) * sliver + j % NR;
      for (int k = 0; k < kc; k++) col[k * NR] = scratch[k];
    }
  } else {  // stored [K, N]: stored row k0 + k is row k of the block
    for (int k = 0; k < kc; k++) {
      decode_row(b, k0 + k, n0, nc, scratch);
      for (int j = 0; j < nc; j++) dst[(j / NR) * sliver + k * NR + j % NR] = scratch[j];
    }
  }
}

template void pack_a<4>(const float*, int64_t, bool, int64_t, int, int64_t, int, float*);
template void pack_a<6>(const float*, int64_t, bool, int64_t, int, int64_t, int, float*);
template void pack_b<16>(const BMatrix&, int64_t, int, int64_t, int, float*, float*);

}  // namespace ref
}  // namespace peft::gemm
