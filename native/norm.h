// RMSNorm and LayerNorm over the last dimension (rows × cols), forward and backward, generic over V.
//
//   rms:   r = 1/√(mean(x²) + eps),  y = x·r·w;     dx = r·(g − x̂·mean(g·x̂)),          g = dy·w, x̂ = x·r
//   layer: r = 1/√(var(x) + eps),    y = x̂·w + b;   dx = r·(g − mean(g) − x̂·mean(g·x̂)), x̂ = (x − μ)·r
//   dw += Σ_rows dy·x̂, db += Σ_rows dy.
// Rows are independent and split over the pool. The row sums are float32 in four vector accumulators (as
// PyTorch computes them); the parameter gradients are a second pass over columns, summed in float64 in row
// order exactly as the reference does, so they are deterministic without per-thread partial buffers.
// Backward rows shorter than kShortRow are computed in float64: there g − x̂·mean(g·x̂) cancels almost
// entirely (for one column, to g·eps·r², ~1e-6·g), and float32 would return only its rounding noise.
#pragma once

#include <cmath>
#include <cstdint>

#include "parallel.h"
#include "vmath.h"

namespace peft {

struct NormTable {
  void (*rms_norm)(const float* x, const float* w, float* out, float* rstd, int64_t rows, int64_t cols, float eps);
  void (*rms_norm_backward)(const float* x, const float* w, const float* rstd, const float* dy, float* dx, float* dw,
                            int64_t rows, int64_t cols);
  void (*layer_norm)(const float* x, const float* w, const float* b, float* out, float* mean, float* rstd, int64_t rows,
                     int64_t cols, float eps);
  void (*layer_norm_backward)(const float* x, const float* w, const float* mean, const float* rstd, const float* dy,
                              float* dx, float* dw, float* db, int64_t rows, int64_t cols);
};
extern const NormTable kNormScalar, kNormAvx2, kNormAvx512;

namespace {
namespace norm {

constexpr int64_t kShortRow = 32;

/** 1/√(s/cols + eps) in double, rounded once (what the reference stores). */
inline float inv_std(float s, int64_t cols, float eps) {
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(s) / static_cast<double>(cols) + eps));
}

template <class V, class Body>
void for_rows(int64_t rows, int64_t cols, Body&& body) {
  for_ranges(rows, rows_per_task(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) body(r);
  });
}

/** w[c] as a vector, or 1 when there is no weight. */
template <class V>
typename V::F weight(const float* w, int64_t c, int n) {
  return w ? load_first<V>(w + c, n) : V::set1(1.f);
}

template <class V>
void rms_norm(const float* x, const float* w, float* out, float* rstd, int64_t rows, int64_t cols, float eps) {
  for_rows<V>(rows, cols, [&](int64_t r) {
    const float* xr = x + r * cols;
    const float ss = reduce_sum<V>(cols, [&](int64_t c, int n) {
      const auto v = load_first<V>(xr + c, n);
      return V::mul(v, v);
    });
    const float rs = inv_std(ss, cols, eps);
    rstd[r] = rs;
    const auto vr = V::set1(rs);
    for_vectors<V>(0, cols, [&](int64_t c, int n) {
      store_first<V>(out + r * cols + c, V::mul(V::mul(load_first<V>(xr + c, n), vr), weight<V>(w, c, n)), n);
    });
  });
}

/**
 * Column pass for the parameter gradients: dw[c] += Σ_r dy·x̂ (and db[c] += Σ_r dy when kBias), float64,
 * row order, split over column ranges.
 */
template <bool kBias>
void param_grads(const float* x, const float* mean, const float* rstd, const float* dy, float* dw, float* db,
                 int64_t rows, int64_t cols) {
  constexpr int64_t kBlock = 256;
  const int64_t span = rows * cols < 2 * kMinTaskElems ? cols : (cols + 7) / 8;
  const int64_t width = span < 64 ? 64 : (span + 15) / 16 * 16;
  for_ranges(cols, width, [&](int64_t c0, int64_t c1) {
    double acc_w[kBlock], acc_b[kBlock];
    for (int64_t b0 = c0; b0 < c1; b0 += kBlock) {
      const int64_t n = c1 - b0 < kBlock ? c1 - b0 : kBlock;
      for (int64_t c = 0; c < n; c++) acc_w[c] = acc_b[c] = 0;
      for (int64_t r = 0; r < rows; r++) {
        const float* xr = x + r * cols + b0;
        const float* gr = dy + r * cols + b0;
        const double mu = mean ? mean[r] : 0.0, rs = rstd[r];
        for (int64_t c = 0; c < n; c++) {
          acc_w[c] += static_cast<double>(gr[c]) * ((xr[c] - mu) * rs);
          if constexpr (kBias) acc_b[c] += gr[c];
        }
      }
      if (dw)
        for (int64_t c = 0; c < n; c++) dw[b0 + c] = static_cast<float>(dw[b0 + c] + acc_w[c]);
      if (kBias)
        for (int64_t c = 0; c < n; c++) db[b0 + c] = static_cast<float>(db[b0 + c] + acc_b[c]);
    }
  });
}

/** One backward row in float64 (short rows); RMSNorm is mu = 0 and not centred. */
inline void backward_row_f64(const float* x, const float* w, double mu, double rs, const float* dy, float* dx,
                             int64_t cols, bool centred) {
  double g_sum = 0, gx_sum = 0;
  for (int64_t c = 0; c < cols; c++) {
    const double g = static_cast<double>(dy[c]) * (w ? w[c] : 1.f);
    g_sum += g;
    gx_sum += g * ((x[c] - mu) * rs);
  }
  const double g_mean = centred ? g_sum / static_cast<double>(cols) : 0.0, gx_mean = gx_sum / static_cast<double>(cols);
  for (int64_t c = 0; c < cols; c++) {
    const double g = static_cast<double>(dy[c]) * (w ? w[c] : 1.f);
    dx[c] = static_cast<float>(rs * (g - g_mean - (x[c] - mu) * rs * gx_mean));
  }
}

template <class V>
void rms_norm_backward(const float* x, const float* w, const float* rstd, const float* dy, float* dx, float* dw,
                       int64_t rows, int64_t cols) {
  for_rows<V>(rows, cols, [&](int64_t r) {
    if (cols < kShortRow)
      return backward_row_f64(x + r * cols, w, 0.0, rstd[r], dy + r * cols, dx + r * cols, cols, false);
    const float* xr = x + r * cols;
    const float* gr = dy + r * cols;
    const auto vr = V::set1(rstd[r]);
    const float dot = reduce_sum<V>(cols, [&](int64_t c, int n) {
      const auto g = V::mul(load_first<V>(gr + c, n), weight<V>(w, c, n));
      return V::mul(g, V::mul(load_first<V>(xr + c, n), vr));
    });
    const auto m = V::set1(dot / static_cast<float>(cols));
    for_vectors<V>(0, cols, [&](int64_t c, int n) {
      const auto g = V::mul(load_first<V>(gr + c, n), weight<V>(w, c, n));
      const auto xh = V::mul(load_first<V>(xr + c, n), vr);
      store_first<V>(dx + r * cols + c, V::mul(vr, V::fnma(xh, m, g)), n);
    });
  });
  if (dw) param_grads<false>(x, nullptr, rstd, dy, dw, nullptr, rows, cols);
}

template <class V>
void layer_norm(const float* x, const float* w, const float* b, float* out, float* mean, float* rstd, int64_t rows,
                int64_t cols, float eps) {
  for_rows<V>(rows, cols, [&](int64_t r) {
    const float* xr = x + r * cols;
    const float mu =
        reduce_sum<V>(cols, [&](int64_t c, int n) { return load_first<V>(xr + c, n); }) / static_cast<float>(cols);
    const auto vmu = V::set1(mu);
    const float var = reduce_sum<V>(cols, [&](int64_t c, int n) {
      const auto d = keep_first<V>(V::sub(load_first<V>(xr + c, n), vmu), n, 0.f);
      return V::mul(d, d);
    });
    const float rs = inv_std(var, cols, eps);
    mean[r] = mu;
    rstd[r] = rs;
    const auto vr = V::set1(rs);
    for_vectors<V>(0, cols, [&](int64_t c, int n) {
      const auto xh = V::mul(V::sub(load_first<V>(xr + c, n), vmu), vr);
      store_first<V>(out + r * cols + c, V::fma(xh, load_first<V>(w + c, n), load_first<V>(b + c, n)), n);
    });
  });
}

template <class V>
void layer_norm_backward(const float* x, const float* w, const float* mean, const float* rstd, const float* dy,
                         float* dx, float* dw, float* db, int64_t rows, int64_t cols) {
  for_rows<V>(rows, cols, [&](int64_t r) {
    if (cols < kShortRow)
      return backward_row_f64(x + r * cols, w, mean[r], rstd[r], dy + r * cols, dx + r * cols, cols, true);
    const float* xr = x + r * cols;
    const float* gr = dy + r * cols;
    const auto vmu = V::set1(mean[r]), vr = V::set1(rstd[r]);
    const float g_sum = reduce_sum<V>(
        cols, [&](int64_t c, int n) { return V::mul(load_first<V>(gr + c, n), load_first<V>(w + c, n)); });
    const float gx_sum = reduce_sum<V>(cols, [&](int64_t c, int n) {
      const auto xh = keep_first<V>(V::mul(V::sub(load_first<V>(xr + c, n), vmu), vr), n, 0.f);
      return V::mul(V::mul(load_first<V>(gr + c, n), load_first<V>(w + c, n)), xh);
    });
    const auto g_mean = V::set1(g_sum / static_cast<float>(cols));
    const auto gx_mean = V::set1(gx_sum / static_cast<float>(cols));
    for_vectors<V>(0, cols, [&](int64_t c, int n) {
      const auto xh = V::mul(V::sub(load_first<V>(xr + c, n), vmu), vr);
      const auto g = V::mul(load_first<V>(gr + c, n), load_first<V>(w + c, n));
      store_first<V>(dx + r * cols + c, V::mul(vr, V::fnma(xh, gx_mean, V::sub(g, g_mean))), n);
    });
  });
  if (db) {
    param_grads<true>(x, mean, rstd, dy, dw, db, rows, cols);
  } else if (dw) {
    param_grads<false>(x, mean, rstd, dy, dw, nullptr, rows, cols);
  }
}

}  // namespace norm

template <class V>
constexpr NormTable norm_table() {
  using namespace norm;
  return {rms_norm<V>, rms_norm_backward<V>, layer_norm<V>, layer_norm_backward<V>};
}

}  // namespace
}  // namespace peft
