// AVX2/FMA 6×16 micro-kernel (BLIS Haswell's sgemm shape, transposed for row-major C): 12 ymm accumulators,
// two B vectors per k and one broadcast of A per row, so each k step is 12 FMAs for 2 loads + 6 broadcasts.
// Contract and layouts: gemm.h.
#include <immintrin.h>

#include "gemm.h"

namespace peft::gemm::avx2 {
namespace {

constexpr int MR = 6, NV = 2, NR = 16;

/** Lanes of vector v that hold one of the first n columns. */
__m256i column_mask(int n, int v) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n - v * 8), lane);
}

template <int M>
void store(const __m256 (&acc)[MR][NV], float* c, int64_t ldc, float alpha, float beta, int m, int n) {
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  const __m256i mask[NV] = {column_mask(n, 0), column_mask(n, 1)};
  for (int i = 0; i < M && i < m; i++) {
    for (int v = 0; v < NV; v++) {
      float* p = c + i * ldc + v * 8;
      __m256 r = _mm256_mul_ps(va, acc[i][v]);
      if (n == NR) {
        if (beta != 0.0f) r = _mm256_fmadd_ps(vb, _mm256_loadu_ps(p), r);
        _mm256_storeu_ps(p, r);
      } else {
        if (beta != 0.0f) r = _mm256_fmadd_ps(vb, _mm256_maskload_ps(p, mask[v]), r);
        _mm256_maskstore_ps(p, mask[v], r);
      }
    }
  }
}

/** m rows of A at a[i·rs + k·ks] against a B sliver with rows bks apart (only n columns read). */
template <int M>
void small(int64_t kc, const float* a, int64_t rs, int64_t ks, const float* b, int64_t bks, float* c, int64_t ldc,
           float alpha, float beta, int n) {
  __m256 acc[MR][NV];
  for (int i = 0; i < M; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  const __m256i mask[NV] = {column_mask(n, 0), column_mask(n, 1)};
  for (int64_t k = 0; k < kc; k++, b += bks) {
    const __m256 b0 = _mm256_maskload_ps(b, mask[0]), b1 = _mm256_maskload_ps(b + 8, mask[1]);
    for (int i = 0; i < M; i++) {
      const __m256 ai = _mm256_broadcast_ss(a + i * rs + k * ks);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
  store<M>(acc, c, ldc, alpha, beta, M, n);
}

}  // namespace

void tile_6x16(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta, int m,
               int n) {
  __m256 acc[MR][NV];
  for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; k++, a += MR, b += NR) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    for (int i = 0; i < MR; i++) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
  store<MR>(acc, c, ldc, alpha, beta, m, n);
}

void tile_small_16(int m, int64_t kc, const float* a, int64_t rs, int64_t ks, const float* b, int64_t bks, float* c,
                   int64_t ldc, float alpha, float beta, int n) {
  switch (m) {
    case 1: return small<1>(kc, a, rs, ks, b, bks, c, ldc, alpha, beta, n);
    case 2: return small<2>(kc, a, rs, ks, b, bks, c, ldc, alpha, beta, n);
    case 3: return small<3>(kc, a, rs, ks, b, bks, c, ldc, alpha, beta, n);
    case 4: return small<4>(kc, a, rs, ks, b, bks, c, ldc, alpha, beta, n);
    default: return small<5>(kc, a, rs, ks, b, bks, c, ldc, alpha, beta, n);
  }
}

}  // namespace peft::gemm::avx2
