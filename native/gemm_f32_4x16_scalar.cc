// Portable 4×16 micro-kernel: the reference of the micro-kernel contract (gemm.h) and the kernel of CPUs
// without AVX2. Plain loops over a 4×16 accumulator that the compiler keeps in SSE registers.
#include "gemm.h"

namespace peft::gemm::scalar {
namespace {

constexpr int MR = 4, NR = 16;

/** C[m, n] = alpha·acc + beta·C, C not read when beta = 0. */
void store(const float (&acc)[MR][NR], float* c, int64_t ldc, float alpha, float beta, int m, int n) {
  for (int i = 0; i < m; i++) {
    float* row = c + i * ldc;
    for (int j = 0; j < n; j++) row[j] = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * row[j];
  }
}

}  // namespace

void tile_4x16(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta, int m,
               int n) {
  float acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; k++, a += MR, b += NR) {
    for (int i = 0; i < MR; i++) {
      for (int j = 0; j < NR; j++) acc[i][j] += a[i] * b[j];
    }
  }
  store(acc, c, ldc, alpha, beta, m, n);
}

void tile_small_16(int m, int64_t kc, const float* a, int64_t rs, int64_t ks, const float* b, int64_t bks, float* c,
                   int64_t ldc, float alpha, float beta, int n) {
  float acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; k++, b += bks) {
    for (int i = 0; i < m; i++) {
      const float ai = a[i * rs + k * ks];
      for (int j = 0; j < n; j++) acc[i][j] += ai * b[j];
    }
  }
  store(acc, c, ldc, alpha, beta, m, n);
}

}  // namespace peft::gemm::scalar
