// Packed matrix product C = alpha·op(A)·op(B) + beta·C (float32, row-major), split the BLIS way:
// packing and B-panel loaders (gemm_pack_*.cc, where bf16 and quantized weights become float32), the
// blocked driver over the thread pool (gemm_driver.cc) and register-tiled micro-kernels per ISA
// (isa/gemm_f32_<MR>x<NR>_<isa>.cc: binding.gyp compiles files by their ISA suffix). This header is the
// contract between them.
//
// Layout assumptions (every part relies on these, nothing else):
// - op(A) is [M, K], op(B) is [K, N], C is [M, N]; all row-major with explicit leading dimensions.
// - A packed sliver: MR rows of op(A) over kc steps, k-major: a[k * MR + i] = op(A)[i, k]; rows past M are
//   zero. A packed panel is consecutive slivers of MR rows.
// - B packed sliver: NR columns of op(B) over kc steps, k-major: b[k * NR + j] = op(B)[k, j]; columns past
//   N are zero. A packed block is consecutive slivers, sliver s covering columns [s·NR, s·NR + NR).
// - Zero padding makes every micro-tile full-sized inside the kernel; only the store to C looks at the
//   real m ≤ MR, n ≤ NR, so edge tiles cost a masked store, not a second code path.
// - Panels are 64-byte aligned (the driver allocates them). B slivers keep that alignment (kc·NR·4 bytes
//   is a multiple of 64 for NR = 16, 32), which the vector kernels' aligned B loads rely on; A is only
//   read through broadcasts.
// - The micro-kernel writes C = alpha·acc + beta·C for the first k block (beta = 0: C is never read) and
//   C = alpha·acc + C for later ones, so beta is applied exactly once.
// - Each C element is summed over k in ascending order within a k block, blocks in ascending order, by one
//   thread (the dot path of tiny products sums 16 lanes, then reduces them, in a fixed order too): the
//   bits do not depend on the thread count or on timing.
//
// bfloat16 operands (Precision::Bf16, torch's CPU autocast): op(A) and op(B) are rounded to bf16 (nearest
// even) as they are packed, and the products summed in float32. With AVX512_BF16 the panels hold bf16 and
// the micro-kernel runs vdpbf16ps, which takes k in pairs: a packed element is then one 32-bit word holding
// two consecutive k of one row (A) or column (B), the lower k in the low half (k past K is zero):
//   a[p * MR + i] = (op(A)[i, 2p], op(A)[i, 2p + 1]),   b[p * NR + j] = (op(B)[2p, j], op(B)[2p + 1, j]).
// The driver counts panels in packed steps (kpack k per step: 1 for float32, 2 for bf16 pairs), so
// everything above about slivers and alignment holds with kc replaced by the packed depth ceil(kc / kpack).
// Without bf16 dot products the float32 kernels run on panels rounded to bf16 values (gemm_kernels.cc):
// the same products, since a product of two bf16 values is exact in float32.
//
// ISA files (isa/*_avx512.cc, isa/*_avx512bf16.cc, isa/*_avx2.cc) are compiled with wider instruction sets than the rest. They
// must not instantiate inline functions or templates shared with baseline files (the linker keeps one copy,
// possibly the AVX-512 one, and the baseline path would then fault on older CPUs): they keep their helpers
// in an anonymous namespace and use nothing from this header but declarations and constants.
#pragma once

#include <cstdint>

namespace peft::gemm {

/** Quantized weight as bitsandbytes stores it (see src/quant/types.ts): a row-major [rows, cols] matrix. */
struct Quant4 {
  const uint8_t* codes;  // element e in byte e >> 1, even e in the high nibble
  const float* codebook;  // 16 values
  int64_t block_size;    // elements per absmax block over the flattened matrix
  const float* absmax;   // plain per-block scale, or null when double-quantized:
  const uint8_t* nested_codes;     //   scale = fround(fround(nested_map[code] · nested_absmax[b / nbs]) + offset)
  const float* nested_absmax;
  const float* nested_map;
  int64_t nested_block_size;
  double nested_offset;  // added in double and rounded once, as the reference does with a JS number
};

struct Quant8 {
  const int8_t* codes;
  const float* row_scale;  // value = code · row_scale[row]
};

enum class BKind { F32, Bf16, Q4, Q8 };

/** What the products multiply: float32 operands, or both rounded to bfloat16 (sums in float32 either way). */
enum class Precision { F32, Bf16 };

/**
 * The stored B matrix. Dense kinds: element (r, c) at data[r * ld + c]. Quantized kinds: a [rows, cols]
 * matrix flattened row-major (ld = cols). Stored shape is [N, K] when trans, [K, N] otherwise.
 */
struct BMatrix {
  BKind kind;
  bool trans;
  const float* f32;
  const uint16_t* bf16;
  Quant4 q4;
  Quant8 q8;
  int64_t ld;
  int64_t cols;  // quantized: the stored row length, which the flattened block index runs over
};

/** Packs op(B)[k0, k0 + kc) × [n0, n0 + nc) as NR-wide slivers (zero padded) into dst. */
using PackB = void (*)(const BMatrix& b, int64_t k0, int kc, int64_t n0, int nc, float* dst, float* scratch);
/** Packs op(A)[m0, m0 + mc) × [k0, k0 + kc) as MR-row slivers (zero padded) into dst. */
using PackA = void (*)(const float* a, int64_t lda, bool trans, int64_t m0, int mc, int64_t k0, int kc,
                       float* dst);
/** One micro-tile from packed slivers kc packed steps deep: C[m, n] = alpha·acc + beta·C (beta = 0: C not read). */
using Tile = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta,
                      int m, int n);
/**
 * The same for a few rows of A read in place (no packing): op(A)[i, k] = a[i * rs + k * ks], m < MR rows.
 * B is a sliver whose rows are bks floats apart: a packed sliver (bks = NR) or a dense row-major B read
 * directly (bks = ldb), of which only n columns are read.
 */
using TileSmall = void (*)(int m, int64_t kc, const float* a, int64_t rs, int64_t ks, const float* b,
                           int64_t bks, float* c, int64_t ldc, float alpha, float beta, int n);

/** Stored row `row`, columns [col0, col0 + count), as float32 (the loaders' primitive). */
using DecodeRow = void (*)(const BMatrix& b, int64_t row, int64_t col0, int64_t count, float* out);
/**
 * Dot products for a few rows: C[i, j] = alpha · Σ_k a[i·lda + k] · b[j][k] + beta·C[i, j] (beta = 0: C not
 * read) for i < m ≤ kDotRowsA and j < n; c rows are ldc apart. Token-by-token generation with a weight
 * stored [N, K]: reading B's rows as they are beats transposing them into panels used once.
 */
using Dot = void (*)(int m, int64_t kc, const float* a, int64_t lda, const float* const* b, int n, float* c,
                     int64_t ldc, float alpha, float beta);
constexpr int kDotRowsA = 8;

/** Everything the driver needs from one ISA: tile sizes, cache blocking, kernels and packers. */
struct KernelSet {
  const char* name;
  int mr, nr;
  int kc, nc, mc;  // cache blocking: a kc×nc B block stays in L2, an mc×kc A panel in L3
  Tile tile;
  TileSmall tile_small;
  PackA pack_a;
  PackB pack_b;
  DecodeRow decode_row;
  Dot dot;  // null: few rows go through tile_small
  int kpack = 1;  // k per packed step: 2 when panels hold bf16 pairs
};

/** The kernel set the driver uses on this CPU (active_isa()), assembled in gemm_kernels.cc. */
const KernelSet& active_kernels();
/**
 * The kernel set for bf16 operands: AVX512_BF16's when active, else the active float32 set with packers that
 * round the panels to bf16 values (then tile_small and dot are null: every product packs both operands).
 */
const KernelSet& bf16_kernels();

/**
 * The float32 scales of 4-bit blocks [first, first + count), de-nesting double quantization with
 * bitsandbytes' roundings. Loaders fetch them kQ4ScaleBatch at a time: the divisions happen once a batch.
 */
void q4_block_scales(const Quant4& q, int64_t first, int count, float* out);
constexpr int kQ4ScaleBatch = 64;

// Scalar reference loaders and packers (gemm_pack_ref.cc), instantiated for the scalar and AVX2 tiles.
namespace ref {
/** Stored row `row`, columns [col0, col0 + count), as float32. */
void decode_row(const BMatrix& b, int64_t row, int64_t col0, int64_t count, float* out);
template <int MR>
void pack_a(const float* a, int64_t lda, bool trans, int64_t m0, int mc, int64_t k0, int kc, float* dst);
/** scratch: max(kc, nc) floats. */
template <int NR>
void pack_b(const BMatrix& b, int64_t k0, int kc, int64_t n0, int nc, float* dst, float* scratch);
}  // namespace ref

namespace scalar {  // gemm_f32_4x16_scalar.cc
void tile_4x16(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta, int m,
               int n);
void tile_small_16(int m, int64_t kc, const float* a, int64_t rs, int64_t ks, const float* b, int64_t bks, float* c,
                   int64_t ldc, float alpha, float beta, int n);
}  // namespace scalar

namespace avx2 {  // isa/gemm_f32_6x16_avx2.cc
void tile_6x16(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta, int m,
               int n);
void tile_small_16(int m, int64_t kc, const float* a, int64_t rs, int64_t ks, const float* b, int64_t bks, float* c,
                   int64_t ldc, float alpha, float beta, int n);
}  // namespace avx2

namespace avx512 {  // isa/gemm_f32_12x32_avx512.cc, isa/gemm_pack_avx512.cc, isa/gemm_f32_dot_avx512.cc
void tile_12x32(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta, int m,
                int n);
void tile_small_32(int m, int64_t kc, const float* a, int64_t rs, int64_t ks, const float* b, int64_t bks, float* c,
                   int64_t ldc, float alpha, float beta, int n);
void pack_a_12(const float* a, int64_t lda, bool trans, int64_t m0, int mc, int64_t k0, int kc, float* dst);
void decode_row(const BMatrix& b, int64_t row, int64_t col0, int64_t count, float* out);
void dot(int m, int64_t kc, const float* a, int64_t lda, const float* const* b, int n, float* c, int64_t ldc,
         float alpha, float beta);
/** scratch: max(16·roundup(kc, 16), nc) floats. */
void pack_b_32(const BMatrix& b, int64_t k0, int kc, int64_t n0, int nc, float* dst, float* scratch);
}  // namespace avx512

namespace avx512bf16 {  // isa/gemm_bf16_12x32_avx512bf16.cc, isa/gemm_pack_bf16_avx512bf16.cc
/** kc: packed steps (k pairs); a, b: bf16-pair panels as gemm.h lays them out. */
void tile_12x32(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, float alpha, float beta, int m,
                int n);
/** dst: MR-row slivers of bf16 pairs, ceil(kc / 2) steps deep. */
void pack_a_12(const float* a, int64_t lda, bool trans, int64_t m0, int mc, int64_t k0, int kc, float* dst);
/** dst: NR-wide slivers of bf16 pairs; scratch: max(16·roundup(kc, 32), 2·nc) floats. */
void pack_b_32(const BMatrix& b, int64_t k0, int kc, int64_t n0, int nc, float* dst, float* scratch);
}  // namespace avx512bf16

/** The product for one problem (no batch); the driver splits it over the pool. */
struct Problem {
  int64_t M, N, K;
  const float* a;
  int64_t lda;
  bool trans_a;
  BMatrix b;
  float* c;
  int64_t ldc;
  float alpha, beta;
  Precision precision;
};

/** Runs `count` products; problem i has its A, dense B and C pointers advanced by i times the strides. */
void run(const Problem& p, int64_t count, int64_t stride_a, int64_t stride_b, int64_t stride_c);

}  // namespace peft::gemm
