// Register-tiled products on small tiles for the fused attention (attention.h), generic over V:
//
//   C[M, N] (+)= A(M × K) · B[K, N]
//
// A is read by broadcast at A[m·ars + k·aks], so one kernel serves A, Aᵀ and strided K/V rows alike; B and
// C are row-major (rows ldb / ldc apart) and read as vectors. The micro-kernel keeps an MR × NV-vector tile
// of C in registers (MR, NV chosen by V so accumulators + B vectors + 1 broadcast fit the register file)
// and walks K; the last vector of a row may be partial ("Tail": masked loads/stores, no over-read).
// Attention tiles are at most a few hundred on a side, so there is no packing and no cache blocking: the
// B chunk (K × NV·W) is reused from L1 by every MR-row block.
#pragma once

#include <cstdint>

#include "vmath.h"

namespace peft {
namespace {
namespace tile {

using MicroFn = void (*)(int64_t K, const float* A, int64_t ars, int64_t aks, const float* B, int64_t ldb, float* C,
                         int64_t ldc, int nlast, bool acc);

template <class V, int MR, int NV, bool Tail>
void micro(int64_t K, const float* A, int64_t ars, int64_t aks, const float* B, int64_t ldb, float* C, int64_t ldc,
           int nlast, bool acc) {
  using F = typename V::F;
  F c[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++) {
#pragma GCC unroll 4
    for (int j = 0; j < NV; j++) {
      const float* p = C + i * ldc + j * V::W;
      c[i][j] = !acc ? V::zero() : (Tail && j == NV - 1) ? V::loadn(p, nlast) : V::load(p);
    }
  }
  for (int64_t k = 0; k < K; k++) {
    F b[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; j++) {
      const float* p = B + k * ldb + j * V::W;
      b[j] = (Tail && j == NV - 1) ? V::loadn(p, nlast) : V::load(p);
    }
    const float* a = A + k * aks;
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      const F ai = V::set1(a[i * ars]);
#pragma GCC unroll 4
      for (int j = 0; j < NV; j++) c[i][j] = V::fma(ai, b[j], c[i][j]);
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++) {
#pragma GCC unroll 4
    for (int j = 0; j < NV; j++) {
      float* p = C + i * ldc + j * V::W;
      if (Tail && j == NV - 1) {
        V::storen(p, c[i][j], nlast);
      } else {
        V::store(p, c[i][j]);
      }
    }
  }
}

/** The micro-kernel for mr rows (1 ≤ mr ≤ MR) of NV vectors. */
template <class V, int NV, bool Tail, int MR = V::mr_for(NV)>
MicroFn pick_rows(int mr) {
  if constexpr (MR == 1) {
    return &micro<V, 1, NV, Tail>;
  } else {
    return mr == MR ? &micro<V, MR, NV, Tail> : pick_rows<V, NV, Tail, MR - 1>(mr);
  }
}

template <class V, bool Tail, int NV = V::kNVmax>
MicroFn pick(int nv, int mr) {
  if constexpr (NV == 1) {
    return pick_rows<V, 1, Tail>(mr);
  } else {
    return nv == NV ? pick_rows<V, NV, Tail>(mr) : pick<V, Tail, NV - 1>(nv, mr);
  }
}

/** C[M, N] = A·B (acc = false) or C += A·B (acc = true); see the file comment for the layouts. */
template <class V>
void matmul(int64_t M, int64_t N, int64_t K, const float* A, int64_t ars, int64_t aks, const float* B, int64_t ldb,
            float* C, int64_t ldc, bool acc) {
  constexpr int64_t kChunk = V::kNVmax * V::W;
  for (int64_t n0 = 0; n0 < N; n0 += kChunk) {
    const int64_t width = N - n0 < kChunk ? N - n0 : kChunk;
    const int nv = static_cast<int>((width + V::W - 1) / V::W);
    const int nlast = static_cast<int>(width - (nv - 1) * V::W);
    const bool tail = nlast != V::W;
    const int mr_full = V::mr_for(nv);
    const MicroFn full = tail ? pick<V, true>(nv, mr_full) : pick<V, false>(nv, mr_full);
    for (int64_t m0 = 0; m0 < M; m0 += mr_full) {
      const int mr = M - m0 < mr_full ? static_cast<int>(M - m0) : mr_full;
      const MicroFn fn = mr == mr_full ? full : tail ? pick<V, true>(nv, mr) : pick<V, false>(nv, mr);
      fn(K, A + m0 * ars, ars, aks, B + n0, ldb, C + m0 * ldc + n0, ldc, nlast, acc);
    }
  }
}

/**
 * dst[c, r] = scale · row(r)[c] for r < rows, c < cols, and 0 for rows ≤ r < round_up(rows, W): the
 * transpose of `rows` rows of `cols` floats into [cols, ld] (ld a multiple of W), in W × W register blocks.
 */
template <class V, class RowPtr>
void pack_transposed(int64_t rows, int64_t cols, RowPtr&& row, float scale, float* dst, int64_t ld) {
  const auto vs = V::set1(scale);
  using F = typename V::F;
  for (int64_t r0 = 0; r0 < rows; r0 += V::W) {
    for (int64_t c0 = 0; c0 < cols; c0 += V::W) {
      const int w = cols - c0 < V::W ? static_cast<int>(cols - c0) : V::W;
      F blk[V::W];
      for (int i = 0; i < V::W; i++)
        blk[i] = r0 + i < rows ? V::mul(load_first<V>(row(r0 + i) + c0, w), vs) : V::zero();
      V::transpose(blk);
      for (int j = 0; j < w; j++) V::store(dst + (c0 + j) * ld + r0, blk[j]);
    }
  }
}

}  // namespace tile
}  // namespace
}  // namespace peft
