// AVX-512 packing for the 12×32 kernel, and the B-panel loaders: where bf16, 4-bit and int8 weights become
// float32, block by block, straight into the packed panel (no float copy of a weight ever exists).
// Each loader decodes a run of one stored row with the arithmetic of ref::decode_row (gemm_pack_ref.cc),
// bit for bit: bf16 is a shift, int8 one float multiply, 4-bit a codebook lookup (vpermps over the 16
// entries held in one register) times the block's float32 scale.
// Transposed layouts go through a 16×16 register transpose, so every load and store is a full vector.

#include "gemm.h"
#include "isa/simd_avx512.h"  // <immintrin.h> (with GCC 12's warnings silenced) and the 16×16 transpose

namespace peft::gemm::avx512 {
namespace {

constexpr int MR = 12, NR = 32;

__mmask16 first_lanes(int64_t n) { return n >= 16 ? 0xffff : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1); }

int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/**
 * Writes the transpose of src[rows ≤ 16, kc] (rows ld apart; missing rows are zero) into dst: column k of
 * src becomes the `width` (≤ 16) floats at dst[k · stride]. Used with stride = MR (A) or NR (B).
 */
void transpose_rows(const float* src, int64_t ld, int rows, int kc, float* dst, int stride, __mmask16 width) {
  for (int k0 = 0; k0 < kc; k0 += 16) {
    const __mmask16 kmask = first_lanes(kc - k0);
    __m512 r[16];
    for (int i = 0; i < 16; i++) r[i] = i < rows ? _mm512_maskz_loadu_ps(kmask, src + i * ld + k0) : _mm512_setzero_ps();
    Avx512::transpose(r);
    const int n = static_cast<int>(min64(16, kc - k0));
    for (int k = 0; k < n; k++) _mm512_mask_storeu_ps(dst + (k0 + k) * stride, width, r[k]);
  }
}

// ---- row decoders: stored row `row`, columns [col0, col0 + count) → float32 ----

void decode_bf16(const BMatrix& b, int64_t row, int64_t col0, int64_t count, float* out) {
  const uint16_t* src = b.bf16 + row * b.ld + col0;
  for (int64_t i = 0; i < count; i += 16) {
    const __mmask16 m = first_lanes(count - i);
    const __m512i bits = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, src + i));
    _mm512_mask_storeu_ps(out + i, m, _mm512_castsi512_ps(_mm512_slli_epi32(bits, 16)));
  }
}

void decode_q8(const BMatrix& b, int64_t row, int64_t col0, int64_t count, float* out) {
  const int8_t* src = b.q8.codes + row * b.cols + col0;
  const __m512 s = _mm512_set1_ps(b.q8.row_scale[row]);
  for (int64_t i = 0; i < count; i += 16) {
    const __mmask16 m = first_lanes(count - i);
    const __m512 v = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, src + i)));
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(v, s));
  }
}

/** 32 elements from 16 bytes (even element in the high nibble), all in one block of scale s. */
void decode_q4_32(const uint8_t* bytes, __m512 codebook, __m512 s, float* out) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes));
  const __m128i low = _mm_and_si128(x, _mm_set1_epi8(0x0f));
  const __m128i high = _mm_and_si128(_mm_srli_epi16(x, 4), _mm_set1_epi8(0x0f));
  const __m512i first = _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(high, low));  // elements 0..15 in order
  const __m512i second = _mm512_cvtepu8_epi32(_mm_unpackhi_epi8(high, low));
  _mm512_storeu_ps(out, _mm512_mul_ps(_mm512_permutexvar_ps(first, codebook), s));
  _mm512_storeu_ps(out + 16, _mm512_mul_ps(_mm512_permutexvar_ps(second, codebook), s));
}

void decode_q4(const BMatrix& b, int64_t row, int64_t col0, int64_t count, float* out) {
  const Quant4& q = b.q4;
  const __m512 codebook = _mm512_loadu_ps(q.codebook);
  int64_t e = row * b.cols + col0;
  const int64_t end = e + count;
  const int64_t last = (end - 1) / q.block_size;
  float scales[kQ4ScaleBatch];
  int64_t batch = 0, batched = 0;
  for (int64_t block = e / q.block_size; e < end; block++) {  // one absmax block at a time
    if (block - batch >= batched) {
      batch = block;
      batched = min64(kQ4ScaleBatch, last - block + 1);
      q4_block_scales(q, block, static_cast<int>(batched), scales);
    }
    const float s = scales[block - batch];
    const int64_t seg_end = min64(end, (block + 1) * q.block_size);
    const __m512 vs = _mm512_set1_ps(s);
    if (e & 1) {  // an odd start: its low nibble alone, then whole bytes
      *out++ = q.codebook[q.codes[e >> 1] & 0x0f] * s;
      e++;
    }
    for (; e + 32 <= seg_end; e += 32, out += 32) decode_q4_32(q.codes + (e >> 1), codebook, vs, out);
    for (; e < seg_end; e++) {
      const uint8_t byte = q.codes[e >> 1];
      *out++ = q.codebook[(e & 1) ? (byte & 0x0f) : (byte >> 4)] * s;
    }
  }
}

using Decode = void (*)(const BMatrix&, int64_t, int64_t, int64_t, float*);

Decode decoder(BKind kind) {
  switch (kind) {
    case BKind::Bf16: return decode_bf16;
    case BKind::Q8: return decode_q8;
    default: return decode_q4;
  }
}

/** Stored [K, N]: block row k is (a run of) stored row k0 + k, cut into NR-wide slivers. */
void pack_b_rows(const BMatrix& b, int64_t k0, int kc, int64_t n0, int nc, float* dst, float* scratch) {
  const int64_t sliver = static_cast<int64_t>(kc) * NR;
  for (int k = 0; k < kc; k++) {
    const float* src;
    if (b.kind == BKind::F32) {
      src = b.f32 + (k0 + k) * b.ld + n0;
    } else {
      decoder(b.kind)(b, k0 + k, n0, nc, scratch);
      src = scratch;
    }
    for (int j = 0; j < nc; j += 16) {
      const __mmask16 m = first_lanes(nc - j);
      _mm512_store_ps(dst + (j / NR) * sliver + k * NR + j % NR, _mm512_maskz_loadu_ps(m, src + j));
    }
    if (nc % NR != 0 && nc % NR <= 16)  // zero the untouched upper half of the last sliver
      _mm512_store_ps(dst + (nc / NR) * sliver + k * NR + 16, _mm512_setzero_ps());
  }
}

/** Stored [N, K]: block column j is stored row n0 + j, transposed 16 rows at a time. */
void pack_b_cols(const BMatrix& b, int64_t k0, int kc, int64_t n0, int nc, float* dst, float* scratch) {
  const int64_t sliver = static_cast<int64_t>(kc) * NR;
  const int64_t ld = (kc + 15) / 16 * 16;
  for (int j = 0; j < (nc + NR - 1) / NR * NR; j += 16) {
    const int rows = static_cast<int>(min64(16, nc - j));
    float* out = dst + (j / NR) * sliver + j % NR;
    if (rows <= 0) {  // the zero upper half of the last sliver
      for (int k = 0; k < kc; k++) _mm512_store_ps(out + k * NR, _mm512_setzero_ps());
    } else if (b.kind == BKind::F32) {
      transpose_rows(b.f32 + (n0 + j) * b.ld + k0, b.ld, rows, kc, out, NR, 0xffff);
    } else {
      for (int i = 0; i < rows; i++) decoder(b.kind)(b, n0 + j + i, k0, kc, scratch + i * ld);
      transpose_rows(scratch, ld, rows, kc, out, NR, 0xffff);
    }
  }
}

}  // namespace

void pack_a_12(const float* a, int64_t lda, bool trans, int64_t m0, int mc, int64_t k0, int kc, float* dst) {
  const int64_t sliver = static_cast<int64_t>(kc) * MR;
  if (trans) {  // stored [K, M]: each k is MR contiguous floats per sliver; read row by row, as stored
    for (int k = 0; k < kc; k++) {
      const float* src = a + (k0 + k) * lda + m0;
      for (int i0 = 0; i0 < mc; i0 += MR) {
        const __mmask16 m = first_lanes(mc - i0 < MR ? mc - i0 : MR);
        _mm512_mask_storeu_ps(dst + (i0 / MR) * sliver + k * MR, 0x0fff, _mm512_maskz_loadu_ps(m, src + i0));
      }
    }
    return;
  }
  for (int i0 = 0; i0 < mc; i0 += MR, dst += sliver)
    transpose_rows(a + (m0 + i0) * lda + k0, lda, static_cast<int>(min64(MR, mc - i0)), kc, dst, MR, 0x0fff);
}

void decode_row(const BMatrix& b, int64_t row, int64_t col0, int64_t count, float* out) {
  if (b.kind != BKind::F32) return decoder(b.kind)(b, row, col0, count, out);
  const float* src = b.f32 + row * b.ld + col0;
  for (int64_t i = 0; i < count; i += 16) {
    const __mmask16 m = first_lanes(count - i);
    _mm512_mask_storeu_ps(out + i, m, _mm512_maskz_loadu_ps(m, src + i));
  }
}

void pack_b_32(const BMatrix& b, int64_t k0, int kc, int64_t n0, int nc, float* dst, float* scratch) {
  if (b.trans)
    pack_b_cols(b, k0, kc, n0, nc, dst, scratch);
  else
    pack_b_rows(b, k0, kc, n0, nc, dst, scratch);
}

}  // namespace peft::gemm::avx512
