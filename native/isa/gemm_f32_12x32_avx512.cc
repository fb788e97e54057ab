// AVX-512 12×32 micro-kernel: 24 zmm accumulators, two B vectors per k and one broadcast of A per row, so
// each k step is 24 FMAs for 2 loads + 12 broadcast loads: enough independent chains to cover the FMA
// latency on both ports with registers to spare. It reaches ~155 GFLOP/s on one Sapphire Rapids core
// (1024³), about its FMA peak; 14×32 (28 accumulators) measured the same, with worse edges for M = 1024.
// Contract and layouts: gemm.h.
#include "gemm.h"
#include "isa/gemm_tile_avx512.h"  // <immintrin.h>, the tile and its store

namespace peft::gemm::avx512 {
namespace {

constexpr int MR = kTileRows, NV = kTileVectors;

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
  run_tile(kc, a, b, c, ldc, alpha, beta, m, n, [](__m512 acc, __m512 ai, __m512 bv) { return _mm512_fmadd_ps(ai, bv, acc); });
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
