// AVX-512 12×32 micro-kernel: 24 zmm accumulators, two B vectors per k and one broadcast of A per row, so
// each k step is 24 FMAs for 2 loads + 12 broadcast loads: enough independent chains to cover the FMA
// latency on both ports with registers to spare. It reaches ~155 GFLOP/s on one Sapphire Rapids core
// (1024³), about its FMA peak; 14×32 (28 accumulators) measured the same, with worse edges for M = 1024.
// Contract and layouts: gemm.h.
// GCC 12's AVX-512 intrinsics trip its own -Wuninitialized (GCC bug 105593): silence it for the header.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include "gemm.h"

namespace peft::gemm::avx512 {
namespace {

constexpr int MR = 12, NV = 2, NR = 32;

/** Lanes of vector v that hold one of the first n columns. */
__mmask16 column_mask(int n, int v) {
  const int left = n - v * 16;
  return left >= 16 ? 0xffff : left <= 0 ? 0 : static_cast<__mmask16>((1u << left) - 1);
}

template <int M>
void store(const __m512 (&acc)[MR][NV], float* c, int64_t ldc, float alpha, float beta, int m, int n) {
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const __mmask16 mask[NV] = {column_mask(n, 0), column_mask(n, 1)};
  for (int i = 0; i < M && i < m; i++) {
    for (int v = 0; v < NV; v++) {
      float* p = c + i * ldc + v * 16;
      __m512 r = _mm512_mul_ps(va, acc[i][v]);
      if (beta != 0.0f) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask[v], p), r);
      _mm512_mask_storeu_ps(p, mask[v], r);
    }
  }
}

/** m rows of A at a[i·rs + k·ks] against a B sliver with rows bks apart (only n columns read). */
template <int M>
void small(int64_t kc, const float* a, int64_t rs, int64_t ks, const float* b, int64_t bks, float* c, int64_t ldc,
           float alpha, float beta, int n) {
  __m512 acc[MR][NV];
  for (int i = 0; i < M; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  const __mmask16 m0 = column_mask(n, 0), m1 = column_mask(n, 1);
  for (int64_t k = 0; k < kc; k++, b += bks) {
    const __m512 b0 = _mm512_maskz_loadu_ps(m0, b), b1 = _mm512_maskz_loadu_ps(m1, b + 16);
    for (int i = 0; i < M; i++) {
      const __m512 ai = _mm512_set1_ps(a[i * rs + k * ks]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
  store<M>(acc, c, ldc, alpha, beta, M, n);
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
    // B streams from L2: ask for it 8 steps ahead (never slower in interleaved A/B runs, up to 2% faster).
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * NR), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * NR + 16), _MM_HINT_T0);
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
    for (int i = 0; i < MR; i++) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
    a += MR;
    b += NR;
  }
  store<MR>(acc, c, ldc, alpha, beta, m, n);
}

void tile_small_32(int m, int64_t kc, const float* a, int64_t rs, int64_t ks, const float* b, int64_t bks, float* c,
                   int64_t ldc, float alpha, float beta, int n) {
  switch (m) {
    case 1: return small<1>(kc, a, rs, ks, b, bks, c, ldc, alpha, beta, n);
    case 2: return small<2>(kc, a, rs, ks, b, bks, c, ldc, alpha, beta, n);
    case 3: return small<3>(kc, a, rs, ks, b, bks, c, ldc, alpha, beta, n);
    case 4: return small<4>(kc, a, rs, ks, b, bks, c, ldc, alpha, beta, n);
    case 5: return small<5>(kc, a, rs, ks, b, bks, c, ldc, alpha, beta, n);
    case 6: return small<6>(kc, a, rs, ks, b, bks, c, ldc, alpha, beta, n);
    case 7: return small<7>(kc, a, rs, ks, b, bks, c, ldc, alpha, beta, n);
    case 8: return small<8>(kc, a, rs, ks, b, bks, c, ldc, alpha, beta, n);
    case 9: return small<9>(kc, a, rs, ks, b, bks, c, ldc, alpha, beta, n);
    case 10: return small<10>(kc, a, rs, ks, b, bks, c, ldc, alpha, beta, n);
    default: return small<11>(kc, a, rs, ks, b, bks, c, ldc, alpha, beta, n);
  }
}

}  // namespace peft::gemm::avx512
