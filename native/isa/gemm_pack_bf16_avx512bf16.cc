// AVX512_BF16 packing for the bf16 12×32 kernel, and its B-panel loaders: float32 operands are rounded to
// bf16 (vcvtne2ps2bf16: nearest even, as torch rounds; float32 subnormals become zero), bf16 weights are
// copied as stored, and 4-bit and int8 weights are decoded to float32 by the AVX-512 decoders (bit for bit
// the reference dequantization) and then rounded, as bitsandbytes dequantizes to its bf16 compute dtype.
// A packed step is a 32-bit word holding a pair of k (gemm.h): along a stored row the pairs are consecutive
// words, so row-major operands convert in place and are transposed 16×16 words at a time; across two
// stored rows (k, k + 1) the words interleave the two rows' values.

#include "gemm.h"
#include "isa/simd_avx512.h"  // <immintrin.h> (with GCC 12's warnings silenced) and the 16×16 transpose

namespace peft::gemm::avx512bf16 {
namespace {

constexpr int MR = 12, NR = 32;

__mmask16 first_lanes(int64_t n) { return n >= 16 ? 0xffff : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1); }
__mmask32 first_halves(int64_t n) { return n >= 32 ? 0xffffffffu : n <= 0 ? 0 : static_cast<__mmask32>((1u << n) - 1); }

int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/** The 16 words of bf16 pairs of src[0, 32) (elements from n on are zero). */
__m512i pairs_of_floats(const float* src, int64_t n) {
  const __m512 lo = _mm512_maskz_loadu_ps(first_lanes(n), src);
  const __m512 hi = _mm512_maskz_loadu_ps(first_lanes(n - 16), src + 16);
  return reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));  // lo's 16 values in the low half, in order
}

/** Words (x0[j], x1[j]): row k's value in the low half, row k + 1's in the high half. */
__m512i interleave(__m512 x0, __m512 x1) {
  alignas(64) static constexpr uint16_t kOrder[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                                      8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i both = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(x1, x0));
  return _mm512_permutexvar_epi16(_mm512_load_si512(kOrder), both);
}

/** Words (r0[j], r1[j]) of two bf16 rows, the first n columns (r1 null: zero). */
__m512i interleave_bf16(const uint16_t* r0, const uint16_t* r1, int64_t n) {
  const __mmask16 m = first_lanes(n);
  const __m512i lo = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, r0));
  if (!r1) return lo;
  return _mm512_or_si512(lo, _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, r1)), 16));
}

/**
 * Stores the MR words of one A step. A full 16-word store is cheaper than a masked one (on this Zen 5 it
 * made LoRA's rank-16 products 1.4–1.6× faster); its 4 extra words land on the next step, which is written
 * after this one, so only the last step of a call (`last`) needs the mask.
 */
void store_a_step(float* dst, __m512i w, bool last) {
  if (last)
    _mm512_mask_storeu_epi32(dst, 0x0fff, w);
  else
    _mm512_storeu_si512(dst, w);
}

/** 16 packed steps of stored row `row` from column k (n columns left), any kind; decoded: that row in f32. */
__m512 row_pairs(const BMatrix& b, int64_t row, int64_t k, int64_t n, const float* decoded) {
  if (b.kind == BKind::Bf16) return _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(first_halves(n), b.bf16 + row * b.ld + k));
  return _mm512_castsi512_ps(pairs_of_floats(b.kind == BKind::F32 ? b.f32 + row * b.ld + k : decoded, n));
}

/** Stored [K, N]: step p interleaves (runs of) stored rows k0 + 2p and k0 + 2p + 1, cut into NR-wide slivers. */
void pack_b_rows(const BMatrix& b, int64_t k0, int kc, int64_t n0, int nc, float* dst, float* scratch) {
  const int steps = (kc + 1) / 2;
  const int64_t sliver = static_cast<int64_t>(steps) * NR;
  for (int p = 0; p < steps; p++) {
    const int64_t k = k0 + 2 * p;
    const bool pair = 2 * p + 1 < kc;
    float* out = dst + p * NR;
    const float* r0 = nullptr;
    const float* r1 = nullptr;
    if (b.kind == BKind::F32) {
      r0 = b.f32 + k * b.ld + n0;
      r1 = r0 + b.ld;
    } else if (b.kind != BKind::Bf16) {
      avx512::decode_row(b, k, n0, nc, scratch);
      if (pair) avx512::decode_row(b, k + 1, n0, nc, scratch + nc);
      r0 = scratch;
      r1 = scratch + nc;
    }
    for (int j = 0; j < nc; j += 16) {
      __m512i w;
      if (b.kind == BKind::Bf16) {
        const uint16_t* s0 = b.bf16 + k * b.ld + n0 + j;
        w = interleave_bf16(s0, pair ? s0 + b.ld : nullptr, nc - j);
      } else {
        const __mmask16 m = first_lanes(nc - j);
        w = interleave(_mm512_maskz_loadu_ps(m, r0 + j), pair ? _mm512_maskz_loadu_ps(m, r1 + j) : _mm512_setzero_ps());
      }
      _mm512_store_si512(out + (j / NR) * sliver + j % NR, w);
    }
    if (nc % NR != 0 && nc % NR <= 16)  // zero the untouched upper half of the last sliver
      _mm512_store_si512(out + (nc / NR) * sliver + 16, _mm512_setzero_si512());
  }
}

/** Stored [N, K]: block column j is stored row n0 + j, whose pairs are consecutive words: 16 rows transposed at a time. */
void pack_b_cols(const BMatrix& b, int64_t k0, int kc, int64_t n0, int nc, float* dst, float* scratch) {
  const int steps = (kc + 1) / 2;
  const int64_t sliver = static_cast<int64_t>(steps) * NR;
  const int64_t ld = (kc + 31) / 32 * 32;
  const bool decode = b.kind != BKind::F32 && b.kind != BKind::Bf16;
  for (int j = 0; j < (nc + NR - 1) / NR * NR; j += 16) {
    const int rows = static_cast<int>(min64(16, nc - j));
    float* out = dst + (j / NR) * sliver + j % NR;
    if (rows <= 0) {  // the zero upper half of the last sliver
      for (int p = 0; p < steps; p++) _mm512_store_ps(out + p * NR, _mm512_setzero_ps());
      continue;
    }
    if (decode)
      for (int i = 0; i < rows; i++) avx512::decode_row(b, n0 + j + i, k0, kc, scratch + i * ld);
    for (int p0 = 0; p0 < steps; p0 += 16) {
      __m512 r[16];
      for (int i = 0; i < 16; i++)
        r[i] = i < rows ? row_pairs(b, n0 + j + i, k0 + 2 * p0, kc - 2 * p0, scratch + i * ld + 2 * p0) : _mm512_setzero_ps();
      Avx512::transpose(r);  // r[i]: 16 steps of row i → r[p]: step p of the 16 rows
      for (int p = 0; p < min64(16, steps - p0); p++) _mm512_store_ps(out + (p0 + p) * NR, r[p]);
    }
  }
}

}  // namespace

void pack_a_12(const float* a, int64_t lda, bool trans, int64_t m0, int mc, int64_t k0, int kc, float* dst) {
  const int steps = (kc + 1) / 2;
  const int64_t sliver = static_cast<int64_t>(steps) * MR;
  if (trans) {  // stored [K, M]: step p interleaves stored rows k0 + 2p and k0 + 2p + 1, MR words per sliver
    for (int i0 = 0; i0 < mc; i0 += MR, dst += sliver) {  // sliver by sliver, so that stores run in order
      const __mmask16 m = first_lanes(min64(MR, mc - i0));
      const float* r0 = a + k0 * lda + m0 + i0;
      for (int p = 0; p < steps; p++, r0 += 2 * lda) {
        const __m512 x1 = 2 * p + 1 < kc ? _mm512_maskz_loadu_ps(m, r0 + lda) : _mm512_setzero_ps();
        store_a_step(dst + p * MR, interleave(_mm512_maskz_loadu_ps(m, r0), x1), i0 + MR >= mc && p + 1 == steps);
      }
    }
    return;
  }
  for (int i0 = 0; i0 < mc; i0 += MR, dst += sliver) {  // stored [M, K]: a row's pairs are consecutive words
    const int rows = static_cast<int>(min64(MR, mc - i0));
    for (int p0 = 0; p0 < steps; p0 += 16) {
      __m512 r[16];
      for (int i = 0; i < 16; i++)
        r[i] = i < rows ? _mm512_castsi512_ps(pairs_of_floats(a + (m0 + i0 + i) * lda + k0 + 2 * p0, kc - 2 * p0)) : _mm512_setzero_ps();
      Avx512::transpose(r);  // r[i]: 16 steps of row i → r[p]: step p of the rows
      for (int p = p0; p < min64(p0 + 16, steps); p++)
        store_a_step(dst + p * MR, _mm512_castps_si512(r[p - p0]), i0 + MR >= mc && p + 1 == steps);
    }
  }
}

void pack_b_32(const BMatrix& b, int64_t k0, int kc, int64_t n0, int nc, float* dst, float* scratch) {
  if (b.trans)
    pack_b_cols(b, k0, kc, n0, nc, dst, scratch);
  else
    pack_b_rows(b, k0, kc, n0, nc, dst, scratch);
}

}  // namespace peft::gemm::avx512bf16
