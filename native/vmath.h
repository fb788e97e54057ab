// Generic vector math for the kernels, over a vector type V: Scalar (simd_scalar.h), Avx2 or Avx512
// (isa/simd_*.h). Every kernel family is written once as templates over V; native/<family>.cc instantiates
// it with Scalar (the portable reference, using the C library's math) and native/isa/*_avx2.cc /
// *_avx512.cc with the vector types. V provides:
//   W (lanes), F (vector), M (lane mask); zero, set1, load/store, loadn/storen (the first n lanes; loadn
//   zeroes the rest, storen leaves it); add, sub, mul, div, max, min (returning the second operand when
//   either is NaN, as maxps does), fma(a, b, c) = a·b + c, fnma = c − a·b, abs; sum, hmax (a fixed
//   reduction tree); lt, le, eq, lanes(n), select, copysign; round (to nearest even), ldexp(p, n) = p·2^n;
//   transpose (a W × W block in place); nibbles (4-bit codes through a 16-entry table); and D, W float64
//   lanes (widen, narrow, dset1, dadd, dsub, dmul, ddiv, dsqrt) for kernels that must reproduce the
//   reference's float64 arithmetic. Kernel tiles are sized by kNVmax and mr_for(nv) (attention_tile.h).
//
// exp/exp2: Cody–Waite reduction and the Cephes minimax polynomials (measured: ≤ 1.0 ulp over the normal
// range; 0 below the underflow threshold, +inf above 88.7 / 128, NaN kept; AVX2 flushes results below
// 2^-126 to 0). erf: Taylor series to x^19 for |x| ≤ 1, 1 − erfc with the Numerical Recipes Chebyshev erfc
// (relative error < 1.2e-7) beyond: measured ≤ 2.5 ulp (relative error ≤ 1.7e-7) everywhere, where the short
// Abramowitz–Stegun forms are off by up to 1e-4 relative near 0.
#pragma once

#include <cmath>
#include <cstdint>

namespace peft {
namespace {

template <class V>
typename V::F vexp(typename V::F x) {
  if constexpr (V::W == 1) {
    return std::exp(x);
  } else {
    using F = typename V::F;
    x = V::min(V::set1(88.8f), V::max(V::set1(V::kExpLo), x));  // operand order keeps NaN
    const F n = V::round(V::mul(x, V::set1(1.44269504088896341f)));
    F r = V::fnma(n, V::set1(0.693359375f), x);  // ln 2 split in two so n·hi is exact
    r = V::fnma(n, V::set1(-2.12194440e-4f), r);
    F p = V::set1(1.9875691500e-4f);
    p = V::fma(p, r, V::set1(1.3981999507e-3f));
    p = V::fma(p, r, V::set1(8.3334519073e-3f));
    p = V::fma(p, r, V::set1(4.1665795894e-2f));
    p = V::fma(p, r, V::set1(1.6666665459e-1f));
    p = V::fma(p, r, V::set1(5.0000001201e-1f));
    p = V::add(V::fma(p, V::mul(r, r), r), V::set1(1.f));
    return V::ldexp(p, n);
  }
}

/** 2^x; kBounded: the caller guarantees x ≤ 128 (or NaN), which saves the upper clamp. */
template <class V, bool kBounded = false>
typename V::F vexp2(typename V::F x) {
  if constexpr (V::W == 1) {
    return std::exp2(x);
  } else {
    using F = typename V::F;
    x = V::max(V::set1(V::kExp2Lo), x);
    if constexpr (!kBounded) x = V::min(V::set1(129.f), x);
    const F n = V::round(x);
    const F f = V::sub(x, n);  // exact
    F p = V::set1(1.535336188319500e-4f);
    p = V::fma(p, f, V::set1(1.339887440266574e-3f));
    p = V::fma(p, f, V::set1(9.618437357674640e-3f));
    p = V::fma(p, f, V::set1(5.550332471162809e-2f));
    p = V::fma(p, f, V::set1(2.402264791363012e-1f));
    p = V::fma(p, f, V::set1(6.931472028550421e-1f));
    p = V::fma(p, f, V::set1(1.f));
    return V::ldexp(p, n);
  }
}

/** 1 / (1 + e^−x): 0 and 1 at the ends, never NaN for finite or infinite x. */
template <class V>
typename V::F vsigmoid(typename V::F x) {
  const auto one = V::set1(1.f);
  return V::div(one, V::add(one, vexp<V>(V::sub(V::zero(), x))));
}

/** tanh(y) = sign(y) · (1 − 2 / (e^{2|y|} + 1)): absolute error ~1e-7, which is what GELU adds it to 1 with. */
template <class V>
typename V::F vtanh(typename V::F y) {
  if constexpr (V::W == 1) {
    return std::tanh(y);
  } else {
    const auto one = V::set1(1.f);
    const auto e = vexp<V>(V::mul(V::set1(2.f), V::abs(y)));
    const auto t = V::sub(one, V::div(V::set1(2.f), V::add(e, one)));
    return V::copysign(t, y);
  }
}

template <class V>
typename V::F verf(typename V::F x) {
  if constexpr (V::W == 1) {
    return std::erf(x);
  } else {
    using F = typename V::F;
    const F z = V::min(V::set1(10.f), V::abs(x));
    // |x| ≤ 1: erf(x) = 2/√π · Σ (−1)^k x^(2k+1) / (k! (2k+1)), k = 0..9.
    const F x2 = V::mul(z, z);
    F s = V::set1(-1.636584469e-07f);  // k = 9: 2/√π · (−1)^k / (k! (2k+1))
    s = V::fma(s, x2, V::set1(1.646211437e-06f));
    s = V::fma(s, x2, V::set1(-1.492565036e-05f));
    s = V::fma(s, x2, V::set1(1.205533298e-04f));
    s = V::fma(s, x2, V::set1(-8.548327023e-04f));
    s = V::fma(s, x2, V::set1(5.223977625e-03f));
    s = V::fma(s, x2, V::set1(-2.686617065e-02f));
    s = V::fma(s, x2, V::set1(1.128379167e-01f));
    s = V::fma(s, x2, V::set1(-3.761263890e-01f));
    s = V::fma(s, x2, V::set1(1.128379167e+00f));
    const F small = V::mul(s, z);
    // |x| > 1: erfc(z) = t · exp(−z² − 1.26551223 + t·P(t)), t = 1 / (1 + z/2).
    const F t = V::div(V::set1(1.f), V::fma(V::set1(0.5f), z, V::set1(1.f)));
    F p = V::set1(0.17087277f);
    p = V::fma(p, t, V::set1(-0.82215223f));
    p = V::fma(p, t, V::set1(1.48851587f));
    p = V::fma(p, t, V::set1(-1.13520398f));
    p = V::fma(p, t, V::set1(0.27886807f));
    p = V::fma(p, t, V::set1(-0.18628806f));
    p = V::fma(p, t, V::set1(0.09678418f));
    p = V::fma(p, t, V::set1(0.37409196f));
    p = V::fma(p, t, V::set1(1.00002368f));
    p = V::fma(p, t, V::set1(-1.26551223f));
    const F erfc = V::mul(t, vexp<V>(V::sub(p, x2)));
    const F large = V::sub(V::set1(1.f), erfc);
    return V::copysign(V::select(V::le(z, V::set1(1.f)), small, large), x);
  }
}

}  // namespace
}  // namespace peft

namespace peft {
namespace {

/** A load of the first n lanes (n == W: a plain load, which the compiler folds when n is a constant). */
template <class V>
typename V::F load_first(const float* p, int n) {
  return n == V::W ? V::load(p) : V::loadn(p, n);
}

template <class V>
void store_first(float* p, typename V::F v, int n) {
  if (n == V::W) {
    V::store(p, v);
  } else {
    V::storen(p, v, n);
  }
}

/** body(i, lanes) over [i0, i1): whole vectors, then one partial vector. */
template <class V, class Body>
void for_vectors(int64_t i0, int64_t i1, Body&& body) {
  int64_t i = i0;
  for (; i + V::W <= i1; i += V::W) body(i, V::W);
  if (i < i1) body(i, static_cast<int>(i1 - i));
}

/** Lanes ≥ n of v set to `fill` (no-op for a whole vector). */
template <class V>
typename V::F keep_first(typename V::F v, int n, float fill) {
  return n == V::W ? v : V::select(V::lanes(n), v, V::set1(fill));
}

/**
 * Σ over [0, n) of term(i, lanes) (term must return 0 in lanes ≥ `lanes`): four interleaved vector
 * accumulators (so the adds pipeline), combined in a fixed order.
 */
template <class V, class Term>
float reduce_sum(int64_t n, Term&& term) {
  auto a0 = V::zero(), a1 = V::zero(), a2 = V::zero(), a3 = V::zero();
  int64_t i = 0;
  for (; i + 4 * V::W <= n; i += 4 * V::W) {
    a0 = V::add(a0, term(i, V::W));
    a1 = V::add(a1, term(i + V::W, V::W));
    a2 = V::add(a2, term(i + 2 * V::W, V::W));
    a3 = V::add(a3, term(i + 3 * V::W, V::W));
  }
  for (; i + V::W <= n; i += V::W) a0 = V::add(a0, term(i, V::W));
  if (i < n) a1 = V::add(a1, term(i, static_cast<int>(n - i)));
  return V::sum(V::add(V::add(a0, a1), V::add(a2, a3)));
}

/**
 * reduce_sum for long rows (a vocabulary): float32 sums of 1024-element blocks, added in float64, so the
 * rounding error stays at float32's over a block instead of growing with the row length.
 */
template <class V, class Term>
double reduce_sum_long(int64_t n, Term&& term) {
  constexpr int64_t kBlock = 1024;
  double total = 0;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t len = n - b < kBlock ? n - b : kBlock;
    total += reduce_sum<V>(len, [&](int64_t i, int w) { return term(b + i, w); });
  }
  return total;
}

/** max over [0, n) of x[i] (−inf when n = 0). A NaN may be skipped here; the sums that follow carry it. */
template <class V>
float reduce_max(const float* x, int64_t n) {
  const auto lo = V::set1(-INFINITY);
  auto a0 = lo, a1 = lo;
  int64_t i = 0;
  for (; i + 2 * V::W <= n; i += 2 * V::W) {
    a0 = V::max(a0, V::load(x + i));
    a1 = V::max(a1, V::load(x + i + V::W));
  }
  for (; i + V::W <= n; i += V::W) a0 = V::max(a0, V::load(x + i));
  if (i < n)
    a1 = V::max(a1, keep_first<V>(V::loadn(x + i, static_cast<int>(n - i)), static_cast<int>(n - i), -INFINITY));
  return V::hmax(V::max(a0, a1));
}

}  // namespace
}  // namespace peft
