// AVX-512 dot-product kernel for products with at most 8 rows of A and B stored [N, K] (generation's
// X·Wᵀ): vectors run along k over A's and B's rows as stored, and each accumulator is reduced once at the
// end. Per 16 k: m + J loads for m·J FMAs, with J (B rows per pass) chosen so the accumulators, A's
// vectors and one B vector fit the 32 registers. Contract: gemm.h (Dot).
// GCC 12's AVX-512 intrinsics trip its own -Wuninitialized (GCC bug 105593): silence it for the header.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include "gemm.h"

namespace peft::gemm::avx512 {
namespace {

__mmask16 first_lanes(int64_t n) { return n >= 16 ? 0xffff : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1); }

/** B rows per pass for M rows of A: M·J accumulators + M + 1 registers ≤ 32. */
constexpr int rows_per_pass(int M) { return M <= 3 ? 8 : M == 4 ? 6 : M <= 6 ? 4 : M == 7 ? 3 : 2; }

template <int M, int J>
void pass(int64_t kc, const float* a, int64_t lda, const float* const* b, int n, float* c, int64_t ldc, float alpha,
          float beta) {
  const float* rows[J];
  for (int j = 0; j < J; j++) rows[j] = b[j < n ? j : n - 1];  // missing rows repeat the last (not stored)
  __m512 acc[M][J];
  for (int i = 0; i < M; i++)
    for (int j = 0; j < J; j++) acc[i][j] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; k += 16) {
    const __mmask16 mask = first_lanes(kc - k);
    __m512 av[M];
    for (int i = 0; i < M; i++) av[i] = _mm512_maskz_loadu_ps(mask, a + i * lda + k);
    for (int j = 0; j < J; j++) {
      const __m512 bv = _mm512_maskz_loadu_ps(mask, rows[j] + k);
      for (int i = 0; i < M; i++) acc[i][j] = _mm512_fmadd_ps(av[i], bv, acc[i][j]);
    }
  }
  for (int i = 0; i < M; i++) {
    for (int j = 0; j < J && j < n; j++) {
      float* p = c + i * ldc + j;
      const float s = alpha * _mm512_reduce_add_ps(acc[i][j]);
      *p = beta == 0.0f ? s : s + beta * *p;
    }
  }
}

template <int M>
void dot_rows(int64_t kc, const float* a, int64_t lda, const float* const* b, int n, float* c, int64_t ldc,
              float alpha, float beta) {
  constexpr int J = rows_per_pass(M);
  for (int j = 0; j < n; j += J) pass<M, J>(kc, a, lda, b + j, n - j < J ? n - j : J, c + j, ldc, alpha, beta);
}

}  // namespace

void dot(int m, int64_t kc, const float* a, int64_t lda, const float* const* b, int n, float* c, int64_t ldc,
         float alpha, float beta) {
  switch (m) {
    case 1: return dot_rows<1>(kc, a, lda, b, n, c, ldc, alpha, beta);
    case 2: return dot_rows<2>(kc, a, lda, b, n, c, ldc, alpha, beta);
    case 3: return dot_rows<3>(kc, a, lda, b, n, c, ldc, alpha, beta);
    case 4: return dot_rows<4>(kc, a, lda, b, n, c, ldc, alpha, beta);
    case 5: return dot_rows<5>(kc, a, lda, b, n, c, ldc, alpha, beta);
    case 6: return dot_rows<6>(kc, a, lda, b, n, c, ldc, alpha, beta);
    case 7: return dot_rows<7>(kc, a, lda, b, n, c, ldc, alpha, beta);
    default: return dot_rows<8>(kc, a, lda, b, n, c, ldc, alpha, beta);
  }
}

}  // namespace peft::gemm::avx512
