// The AVX2 + FMA vector (8 float lanes) of the generic kernels. Include only from native/isa/*_avx2.cc,
// which are compiled with the AVX2 flags (binding.gyp). Contract: see simd.h.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace peft {
namespace {

struct Avx2 {
  static constexpr int W = 8;
  // 16 ymm registers: mr_for(nv) × nv accumulators + nv B vectors + 1 broadcast stay ≤ 15.
  static constexpr int kNVmax = 2;
  static constexpr int mr_for(int nv) { return nv == 1 ? 12 : 6; }
  using F = __m256;
  using M = __m256;  // all-ones / all-zeros lanes, as the compares return

  static F zero() { return _mm256_setzero_ps(); }
  static F set1(float x) { return _mm256_set1_ps(x); }
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  static __m256i first(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static F loadn(const float* p, int n) { return _mm256_maskload_ps(p, first(n)); }
  static void storen(float* p, F v, int n) { _mm256_maskstore_ps(p, first(n), v); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F div(F a, F b) { return _mm256_div_ps(a, b); }
  static F max(F a, F b) { return _mm256_max_ps(a, b); }
  static F min(F a, F b) { return _mm256_min_ps(a, b); }
  static F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F fnma(F a, F b, F c) { return _mm256_fnmadd_ps(a, b, c); }
  static F abs(F a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.f), a); }
  static float sum(F v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float hmax(F v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static M lt(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static M le(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
  static M eq(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
  static M lanes(int n) { return _mm256_castsi256_ps(first(n)); }
  static F select(M m, F a, F b) { return _mm256_blendv_ps(b, a, m); }
  static F copysign(F mag, F sgn) {
    const __m256 sign = _mm256_set1_ps(-0.f);
    return _mm256_or_ps(_mm256_andnot_ps(sign, mag), _mm256_and_ps(sign, sgn));
  }
  static F round(F x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  /** p · 2^n for integral n, built from the exponent bits: n below −126 flushes to 0 (results under 2^-126). */
  static F ldexp(F p, F n) {
    n = _mm256_min_ps(_mm256_max_ps(n, _mm256_set1_ps(-127.f)), _mm256_set1_ps(128.f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  }
  static constexpr float kExpLo = -88.f;
  static constexpr float kExp2Lo = -127.f;

  /** The 2W 4-bit codes of W bytes (high nibble first) looked up in a 16-entry table. */
  static void nibbles(const uint8_t* b, const float* table, F out[2]) {
    const __m256 t0 = _mm256_loadu_ps(table), t1 = _mm256_loadu_ps(table + 8);
    const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b)));
    auto look = [&](__m256i i) {
      const __m256 upper = _mm256_castsi256_ps(_mm256_cmpgt_epi32(i, _mm256_set1_epi32(7)));
      return _mm256_blendv_ps(_mm256_permutevar8x32_ps(t0, i), _mm256_permutevar8x32_ps(t1, i), upper);
    };
    const __m256 hi = look(_mm256_srli_epi32(v, 4)), lo = look(_mm256_and_si256(v, _mm256_set1_epi32(15)));
    const __m256 a = _mm256_unpacklo_ps(hi, lo), b2 = _mm256_unpackhi_ps(hi, lo);
    out[0] = _mm256_permute2f128_ps(a, b2, 0x20);
    out[1] = _mm256_permute2f128_ps(a, b2, 0x31);
  }

  // W doubles (two ymm), for kernels that must reproduce the reference's float64 arithmetic.
  struct D {
    __m256d lo, hi;
  };
  static D widen(F x) {
    return {_mm256_cvtps_pd(_mm256_castps256_ps128(x)), _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1))};
  }
  static F narrow(D x) {
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(x.lo)), _mm256_cvtpd_ps(x.hi), 1);
  }
  static D dset1(double x) { return {_mm256_set1_pd(x), _mm256_set1_pd(x)}; }
  static D dadd(D a, D b) { return {_mm256_add_pd(a.lo, b.lo), _mm256_add_pd(a.hi, b.hi)}; }
  static D dsub(D a, D b) { return {_mm256_sub_pd(a.lo, b.lo), _mm256_sub_pd(a.hi, b.hi)}; }
  static D dmul(D a, D b) { return {_mm256_mul_pd(a.lo, b.lo), _mm256_mul_pd(a.hi, b.hi)}; }
  static D ddiv(D a, D b) { return {_mm256_div_pd(a.lo, b.lo), _mm256_div_pd(a.hi, b.hi)}; }
  static D dsqrt(D a) { return {_mm256_sqrt_pd(a.lo), _mm256_sqrt_pd(a.hi)}; }

  /** 8×8 transpose of rows r[0..7] in place. */
  static void transpose(F r[8]) {
    __m256 t[8];
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
      r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
      r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
      r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    for (int i = 0; i < 4; i++) {
      t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
      t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
    }
    for (int i = 0; i < 8; i++) r[i] = t[i];
  }
};

}  // namespace
}  // namespace peft
