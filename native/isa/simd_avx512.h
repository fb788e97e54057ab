// The AVX-512 vector (16 float lanes) of the generic kernels. Include only from native/isa/*_avx512.cc,
// which are compiled with the AVX-512 flags (binding.gyp). Contract: see simd.h.
#pragma once

// GCC 12 warns inside its own AVX-512 intrinsics (the self-initialised "undefined" operand, GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>

namespace peft {
namespace {

struct Avx512 {
  static constexpr int W = 16;
  // 32 zmm registers: mr_for(nv) × nv accumulators + nv B vectors + 1 broadcast stay ≤ 29.
  static constexpr int kNVmax = 4;
  static constexpr int mr_for(int nv) { return nv <= 2 ? 12 : nv == 3 ? 8 : 6; }
  using F = __m512;
  using M = __mmask16;

  static F zero() { return _mm512_setzero_ps(); }
  static F set1(float x) { return _mm512_set1_ps(x); }
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  static M first(int n) { return n >= 16 ? static_cast<M>(0xffff) : static_cast<M>((1u << (n < 0 ? 0 : n)) - 1); }
  static F loadn(const float* p, int n) { return _mm512_maskz_loadu_ps(first(n), p); }
  static void storen(float* p, F v, int n) { _mm512_mask_storeu_ps(p, first(n), v); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F div(F a, F b) { return _mm512_div_ps(a, b); }
  static F max(F a, F b) { return _mm512_max_ps(a, b); }
  static F min(F a, F b) { return _mm512_min_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F fnma(F a, F b, F c) { return _mm512_fnmadd_ps(a, b, c); }
  static F abs(F a) { return _mm512_abs_ps(a); }
  static float sum(F v) { return _mm512_reduce_add_ps(v); }
  static float hmax(F v) { return _mm512_reduce_max_ps(v); }
  static M lt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static M le(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
  static M eq(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
  static M lanes(int n) { return first(n); }
  static F select(M m, F a, F b) { return _mm512_mask_blend_ps(m, b, a); }
  static F copysign(F mag, F sgn) {
    const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000u));
    return _mm512_castsi512_ps(
        _mm512_ternarylogic_epi32(_mm512_castps_si512(mag), _mm512_castps_si512(sgn), sign, 0xd8));
  }
  // Building blocks of exp/exp2 (vmath.h).
  static F round(F x) { return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  /** p · 2^n for integral n (scalef: exact, gradual underflow, 0 below 2^-150). */
  static F ldexp(F p, F n) { return _mm512_scalef_ps(p, n); }
  static constexpr float kExpLo = -104.f;  // e^x rounds to 0 below
  static constexpr float kExp2Lo = -150.f;

  /** The 2W 4-bit codes of W bytes (high nibble first) looked up in a 16-entry table. */
  static void nibbles(const uint8_t* b, const float* table, F out[2]) {
    const __m512 t = _mm512_loadu_ps(table);
    const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b)));
    const __m512 hi = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), t);
    const __m512 lo = _mm512_permutexvar_ps(_mm512_and_si512(v, _mm512_set1_epi32(15)), t);
    const __m512i first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    out[0] = _mm512_permutex2var_ps(hi, first, lo);
    out[1] = _mm512_permutex2var_ps(hi, _mm512_add_epi32(first, _mm512_set1_epi32(8)), lo);
  }

  // W doubles (two zmm), for kernels that must reproduce the reference's float64 arithmetic.
  struct D {
    __m512d lo, hi;
  };
  static D widen(F x) {
    return {_mm512_cvtps_pd(_mm512_castps512_ps256(x)),
            _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)))};
  }
  static F narrow(D x) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(x.lo)), _mm512_cvtpd_ps(x.hi), 1);
  }
  static D dset1(double x) { return {_mm512_set1_pd(x), _mm512_set1_pd(x)}; }
  static D dadd(D a, D b) { return {_mm512_add_pd(a.lo, b.lo), _mm512_add_pd(a.hi, b.hi)}; }
  static D dsub(D a, D b) { return {_mm512_sub_pd(a.lo, b.lo), _mm512_sub_pd(a.hi, b.hi)}; }
  static D dmul(D a, D b) { return {_mm512_mul_pd(a.lo, b.lo), _mm512_mul_pd(a.hi, b.hi)}; }
  static D ddiv(D a, D b) { return {_mm512_div_pd(a.lo, b.lo), _mm512_div_pd(a.hi, b.hi)}; }
  static D dsqrt(D a) { return {_mm512_sqrt_pd(a.lo), _mm512_sqrt_pd(a.hi)}; }

  /** 16×16 transpose of rows r[0..15] in place. */
  static void transpose(F r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
      t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
      r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
      r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xee);
      r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    for (int i = 0; i < 4; i++) {
      t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
      t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
      t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
      t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
    }
    for (int i = 0; i < 4; i++) {
      r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
      r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
      r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
      r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xdd);
    }
  }
};

}  // namespace
}  // namespace peft
