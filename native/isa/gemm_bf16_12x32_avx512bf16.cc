// AVX512_BF16 12×32 micro-kernel: the float32 kernel's register tile (24 zmm accumulators, two B vectors
// and one broadcast of A per row and step), where a step is a pair of k: vdpbf16ps multiplies 16 column
// pairs of B by a broadcast pair of A and adds both products to 16 float32 sums, twice an FMA's work.
// Panels hold bf16 pairs (gemm.h); kc counts pairs. The instruction treats bf16 subnormals as zero.
// GCC 12's AVX-512 intrinsics trip its own -Wuninitialized (GCC bug 105593): silence it for the header.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include "gemm.h"

namespace peft::gemm::avx512bf16 {
namespace {

constexpr int MR = 12, NV = 2, NR = 32;

/** Lanes of vector v that hold one of the first n columns. */
__mmask16 column_mask(int n, int v) {
  const int left = n - v * 16;
  return left >= 16 ? 0xffff : left <= 0 ? 0 : static_cast<__mmask16>((1u << left) - 1);
}

void store(const __m512 (&acc)[MR][NV], float* c, int64_t ldc, float alpha, float beta, int m, int n) {
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const __mmask16 mask[NV] = {column_mask(n, 0), column_mask(n, 1)};
  for (int i = 0; i < m; i++) {
    for (int v = 0; v < NV; v++) {
      float* p = c + i * ldc + v * 16;
      __m512 r = _mm512_mul_ps(va, acc[i][v]);
      if (beta != 0.0f) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask[v], p), r);
      _mm512_mask_storeu_ps(p, mask[v], r);
    }
  }
}

}  // namespace

void tile_12x32(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta, int m,
                int n) {
  __m512 acc[MR][NV];
  for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int i = 0; i < MR; i++) {  // the C tile is needed only at the end: start fetching it now
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + NR - 1), _MM_HINT_T0);
  }
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; k++) {
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * NR), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * NR + 16), _MM_HINT_T0);
    const __m512bh b0 = reinterpret_cast<__m512bh>(_mm512_load_ps(b));
    const __m512bh b1 = reinterpret_cast<__m512bh>(_mm512_load_ps(b + 16));
    for (int i = 0; i < MR; i++) {
      const __m512bh ai = reinterpret_cast<__m512bh>(_mm512_set1_ps(a[i]));  // the pair's 32 bits, broadcast
      acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
      acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
    }
    a += MR;
    b += NR;
  }
  store(acc, c, ldc, alpha, beta, m, n);
}

}  // namespace peft::gemm::avx512bf16
