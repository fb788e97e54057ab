// RMSNorm and LayerNorm over the last dimension (rows × cols), forward and backward, generic over V.
//
//   rms:   r = 1/√(mean(x²) + eps),  y = x·r·w;     dx = r·(g − x̂·mean(g·x̂)),          g = dy·w, x̂ = x·r
//   layer: r = 1/√(var(x) + eps),    y = x̂·w + b;   dx = r·(g − mean(g) − x̂·mean(g·x̂)), x̂ = (x − μ)·r
//   dw += Σ_rows dy·x̂, db += Σ_rows dy.
// Rows are independent and split over the pool. The row sums are float32 in four vector accumulators (as
// PyTorch computes them). The parameter gradients are summed in float64 while each row is still in L1: every
// range of rows (a task) into its own partial, the partials then added in range order. The ranges depend
// only on the shapes, so the result is deterministic.
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

constexpr int64_t kMaxPartials = 64;  // row ranges of the backward, at most (bounds the partials' memory)

/** pw[c] += dy·x̂ and pb[c] += dy over one row, in float64 as the reference (x̂ = (x − mu)·rs). */
inline void accumulate_row(const float* x, const float* dy, double mu, double rs, double* pw, double* pb,
                           int64_t cols) {
  if (pw)
    for (int64_t c = 0; c < cols; c++) pw[c] += static_cast<double>(dy[c]) * ((x[c] - mu) * rs);
  if (pb)
    for (int64_t c = 0; c < cols; c++) pb[c] += dy[c];
}

/**
 * The backward over all rows: row_dx(r) writes row r of dx; with dw / db (each may be null) every range of
 * rows also sums its dy·x̂ / dy into a float64 partial, and dw / db receive the partials in range order.
 */
template <class RowDx>
void backward_rows(const float* x, const float* mean, const float* rstd, const float* dy, float* dw, float* db,
                   int64_t rows, int64_t cols, RowDx&& row_dx) {
  int64_t per = rows_per_task(cols);
  if (per * kMaxPartials < rows) per = (rows + kMaxPartials - 1) / kMaxPartials;
  const int64_t ranges = (rows + per - 1) / per;
  const int64_t w_cols = dw ? cols : 0, stride = w_cols + (db ? cols : 0);  // a partial is [dw | db]
  double* parts = stride ? reinterpret_cast<double*>(call_scratch(static_cast<size_t>(2 * ranges * stride))) : nullptr;
  for_ranges(rows, per, [&](int64_t r0, int64_t r1) {
    double* part = parts ? parts + (r0 / per) * stride : nullptr;
    for (int64_t c = 0; c < stride; c++) part[c] = 0;
    for (int64_t r = r0; r < r1; r++) {
      row_dx(r);
      if (part) {
        accumulate_row(x + r * cols, dy + r * cols, mean ? mean[r] : 0.0, rstd[r], dw ? part : nullptr,
                       db ? part + w_cols : nullptr, cols);
      }
    }
  });
  for_ranges(stride, 256, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; c++) {
      double sum = 0;
      for (int64_t k = 0; k < ranges; k++) sum += parts[k * stride + c];
      float* target = c < w_cols ? dw + c : db + (c - w_cols);
      *target = static_cast<float>(*target + sum);
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
  backward_rows(x, nullptr, rstd, dy, dw, nullptr, rows, cols, [&](int64_t r) {
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
  backward_rows(x, mean, rstd, dy, dw, db, rows, cols, [&](int64_t r) {
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
}

}  // namespace norm

template <class V>
constexpr NormTable norm_table() {
  using namespace norm;
  return {rms_norm<V>, rms_norm_backward<V>, layer_norm<V>, layer_norm_backward<V>};
}

}  // namespace
}  // namespace peft
