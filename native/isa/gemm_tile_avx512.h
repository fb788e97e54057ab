// The AVX-512 12×32 micro-tile, shared by the float32 kernel and the AVX512_BF16 one, which differ only in
// the multiply-add of a step: 24 zmm float32 sums, two B vectors and one broadcast of A per row and step,
// and the store to C. Include only from native/isa/*_avx512*.cc; the anonymous namespace gives each kernel
// file its own copy (see gemm.h on ISA files).
#pragma once

// GCC 12's AVX-512 intrinsics trip its own -Wuninitialized (GCC bug 105593): silence it for the header.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>

namespace peft::gemm {
namespace {

constexpr int kTileRows = 12, kTileVectors = 2, kTileCols = 32;

/** Lanes of vector v that hold one of the first n columns. */
__mmask16 column_mask(int n, int v) {
  const int left = n - v * 16;
  return left >= 16 ? 0xffff : left <= 0 ? 0 : static_cast<__mmask16>((1u << left) - 1);
}

/** C[i, j] = alpha·acc + beta·C (beta = 0: C not read) for the first min(M, m) rows and n columns (≤ 16·NV). */
template <int M, int NV = kTileVectors>
void store(const __m512 (&acc)[kTileRows][kTileVectors], float* c, int64_t ldc, float alpha, float beta, int m, int n) {
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const __mmask16 mask[kTileVectors] = {column_mask(n, 0), column_mask(n, 1)};
  for (int i = 0; i < M && i < m; i++) {
    for (int v = 0; v < NV; v++) {
      float* p = c + i * ldc + v * 16;
      __m512 r = _mm512_mul_ps(va, acc[i][v]);
      if (beta != 0.0f) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask[v], p), r);
      _mm512_mask_storeu_ps(p, mask[v], r);
    }
  }
}

/**
 * C[m, n] = alpha·acc + beta·C over kc packed steps of a 12-row A sliver and a 32-column B sliver (gemm.h);
 * madd(acc, a, b) adds the step's products of a (one packed A element, broadcast) and b (16 packed B
 * elements) to acc. Only the first Rows rows and 16·NV columns are computed: an edge tile with m ≤ Rows and
 * n ≤ 16·NV (the other rows and columns of the slivers are zero padding) costs that much less.
 */
template <int Rows = kTileRows, int NV = kTileVectors, class Madd>
void run_tile(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta, int m, int n,
              Madd madd) {
  __m512 acc[kTileRows][kTileVectors];
  for (int i = 0; i < kTileRows; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int i = 0; i < Rows; i++) {  // the C tile is needed only at the end: start fetching it now
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + kTileCols - 1), _MM_HINT_T0);
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; k++) {
    // B streams from L2: ask for it 8 steps ahead (never slower in interleaved A/B runs, up to 2% faster).
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * kTileCols), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * kTileCols + 16), _MM_HINT_T0);
    const __m512 b0 = _mm512_load_ps(b), b1 = NV > 1 ? _mm512_load_ps(b + 16) : b0;
    for (int i = 0; i < Rows; i++) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc[i][0] = madd(acc[i][0], ai, b0);
      if (NV > 1) acc[i][1] = madd(acc[i][1], ai, b1);
    }
    a += kTileRows;
    b += kTileCols;
  }
  store<Rows, NV>(acc, c, ldc, alpha, beta, m, n);
}

}  // namespace
}  // namespace peft::gemm
