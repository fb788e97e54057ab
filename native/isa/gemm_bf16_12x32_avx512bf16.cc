// AVX512_BF16 12×32 micro-kernel: the float32 kernel's register tile (gemm_tile_avx512.h), where a step
// is a pair of k: vdpbf16ps multiplies 16 column pairs of B by a broadcast pair of A and adds both
// products to 16 float32 sums, twice an FMA's work.
// Panels hold bf16 pairs (gemm.h); kc counts pairs. The instruction treats bf16 subnormals as zero.
#include "gemm.h"
#include "isa/gemm_tile_avx512.h"  // <immintrin.h>, the tile and its store

namespace peft::gemm::avx512bf16 {

namespace {

/** acc += the two products of each column pair: ai, one pair of A (its 32 bits broadcast); bv, 16 pairs of B. */
__m512 dot_pairs(__m512 acc, __m512 ai, __m512 bv) {
  return _mm512_dpbf16_ps(acc, reinterpret_cast<__m512bh>(ai), reinterpret_cast<__m512bh>(bv));
}

}  // namespace

// LoRA's products have a side of r = 8-64 rows or columns: their edge tiles (m ≤ 6, n ≤ 16) skip the padding.
void tile_12x32(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta, int m,
                int n) {
  if (m <= 6) {
    if (n <= 16) return run_tile<6, 1>(kc, a, b, c, ldc, alpha, beta, m, n, dot_pairs);
    return run_tile<6, 2>(kc, a, b, c, ldc, alpha, beta, m, n, dot_pairs);
  }
  if (n <= 16) return run_tile<12, 1>(kc, a, b, c, ldc, alpha, beta, m, n, dot_pairs);
  run_tile<12, 2>(kc, a, b, c, ldc, alpha, beta, m, n, dot_pairs);
}

}  // namespace peft::gemm::avx512bf16
