// The blocked GEMM driver: splits each product into parts, one per pool task, and runs the BLIS loops over
// each part with the active kernel set. Layouts and the micro-kernel contract: gemm.h.
//
// Loop order inside a part (row-major C, vectors along N, so A is the broadcast operand):
//   for each mc rows of A:                 A panel (mc × kc, L3)
//     for each kc-deep block of K:         pack the A panel
//       for each nc columns:               pack the B block (kc × nc, L2): bf16/quantized weights decode here
//         for each MR-row A sliver:        the sliver (MR × kc) stays in L1 ...
//           for each NR-wide B sliver:     ... while B slivers stream from L2 through the micro-kernel
// This is BLIS's Skylake-X order with the roles of A and B swapped, as row-major requires. Below MR rows
// (token-by-token generation) A is read in place instead of packed, and a dense row-major B is read in
// place too: packing would cost as much as the product. Up to kDotRowsA rows against B stored [N, K]
// (generation's forward X·Wᵀ) become dot products over B's rows as stored (run_dot).
//
// Threads: a part is a range of C's columns (or rows) that one task computes completely, over all of K, so
// no two tasks write the same element and each element's sum is the same whichever thread runs it.
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "gemm.h"
#include "runtime.h"

namespace peft::gemm {
namespace {

// Below this much work per part (in flops, plus kBWork per element of B for the reading and decoding that
// dominate products of a few rows), waking the pool costs more than it saves.
constexpr double kMinWorkPerPart = 2e6;
constexpr double kBWork = 8;
// The dot path: k blocks up to this deep, B rows decoded this many at a time (a multiple of every pass
// width of the AVX-512 dot kernel).
constexpr int64_t kDotDepth = 4096;
constexpr int kDotGroup = 24;
// Parts along N share one packing of A up to this size (beyond it, per-part panels that stay in cache).
constexpr int64_t kSharedAFloats = 1 << 23;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

/** Packed steps for kc of K (bf16 panels hold k in pairs: gemm.h). */
int packed_depth(const KernelSet& ks, int kc) { return static_cast<int>(ceil_div(kc, ks.kpack)); }

/** Fewer rows than a tile: A is read in place (and a dense B too), where the kernel set can. */
bool reads_a_in_place(const KernelSet& ks, const Problem& p) { return p.M < ks.mr && ks.tile_small; }

/** Per-thread packing buffers, grown on demand and kept for the next call (the pool's threads persist). */
float* workspace(int slot, int64_t floats) {
  struct Buffer {
    float* data = nullptr;
    int64_t size = 0;
    ~Buffer() { std::free(data); }
  };
  thread_local Buffer buffers[4];  // A panel, B block, loader scratch, shared A (the caller's)
  Buffer& b = buffers[slot];
  if (b.size < floats) {
    std::free(b.data);
    b.data = static_cast<float*>(std::aligned_alloc(64, round_up(floats * sizeof(float), 64)));
    if (!b.data) {  // inside a pool task an exception would terminate anyway: say why first
      std::fprintf(stderr, "peft-ts gemm: out of memory for %lld packing floats\n", static_cast<long long>(floats));
      std::abort();
    }
    b.size = floats;
  }
  return b.data;
}

struct Range {
  int64_t m0, m1, n0, n1;
};

/** Rows [m0, m0 + mc) × columns [n0, n0 + nc) of C from a packed A panel and a packed (or in-place) B block. */
struct Block {
  int64_t m0, n0;
  int mc, nc, kc;
  const float* a;  // packed panel, or op(A)[m0, k0] read in place (small)
  const float* b;  // packed block, or op(B)[k0, n0] read in place
  int64_t b_sliver, b_row;  // distance between B slivers and between rows of a sliver
  float beta;
};

void macro_kernel(const KernelSet& ks, const Problem& p, const Block& blk) {
  const int depth = packed_depth(ks, blk.kc);
  for (int i = 0; i < blk.mc; i += ks.mr) {
    const float* a = blk.a + static_cast<int64_t>(i) * depth;
    float* c = p.c + (blk.m0 + i) * p.ldc + blk.n0;
    const int m = std::min(ks.mr, blk.mc - i);
    for (int j = 0; j < blk.nc; j += ks.nr)
      ks.tile(depth, a, blk.b + (j / ks.nr) * blk.b_sliver, c + j, p.ldc, p.alpha, blk.beta, m,
              std::min(ks.nr, blk.nc - j));
  }
}

void small_kernel(const KernelSet& ks, const Problem& p, const Block& blk) {
  const int64_t rs = p.trans_a ? 1 : p.lda, ks_a = p.trans_a ? p.lda : 1;
  float* c = p.c + blk.m0 * p.ldc + blk.n0;
  for (int j = 0; j < blk.nc; j += ks.nr)
    ks.tile_small(blk.mc, blk.kc, blk.a, rs, ks_a, blk.b + (j / ks.nr) * blk.b_sliver, blk.b_row, c + j, p.ldc,
                  p.alpha, blk.beta, std::min(ks.nr, blk.nc - j));
}

/** The depth of K's blocks: equal blocks of at most ks.kc (whole packed steps, so that only the last is ragged). */
int k_block(const KernelSet& ks, int64_t K) { return static_cast<int>(round_up(ceil_div(K, ceil_div(K, ks.kc)), ks.kpack)); }

/**
 * Packs all of op(A), k block after k block (block k0 is round_up(M, MR) × kc at packed + k0·round_up(M, MR)),
 * with the pool sharing the slivers out, for parts along N to share instead of each packing it again.
 */
const float* pack_a_shared(const KernelSet& ks, const Problem& p, int tasks) {
  const int64_t m_pad = round_up(p.M, ks.mr), slivers = m_pad / ks.mr;
  const int kc_max = k_block(ks, p.K);
  float* packed = workspace(3, m_pad * p.K);
  parallel_for(tasks, [&](int t) {
    const int64_t m0 = slivers * t / tasks * ks.mr, m1 = std::min(p.M, slivers * (t + 1) / tasks * ks.mr);
    for (int64_t k0 = 0; m0 < m1 && k0 < p.K; k0 += kc_max) {
      const int kc = static_cast<int>(std::min<int64_t>(kc_max, p.K - k0));
      ks.pack_a(p.a, p.lda, p.trans_a, m0, static_cast<int>(m1 - m0), k0, kc, packed + k0 / ks.kpack * m_pad + m0 * packed_depth(ks, kc));
    }
  });
  return packed;
}

/** One part of C over all of K; shared_a: op(A) from pack_a_shared, or null to pack panels here. */
void run_part(const KernelSet& ks, const Problem& p, const Range& r, const float* shared_a) {
  const bool small = reads_a_in_place(ks, p);
  const bool direct_b = small && p.b.kind == BKind::F32 && !p.b.trans;
  // Equal blocks (576 columns as 2 × 288, not 480 + 96: a thin block reuses each A sliver too little),
  // whole slivers wide.
  const int kc_max = k_block(ks, p.K);
  const int nc_max = static_cast<int>(round_up(ceil_div(r.n1 - r.n0, ceil_div(r.n1 - r.n0, ks.nc)), ks.nr));
  const int mc_max = static_cast<int>(round_up(ceil_div(r.m1 - r.m0, ceil_div(r.m1 - r.m0, ks.mc)), ks.mr));
  float* a_panel = small || shared_a ? nullptr : workspace(0, static_cast<int64_t>(mc_max) * kc_max);
  float* b_block = direct_b ? nullptr : workspace(1, static_cast<int64_t>(nc_max) * kc_max);
  float* scratch = direct_b ? nullptr : workspace(2, std::max<int64_t>(16 * round_up(kc_max, 32), 2 * nc_max));

  for (int64_t m0 = r.m0; m0 < r.m1; m0 += mc_max) {
    const int mc = static_cast<int>(std::min<int64_t>(mc_max, r.m1 - m0));
    for (int64_t k0 = 0; k0 < p.K; k0 += kc_max) {
      Block blk{m0, 0, mc, 0, static_cast<int>(std::min<int64_t>(kc_max, p.K - k0)), nullptr, nullptr, 0, 0,
                k0 == 0 ? p.beta : 1.0f};
      if (small) {
        blk.a = p.a + (p.trans_a ? k0 * p.lda + m0 : m0 * p.lda + k0);
      } else if (shared_a) {
        blk.a = shared_a + k0 / ks.kpack * round_up(p.M, ks.mr) + m0 * packed_depth(ks, blk.kc);
      } else {
        ks.pack_a(p.a, p.lda, p.trans_a, m0, mc, k0, blk.kc, a_panel);
        blk.a = a_panel;
      }
      for (int64_t n0 = r.n0; n0 < r.n1; n0 += nc_max) {
        blk.n0 = n0;
        blk.nc = static_cast<int>(std::min<int64_t>(nc_max, r.n1 - n0));
        if (direct_b) {
          blk.b = p.b.f32 + k0 * p.b.ld + n0;
          blk.b_sliver = ks.nr;
          blk.b_row = p.b.ld;
        } else {
          ks.pack_b(p.b, k0, blk.kc, n0, blk.nc, b_block, scratch);
          blk.b = b_block;
          blk.b_sliver = static_cast<int64_t>(packed_depth(ks, blk.kc)) * ks.nr;
          blk.b_row = ks.nr;
        }
        if (small)
          small_kernel(ks, p, blk);
        else
          macro_kernel(ks, p, blk);
      }
    }
  }
}

/**
 * At most kDotRowsA rows of A against B stored [N, K]: dot products over B's rows as stored (decoded a few
 * rows at a time when bf16 or quantized), A's rows contiguous (copied when A is stored transposed).
 */
void run_dot(const KernelSet& ks, const Problem& p, const Range& r) {
  const int64_t kd = ceil_div(p.K, ceil_div(p.K, kDotDepth));  // equal k blocks
  float* a_rows = p.trans_a ? workspace(0, p.M * kd) : nullptr;
  float* b_rows = p.b.kind == BKind::F32 ? nullptr : workspace(2, kDotGroup * kd);
  for (int64_t k0 = 0; k0 < p.K; k0 += kd) {
    const int64_t kc = std::min(kd, p.K - k0);
    const float* a = p.a + k0;
    int64_t lda = p.lda;
    if (p.trans_a) {
      for (int64_t i = 0; i < p.M; i++)
        for (int64_t k = 0; k < kc; k++) a_rows[i * kc + k] = p.a[(k0 + k) * p.lda + i];
      a = a_rows;
      lda = kc;
    }
    for (int64_t n0 = r.n0; n0 < r.n1; n0 += kDotGroup) {
      const int nb = static_cast<int>(std::min<int64_t>(kDotGroup, r.n1 - n0));
      const float* rows[kDotGroup];
      for (int j = 0; j < nb; j++) {
        if (b_rows) {
          ks.decode_row(p.b, n0 + j, k0, kc, b_rows + j * kc);
          rows[j] = b_rows + j * kc;
        } else {
          rows[j] = p.b.f32 + (n0 + j) * p.b.ld + k0;
        }
      }
      ks.dot(static_cast<int>(p.M), kc, a, lda, rows, nb, p.c + n0, p.ldc, p.alpha, k0 == 0 ? p.beta : 1.0f);
    }
  }
}

/** How each product is cut: `parts` ranges of whole tiles along M (split_m) or N. */
struct Plan {
  int parts = 1;
  bool split_m = false;
  bool share_a = false;  // parts along N share one packing of A (pack_a_shared)
};

/** Whether up to kDotRowsA rows against B stored [N, K] go through the dot kernel. */
bool uses_dot(const KernelSet& ks, const Problem& p) { return ks.dot && p.M <= kDotRowsA && p.b.trans; }

Plan plan(const KernelSet& ks, const Problem& p, int64_t count) {
  Plan plan;
  const int threads = num_threads();
  if (threads == 1 || count >= 4 * threads || count % threads == 0) return plan;
  const int64_t tiles_m = ceil_div(p.M, ks.mr), tiles_n = ceil_div(p.N, ks.nr);
  const bool small = reads_a_in_place(ks, p);
  const bool a_shareable = count == 1 && !small && round_up(p.M, ks.mr) * p.K <= kSharedAFloats;
  // Parts along N need all of A (packed once and shared, or again by each part when too big to keep);
  // parts along M need all of B, packed (and decoded, if quantized) again by each part.
  const double dup_a = a_shareable ? 0 : static_cast<double>(p.M) * p.K;
  const double dup_b = static_cast<double>(p.N) * p.K * (p.b.kind == BKind::Q4 || p.b.kind == BKind::Q8 ? 3 : 1);
  plan.split_m = !small && tiles_m >= threads && (dup_b < dup_a || tiles_n < threads);
  const double work = 2.0 * p.M * p.N * p.K + kBWork * p.N * p.K;
  const int64_t by_work = static_cast<int64_t>(work / kMinWorkPerPart);
  plan.parts = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({threads, by_work, plan.split_m ? tiles_m : tiles_n})));
  plan.share_a = a_shareable && plan.parts > 1 && !plan.split_m && !uses_dot(ks, p);
  return plan;
}

Range part_range(const KernelSet& ks, const Problem& p, const Plan& plan, int part) {
  if (plan.split_m) {
    const int64_t tiles = ceil_div(p.M, ks.mr);
    return {tiles * part / plan.parts * ks.mr, std::min(p.M, tiles * (part + 1) / plan.parts * ks.mr), 0, p.N};
  }
  const int64_t tiles = ceil_div(p.N, ks.nr);
  return {0, p.M, tiles * part / plan.parts * ks.nr, std::min(p.N, tiles * (part + 1) / plan.parts * ks.nr)};
}

/** C = beta·C (beta = 0 writes zeros without reading): the product of an empty K. */
void scale_c(const Problem& p) {
  for (int64_t i = 0; i < p.M; i++) {
    float* row = p.c + i * p.ldc;
    for (int64_t j = 0; j < p.N; j++) row[j] = p.beta == 0.0f ? 0.0f : p.beta * row[j];
  }
}

}  // namespace

void run(const Problem& p, int64_t count, int64_t stride_a, int64_t stride_b, int64_t stride_c) {
  if (p.M <= 0 || p.N <= 0 || count <= 0) return;
  const auto nth = [&](int64_t i) {
    Problem q = p;
    q.a += i * stride_a;
    q.c += i * stride_c;
    if (q.b.f32) q.b.f32 += i * stride_b;
    if (q.b.bf16) q.b.bf16 += i * stride_b;
    return q;
  };
  if (p.K == 0) {
    for (int64_t i = 0; i < count; i++) scale_c(nth(i));
    return;
  }
  const KernelSet& ks = p.precision == Precision::Bf16 ? bf16_kernels() : active_kernels();
  const Plan pl = plan(ks, p, count);
  const float* shared_a = pl.share_a ? pack_a_shared(ks, p, pl.parts) : nullptr;
  parallel_for(static_cast<int>(count * pl.parts), [&](int task) {
    const Problem q = nth(task / pl.parts);
    const Range r = part_range(ks, q, pl, task % pl.parts);
    if (uses_dot(ks, q))
      run_dot(ks, q, r);
    else
      run_part(ks, q, r, shared_a);
  });
}

}  // namespace peft::gemm
