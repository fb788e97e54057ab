// Fused scaled dot-product attention (flash-attention style), forward and backward, generic over V.
//
// Contract (src/backend/kernels.ts, AttentionDims): q [B, T, nh, hd]; k, v rows kv_row_stride apart and
// batches kv_batch_stride apart (a KV cache read in place); query head h reads KV head h / G (G = nh/nkv);
// query t sits at p = S − T + t and, when causal, sees keys s ≤ p; with a window W > 0 also only keys
// s > p − W (transformers' sliding window); key_mask [B, S] (0 = padding). Scores are scale·q·k, or with a
// soft cap c > 0, c·tanh(scale·q·k / c) (Gemma 2). out [B, T, nh, hd]; lse [B, nh, T] (−∞ and a zero
// output row for a query that sees no key).
//
// Work unit. A query tile is tile_t time steps × the G query heads of one KV head (rows r = t·G + g, so
// the heads share every K/V block they load; a decode step T = 1 still has G rows). Scores are formed
// transposed, Sᵀ = K·Qᵀ [keys × rows]: K rows are read in place by broadcast, Qᵀ is packed once per tile,
// and the softmax statistics run down the columns, one vector lane per query row (no horizontal sums).
//
// Forward, per (batch, KV head, query tile[, key split]): for each block of kForwardKeyBlock keys,
// Sᵀ = K·Qᵀ (Qᵀ pre-scaled by scale·log2 e; with a soft cap by scale/c, then c·log2 e·tanh), mask (causal,
// window, padding) only on blocks that need it, online
// softmax (reference max m and sum l per row, exp2 on the vector unit, lazy rescaling), rescale O where m
// moved, O += P·V. Never more than one block of scores exists. A window bounds each tile's key range, so
// blocks before its first visible key are never touched. Decode-sized problems (few tiles) also split the
// keys that anyone sees, and the partial (m, l, O) are merged afterwards in split order.
//
// Backward (FlashAttention-2 order), per (batch, KV head[, key split]): Q, dO (rows and transposed),
// lse and D = rowsum(dO ⊙ O) are staged once; then for each key block, over the query tiles that see it:
//   Pᵀ = exp2(K·(scale·log2e·Q)ᵀ − lse·log2e)   (recomputed from lse; masked entries 0)
//   dV_blk += Pᵀ·dO,  dPᵀ = V·dOᵀ,  dSᵀ = Pᵀ ⊙ (dPᵀ − D)·scale [⊙ (1 − tanh²) with a soft cap],
//   dK_blk += dSᵀ·Q,  dQ += dS·K
// dK/dV of a block are finished before the next; dQ of the whole (batch, KV head) stays in the task.
// Every output row has one owner task, so there are no atomics; with key splits (few tasks) each split
// keeps its own dQ and the splits are added in order afterwards. All splits depend only on the shapes.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "attention_tile.h"
#include "parallel.h"
#include "vmath.h"

namespace peft {

struct AttentionArgs {
  const float* q;
  const float* k;
  const float* v;
  int64_t B, T, S, nh, nkv, hd;
  float scale;
  bool causal;
  const uint8_t* key_mask;  // [B, S] or null
  int64_t kv_row_stride, kv_batch_stride;
  int64_t window;  // keys s > p − window only; 0 = no window
  float softcap;   // 0 = none
};

struct AttentionTable {
  void (*forward)(const AttentionArgs& a, float* out, float* lse);
  void (*backward)(const AttentionArgs& a, const float* out, const float* lse, const float* dout, float* dq, float* dk,
                   float* dv);
};
extern const AttentionTable kAttentionScalar, kAttentionAvx2, kAttentionAvx512;

namespace {
namespace attention {

// Keys per block: the backward's smaller blocks waste less work on the causal diagonal, which pays for
// their overhead there (5 products per block); the forward is better with fewer, larger blocks.
constexpr int64_t kForwardKeyBlock = 64;
constexpr int64_t kBackwardKeyBlock = 32;
constexpr int64_t kMaxTileRows = 64;  // G · tile_t at most: a tile's Qᵀ, scores and O stay near L1 (measured best)
constexpr int64_t kMinTasks = 8;      // below this many tiles, split the keys too
constexpr double kLn2 = 0.6931471805599453;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kRescaleSlack = 8.f;  // log2 units: probabilities stay ≤ 256 between rescales

/** How the work is cut (a function of the shapes only). */
struct Plan {
  int64_t G;          // query heads per KV head
  int64_t tile_t;     // time steps per query tile
  int64_t tiles;      // query tiles per (batch, KV head)
  int64_t key_block;  // keys per block
  int64_t blocks;     // key blocks
  int64_t max_rows;   // rows of the largest tile, rounded up to whole vectors
};

template <class V>
Plan make_plan(const AttentionArgs& a, int64_t key_block) {
  Plan p;
  p.key_block = key_block;
  p.G = a.nh / a.nkv;
  p.tile_t = 64;
  while (p.tile_t > 1 && p.G * p.tile_t > kMaxTileRows) p.tile_t /= 2;
  p.tiles = (a.T + p.tile_t - 1) / p.tile_t;
  p.blocks = (a.S + key_block - 1) / key_block;
  p.max_rows = (p.G * p.tile_t + V::W - 1) / V::W * V::W;
  return p;
}

/** Query tile i: time steps [t0, t0 + nt), rows M = G·nt (t-major), padded to Mp = whole vectors. */
struct Tile {
  int64_t t0, nt, M, Mp;
};

template <class V>
Tile make_tile(const AttentionArgs& a, const Plan& p, int64_t i) {
  Tile t;
  t.t0 = i * p.tile_t;
  t.nt = a.T - t.t0 < p.tile_t ? a.T - t.t0 : p.tile_t;
  t.M = p.G * t.nt;
  t.Mp = (t.M + V::W - 1) / V::W * V::W;
  return t;
}

/** Offset of row (b, t, h) of a [B, T, nh, hd] tensor. */
inline int64_t q_offset(const AttentionArgs& a, int64_t b, int64_t t, int64_t h) {
  return ((b * a.T + t) * a.nh + h) * a.hd;
}

inline int64_t kv_offset(const AttentionArgs& a, int64_t b, int64_t s, int64_t kvh) {
  return b * a.kv_batch_stride + s * a.kv_row_stride + kvh * a.hd;
}

/** The last key query time t may see (−1 or less: none). */
inline int64_t last_key(const AttentionArgs& a, int64_t t) { return a.causal ? a.S - a.T + t : a.S - 1; }

/** The first key query time t may see (0 or less: from the start). */
inline int64_t first_key(const AttentionArgs& a, int64_t t) { return a.window > 0 ? a.S - a.T + t - a.window + 1 : 0; }

/** How many query times see at least one key of [s_lo, s_hi] (first_key and last_key grow with t). */
inline int64_t queries_seeing(const AttentionArgs& a, int64_t s_lo, int64_t s_hi) {
  int64_t lo = 0, hi = a.T;  // t in [lo, hi)
  if (a.causal && s_lo - (a.S - a.T) > lo) lo = s_lo - (a.S - a.T);
  if (a.window > 0 && s_hi + a.window - (a.S - a.T) < hi) hi = s_hi + a.window - (a.S - a.T);
  return hi > lo ? hi - lo : 0;
}

/** Scores in place: c·log2e·tanh(St) (St = scale/c · q·k); with `dtanh`, also 1 − tanh² for the backward. */
template <class V>
void soft_cap(float* St, int64_t n, float c, float* dtanh) {
  const auto vc = V::set1(c * kLog2e), one = V::set1(1.f);
  for_vectors<V>(0, n, [&](int64_t i, int w) {
    const auto t = vtanh<V>(load_first<V>(St + i, w));
    store_first<V>(St + i, V::mul(vc, t), w);
    if (dtanh) store_first<V>(dtanh + i, V::fnma(t, t, one), w);
  });
}

/** What Qᵀ is packed with: scale·log2 e, so that scores come out in log2 units; scale/c under a soft cap. */
inline float q_pack_scale(const AttentionArgs& a) { return a.softcap > 0 ? a.scale / a.softcap : a.scale * kLog2e; }

/** Key blocks [lo, hi) of split `i` of `n`, cutting where the running sum of weight(block) passes i/n. */
template <class Weight>
void split_blocks(int64_t blocks, int64_t n, int64_t i, Weight&& weight, int64_t* lo, int64_t* hi) {
  double total = 0;
  for (int64_t j = 0; j < blocks; j++) total += weight(j);
  auto cut = [&](int64_t k) {
    if (k <= 0) return int64_t{0};
    if (k >= n) return blocks;
    double run = 0;
    int64_t j = 0;
    while (j < blocks && run + 0.5 * weight(j) < total * static_cast<double>(k) / static_cast<double>(n))
      run += weight(j++);
    return j;
  };
  *lo = cut(i);
  *hi = cut(i + 1);
}

/**
 * Online-softmax update for one block of scores St [nb × Mp] (already scaled to log2 units: Qᵀ carries
 * scale·log2 e), probabilities written in place. Per row r (a vector lane): the reference point m moves
 * up only when the block's max exceeds it by more than kRescaleSlack (lazy rescaling: the probabilities
 * stay ≤ 2^kRescaleSlack, harmless in float32, and O and l are rescaled far less often); then
 * alpha = 2^(m_old − m), l ← l·alpha + Σ_s 2^(St − m). Entries of keys after the row's last key (`diag`),
 * before its first (`low`), or of padding keys, are set to −∞ first and so give 0.
 */
template <class V>
void softmax_block(float* St, int64_t nb, int64_t Mp, int64_t s0, const float* lim, bool diag, const float* first,
                   bool low, const uint8_t* key_mask, float* m, float* l, float* alpha) {
  using F = typename V::F;
  const F ninf = V::set1(-INFINITY);
  const bool masked = diag || low || key_mask;
  for (int64_t j = 0; j < Mp; j += V::W) {
    F mx0 = ninf, mx1 = ninf;
    if (masked) {
      const F vlim = V::load(lim + j);
      const F vfirst = V::load(first + j);
      for (int64_t s = 0; s < nb; s++) {
        float* p = St + s * Mp + j;
        F x = V::load(p);
        const F ks = V::set1(static_cast<float>(s0 + s));
        if (key_mask && !key_mask[s]) {
          x = ninf;
        } else {
          if (diag) x = V::select(V::le(ks, vlim), x, ninf);
          if (low) x = V::select(V::le(vfirst, ks), x, ninf);
        }
        V::store(p, x);
        mx0 = V::max(mx0, x);
      }
    } else {
      int64_t s = 0;
      for (; s + 1 < nb; s += 2) {
        mx0 = V::max(mx0, V::load(St + s * Mp + j));
        mx1 = V::max(mx1, V::load(St + (s + 1) * Mp + j));
      }
      if (s < nb) mx0 = V::max(mx0, V::load(St + s * Mp + j));
    }
    const F mx = V::max(mx0, mx1);
    const F m_old = V::load(m + j);
    const F m_new = V::select(V::lt(V::add(m_old, V::set1(kRescaleSlack)), mx), mx, m_old);
    // A row that has seen no key yet keeps m = −∞; subtract 0 instead so that no ∞ − ∞ appears.
    const F m_sub = V::select(V::eq(m_new, ninf), V::zero(), m_new);
    F sum0 = V::zero(), sum1 = V::zero();
    int64_t s = 0;
    for (; s + 1 < nb; s += 2) {
      float* p = St + s * Mp + j;
      const F e0 = vexp2<V, true>(V::sub(V::load(p), m_sub));
      const F e1 = vexp2<V, true>(V::sub(V::load(p + Mp), m_sub));
      V::store(p, e0);
      V::store(p + Mp, e1);
      sum0 = V::add(sum0, e0);
      sum1 = V::add(sum1, e1);
    }
    if (s < nb) {
      float* p = St + s * Mp + j;
      const F e = vexp2<V, true>(V::sub(V::load(p), m_sub));
      V::store(p, e);
      sum0 = V::add(sum0, e);
    }
    const F a = vexp2<V, true>(V::sub(m_old, m_sub));
    V::store(l + j, V::fma(V::load(l + j), a, V::add(sum0, sum1)));
    V::store(m + j, m_new);
    V::store(alpha + j, a);
  }
}

/** Writes a finished row: out = O / l (zeros when the row saw no key), lse = m·ln 2 + ln l (or −∞). */
template <class V>
void finish_row(const float* O, float m, float l, int64_t hd, float* out, float* lse) {
  if (l > 0) {
    const auto inv = V::set1(1.f / l);
    for_vectors<V>(0, hd, [&](int64_t d, int n) { store_first<V>(out + d, V::mul(load_first<V>(O + d, n), inv), n); });
    *lse = static_cast<float>(static_cast<double>(m) * kLn2 + std::log(static_cast<double>(l)));
  } else {
    for_vectors<V>(0, hd, [&](int64_t d, int n) { store_first<V>(out + d, V::zero(), n); });
    *lse = -INFINITY;
  }
}

/**
 * Forward of one query tile over key blocks [kb_lo, kb_hi). With `partial` null the tile's rows are
 * finished into out/lse; otherwise each row's (O, m, l) is stored at partial + r·(hd + 2) for the merge.
 */
template <class V>
void forward_tile(const AttentionArgs& a, const Plan& p, int64_t b, int64_t kvh, int64_t ti, int64_t kb_lo,
                  int64_t kb_hi, float* out, float* lse, float* partial) {
  const Tile tl = make_tile<V>(a, p, ti);
  const int64_t hd = a.hd, M = tl.M, Mp = tl.Mp;
  const int64_t kb_size = p.key_block;
  float* QT = thread_scratch(static_cast<size_t>(hd * Mp + kb_size * Mp + M * hd + 5 * Mp));
  float* St = QT + hd * Mp;
  float* O = St + kb_size * Mp;
  float* m = O + M * hd;
  float* l = m + Mp;
  float* alpha = l + Mp;
  float* lim = alpha + Mp;
  float* first = lim + Mp;

  tile::pack_transposed<V>(
      M, hd, [&](int64_t r) { return a.q + q_offset(a, b, tl.t0 + r / p.G, kvh * p.G + r % p.G); }, q_pack_scale(a),
      QT, Mp);
  for (int64_t r = 0; r < Mp; r++) {
    lim[r] = r < M ? static_cast<float>(last_key(a, tl.t0 + r / p.G)) : -1.f;
    first[r] = r < M ? static_cast<float>(first_key(a, tl.t0 + r / p.G)) : 0.f;
    m[r] = -INFINITY;
    l[r] = 0.f;
  }
  std::memset(O, 0, sizeof(float) * M * hd);

  const int64_t seen = last_key(a, tl.t0 + tl.nt - 1) + 1;  // keys the tile's last row sees
  int64_t s_end = kb_hi * kb_size;
  if (s_end > seen) s_end = seen;
  if (s_end > a.S) s_end = a.S;
  // The block holding the tile's first row's first key: earlier blocks are outside every row's window.
  int64_t s_begin = kb_lo * kb_size;
  const int64_t from = first_key(a, tl.t0) / kb_size * kb_size;
  if (from > s_begin) s_begin = from;
  for (int64_t s0 = s_begin; s0 < s_end; s0 += kb_size) {
    const int64_t nb = s_end - s0 < kb_size ? s_end - s0 : kb_size;
    const float* kb = a.k + kv_offset(a, b, s0, kvh);
    const float* vb = a.v + kv_offset(a, b, s0, kvh);
    tile::matmul<V>(nb, Mp, hd, kb, a.kv_row_stride, 1, QT, Mp, St, Mp, false);  // Sᵀ = K·Qᵀ
    if (a.softcap > 0) soft_cap<V>(St, nb * Mp, a.softcap, nullptr);
    const bool diag = s0 + nb - 1 > last_key(a, tl.t0);
    const bool low = s0 < first_key(a, tl.t0 + tl.nt - 1);
    softmax_block<V>(St, nb, Mp, s0, lim, diag, first, low, a.key_mask ? a.key_mask + b * a.S + s0 : nullptr, m, l,
                     alpha);
    for (int64_t r = 0; r < M; r++) {
      if (alpha[r] == 1.f) continue;
      const auto va = V::set1(alpha[r]);
      for_vectors<V>(0, hd, [&](int64_t d, int n) {
        store_first<V>(O + r * hd + d, V::mul(load_first<V>(O + r * hd + d, n), va), n);
      });
    }
    tile::matmul<V>(M, hd, nb, St, 1, Mp, vb, a.kv_row_stride, O, hd, true);  // O += P·V
  }

  for (int64_t r = 0; r < M; r++) {
    if (partial) {
      float* pr = partial + r * (hd + 2);
      std::memcpy(pr, O + r * hd, sizeof(float) * hd);
      pr[hd] = m[r];
      pr[hd + 1] = l[r];
    } else {
      const int64_t t = tl.t0 + r / p.G, h = kvh * p.G + r % p.G;
      finish_row<V>(O + r * hd, m[r], l[r], hd, out + q_offset(a, b, t, h), lse + (b * a.nh + h) * a.T + t);
    }
  }
}

/** Merges the key splits of one tile: m = max m_k, l = Σ l_k·2^(m_k − m), O = Σ O_k·2^(m_k − m). */
template <class V>
void merge_splits(const AttentionArgs& a, const Plan& p, int64_t b, int64_t kvh, int64_t ti, const float* parts,
                  int64_t splits, int64_t part_stride, float* out, float* lse) {
  const Tile tl = make_tile<V>(a, p, ti);
  const int64_t hd = a.hd;
  float* O = thread_scratch(static_cast<size_t>(hd));
  for (int64_t r = 0; r < tl.M; r++) {
    float m = -INFINITY;
    for (int64_t k = 0; k < splits; k++) m = std::fmax(m, parts[k * part_stride + r * (hd + 2) + hd]);
    float l = 0;
    std::memset(O, 0, sizeof(float) * hd);
    if (m != -INFINITY) {
      for (int64_t k = 0; k < splits; k++) {
        const float* pr = parts + k * part_stride + r * (hd + 2);
        const float w = std::exp2(pr[hd] - m);  // 0 for a split that saw no key
        l += w * pr[hd + 1];
        const auto vw = V::set1(w);
        for_vectors<V>(0, hd, [&](int64_t d, int n) {
          store_first<V>(O + d, V::fma(vw, load_first<V>(pr + d, n), load_first<V>(O + d, n)), n);
        });
      }
    }
    const int64_t t = tl.t0 + r / p.G, h = kvh * p.G + r % p.G;
    finish_row<V>(O, m, l, hd, out + q_offset(a, b, t, h), lse + (b * a.nh + h) * a.T + t);
  }
}

template <class V>
void forward(const AttentionArgs& a, float* out, float* lse) {
  const Plan p = make_plan<V>(a, kForwardKeyBlock);
  const int64_t units = a.B * a.nkv * p.tiles;
  if (units == 0) return;
  // Blocks before the first query's window are seen by nobody: split only the rest.
  const int64_t kb_first = first_key(a, 0) > 0 ? first_key(a, 0) / p.key_block : 0;
  const int64_t live = p.blocks - kb_first;
  int64_t splits = units >= kMinTasks || live <= 1 ? 1 : (kMinTasks + units - 1) / units;
  if (splits > live) splits = live > 0 ? live : 1;
  const int64_t part_stride = p.max_rows * (a.hd + 2);
  float* parts = splits > 1 ? call_scratch(static_cast<size_t>(units * splits * part_stride)) : nullptr;
  parallel_for(static_cast<int>(units * splits), [&](int task) {
    // Later tiles of a causal mask see more keys: hand them out first so the threads finish together.
    const int64_t split = task % splits, unit = task / splits;
    const int64_t ti = p.tiles - 1 - unit % p.tiles, bk = unit / p.tiles;
    const int64_t b = bk / a.nkv, kvh = bk % a.nkv;
    int64_t lo, hi;
    split_blocks(live, splits, split, [](int64_t) { return 1.0; }, &lo, &hi);
    float* part = parts ? parts + ((bk * p.tiles + ti) * splits + split) * part_stride : nullptr;
    forward_tile<V>(a, p, b, kvh, ti, kb_first + lo, kb_first + hi, out, lse, part);
  });
  if (!parts) return;
  parallel_for(static_cast<int>(units), [&](int unit) {
    const int64_t ti = unit % p.tiles, bk = unit / p.tiles;
    merge_splits<V>(a, p, bk / a.nkv, bk % a.nkv, ti, parts + unit * splits * part_stride, splits, part_stride, out,
                    lse);
  });
}

// ---- backward ----

/** Per-tile staging of the backward: Qᵀ, dOᵀ [hd × Mp] and per-row −lse·log2e, D, last and first key. */
struct Staged {
  float* QT;
  float* dOT;
  float* nlse2;
  float* D;
  float* lim;
  float* first;
};

/**
 * Pᵀ from recomputed scores St [nb × Mp] (log2 units) in place: 2^(St − lse·log2e), 0 where masked.
 * Padded rows have −lse·log2e = −∞ and so give 0 without a mask. (A row that sees no key has lse = −∞;
 * all its entries are masked: by the padding mask, or by the causal one, which `diag` then covers.)
 * `low` masks keys before a row's first key (the window).
 */
template <class V>
void probabilities(float* St, int64_t nb, int64_t Mp, int64_t s0, const Staged& st, bool diag, bool low,
                   const uint8_t* key_mask) {
  using F = typename V::F;
  for (int64_t s = 0; s < nb; s++) {
    const bool dead = key_mask && !key_mask[s];
    const F ks = V::set1(static_cast<float>(s0 + s));
    for (int64_t j = 0; j < Mp; j += V::W) {
      float* p = St + s * Mp + j;
      F e = dead ? V::zero() : vexp2<V>(V::add(V::load(p), V::load(st.nlse2 + j)));
      if (diag) e = V::select(V::le(ks, V::load(st.lim + j)), e, V::zero());
      if (low) e = V::select(V::le(V::load(st.first + j), ks), e, V::zero());
      V::store(p, e);
    }
  }
}

/** dSᵀ = Pᵀ ⊙ (dPᵀ − D)·scale, into dPt; times dtanh (1 − tanh², same layout) under a soft cap. */
template <class V>
void score_grads(const float* Pt, float* dPt, int64_t nb, int64_t Mp, const float* D, float scale,
                 const float* dtanh) {
  const auto vs = V::set1(scale);
  for (int64_t s = 0; s < nb; s++) {
    for (int64_t j = 0; j < Mp; j += V::W) {
      float* g = dPt + s * Mp + j;
      auto ds = V::mul(V::mul(V::load(Pt + s * Mp + j), V::sub(V::load(g), V::load(D + j))), vs);
      if (dtanh) ds = V::mul(ds, V::load(dtanh + s * Mp + j));
      V::store(g, ds);
    }
  }
}

/**
 * Backward of one (batch, KV head) over key blocks [kb_lo, kb_hi): writes those rows of dk, dv, and either
 * dq (dq_part null) or this split's dQ rows (t-major, [T·G, hd]) into dq_part.
 */
template <class V>
void backward_task(const AttentionArgs& a, const Plan& p, int64_t b, int64_t kvh, int64_t kb_lo, int64_t kb_hi,
                   const float* out, const float* lse, const float* dout, float* dq, float* dk, float* dv,
                   float* dq_part) {
  const int64_t G = p.G, hd = a.hd, R = a.T * G, Mpx = p.max_rows;
  const int64_t kb_size = p.key_block;
  const int64_t per_tile = 2 * hd * Mpx + 4 * Mpx;
  const size_t need = static_cast<size_t>(3 * R * hd + p.tiles * per_tile + 3 * kb_size * Mpx + 2 * kb_size * hd);
  float* Qr = thread_scratch(need);
  float* dOr = Qr + R * hd;
  float* dQ = dOr + R * hd;
  float* staged = dQ + R * hd;
  float* St = staged + p.tiles * per_tile;
  float* dPt = St + kb_size * Mpx;
  float* dtanh = dPt + kb_size * Mpx;
  float* dKb = dtanh + kb_size * Mpx;
  float* dVb = dKb + kb_size * hd;
  if (dq_part) dQ = dq_part;

  auto stage = [&](int64_t ti) {
    float* base = staged + ti * per_tile;
    float* rows = base + 2 * hd * Mpx;
    return Staged{base, base + hd * Mpx, rows, rows + Mpx, rows + 2 * Mpx, rows + 3 * Mpx};
  };
  for (int64_t r = 0; r < R; r++) {
    const int64_t o = q_offset(a, b, r / G, kvh * G + r % G);
    std::memcpy(Qr + r * hd, a.q + o, sizeof(float) * hd);
    std::memcpy(dOr + r * hd, dout + o, sizeof(float) * hd);
  }
  std::memset(dQ, 0, sizeof(float) * R * hd);
  for (int64_t ti = 0; ti < p.tiles; ti++) {
    const Tile tl = make_tile<V>(a, p, ti);
    const Staged st = stage(ti);
    const float* q0 = Qr + tl.t0 * G * hd;
    const float* g0 = dOr + tl.t0 * G * hd;
    tile::pack_transposed<V>(tl.M, hd, [&](int64_t r) { return q0 + r * hd; }, q_pack_scale(a), st.QT, tl.Mp);
    tile::pack_transposed<V>(tl.M, hd, [&](int64_t r) { return g0 + r * hd; }, 1.f, st.dOT, tl.Mp);
    for (int64_t r = 0; r < tl.Mp; r++) {
      if (r >= tl.M) {
        st.nlse2[r] = -INFINITY;
        st.D[r] = 0.f;
        st.lim[r] = -1.f;
        st.first[r] = 0.f;
        continue;
      }
      const int64_t t = tl.t0 + r / G, h = kvh * G + r % G;
      const float* orow = out + q_offset(a, b, t, h);
      const float* grow = g0 + r * hd;
      st.nlse2[r] = -lse[(b * a.nh + h) * a.T + t] * kLog2e;
      st.D[r] = reduce_sum<V>(
          hd, [&](int64_t d, int n) { return V::mul(load_first<V>(grow + d, n), load_first<V>(orow + d, n)); });
      st.lim[r] = static_cast<float>(last_key(a, t));
      st.first[r] = static_cast<float>(first_key(a, t));
    }
  }

  for (int64_t j = kb_lo; j < kb_hi; j++) {
    const int64_t s0 = j * kb_size, nb = a.S - s0 < kb_size ? a.S - s0 : kb_size;
    const float* kb = a.k + kv_offset(a, b, s0, kvh);
    const float* vb = a.v + kv_offset(a, b, s0, kvh);
    const uint8_t* km = a.key_mask ? a.key_mask + b * a.S + s0 : nullptr;
    std::memset(dKb, 0, sizeof(float) * nb * hd);
    std::memset(dVb, 0, sizeof(float) * nb * hd);
    for (int64_t ti = 0; ti < p.tiles; ti++) {
      const Tile tl = make_tile<V>(a, p, ti);
      // No row of the tile sees this block: all after it, or all before the window.
      if (last_key(a, tl.t0 + tl.nt - 1) < s0 || first_key(a, tl.t0) > s0 + nb - 1) continue;
      const Staged st = stage(ti);
      const int64_t Mp = tl.Mp, M = tl.M;
      const float* q0 = Qr + tl.t0 * G * hd;
      const float* g0 = dOr + tl.t0 * G * hd;
      tile::matmul<V>(nb, Mp, hd, kb, a.kv_row_stride, 1, st.QT, Mp, St, Mp, false);  // Sᵀ = K·Qᵀ
      if (a.softcap > 0) soft_cap<V>(St, nb * Mp, a.softcap, dtanh);
      probabilities<V>(St, nb, Mp, s0, st, s0 + nb - 1 > last_key(a, tl.t0), s0 < first_key(a, tl.t0 + tl.nt - 1),
                       km);
      tile::matmul<V>(nb, hd, M, St, Mp, 1, g0, hd, dVb, hd, true);                     // dV += Pᵀ·dO
      tile::matmul<V>(nb, Mp, hd, vb, a.kv_row_stride, 1, st.dOT, Mp, dPt, Mp, false);  // dPᵀ = V·dOᵀ
      score_grads<V>(St, dPt, nb, Mp, st.D, a.scale, a.softcap > 0 ? dtanh : nullptr);
      tile::matmul<V>(nb, hd, M, dPt, Mp, 1, q0, hd, dKb, hd, true);                               // dK += dSᵀ·Q
      tile::matmul<V>(M, hd, nb, dPt, 1, Mp, kb, a.kv_row_stride, dQ + tl.t0 * G * hd, hd, true);  // dQ += dS·K
    }
    for (int64_t s = 0; s < nb; s++) {
      const int64_t o = ((b * a.S + s0 + s) * a.nkv + kvh) * hd;
      std::memcpy(dk + o, dKb + s * hd, sizeof(float) * hd);
      std::memcpy(dv + o, dVb + s * hd, sizeof(float) * hd);
    }
  }
  if (dq_part) return;
  for (int64_t r = 0; r < R; r++)
    std::memcpy(dq + q_offset(a, b, r / G, kvh * G + r % G), dQ + r * hd, sizeof(float) * hd);
}

template <class V>
void backward(const AttentionArgs& a, const float* out, const float* lse, const float* dout, float* dq, float* dk,
              float* dv) {
  const Plan p = make_plan<V>(a, kBackwardKeyBlock);
  const int64_t units = a.B * a.nkv;
  if (units == 0) return;
  int64_t splits = units >= kMinTasks / 2 || p.blocks <= 1 ? 1 : (kMinTasks / 2 + units - 1) / units;
  if (splits > p.blocks) splits = p.blocks > 0 ? p.blocks : 1;
  const int64_t R = a.T * p.G;
  float* parts = splits > 1 ? call_scratch(static_cast<size_t>(units * splits * R * a.hd)) : nullptr;
  // Under a causal mask (or a window) key blocks are seen by different numbers of queries: split by that work.
  auto work = [&](int64_t j) {
    const int64_t s_hi = (j + 1) * p.key_block - 1;
    return static_cast<double>(queries_seeing(a, j * p.key_block, s_hi < a.S ? s_hi : a.S - 1));
  };
  parallel_for(static_cast<int>(units * splits), [&](int task) {
    const int64_t split = task % splits, unit = task / splits;
    int64_t lo, hi;
    split_blocks(p.blocks, splits, split, work, &lo, &hi);
    float* part = parts ? parts + (unit * splits + split) * R * a.hd : nullptr;
    backward_task<V>(a, p, unit / a.nkv, unit % a.nkv, lo, hi, out, lse, dout, dq, dk, dv, part);
  });
  if (!parts) return;
  parallel_for(static_cast<int>(units), [&](int unit) {
    const int64_t b = unit / a.nkv, kvh = unit % a.nkv;
    const float* base = parts + unit * splits * R * a.hd;
    for (int64_t r = 0; r < R; r++) {
      float* dst = dq + q_offset(a, b, r / p.G, kvh * p.G + r % p.G);
      for_vectors<V>(0, a.hd, [&](int64_t d, int n) {
        auto acc = load_first<V>(base + r * a.hd + d, n);
        for (int64_t k = 1; k < splits; k++) acc = V::add(acc, load_first<V>(base + k * R * a.hd + r * a.hd + d, n));
        store_first<V>(dst + d, acc, n);
      });
    }
  });
}

}  // namespace attention

template <class V>
constexpr AttentionTable attention_table() {
  return {attention::forward<V>, attention::backward<V>};
}

}  // namespace
}  // namespace peft
