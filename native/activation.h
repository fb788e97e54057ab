// Activations and their derivatives: SiLU, GELU (erf form and GPT-2's tanh form), SwiGLU = silu(gate)·up,
// GeGLU = gelu(gate)·up (Gemma), and the tanh soft cap c·tanh(x/c) (Gemma 2's logits).
// Elementwise over n floats (outputs may alias inputs), generic over the vector type V (vmath.h).
//
//   silu(x) = x·σ(x),                   silu' = σ(x)·(1 + x·(1 − σ(x)))
//   gelu(x) = x/2·(1 + erf(x/√2)),      gelu' = (1 + erf(x/√2))/2 + x·e^{−x²/2}/√(2π)
//   gelu_tanh(x) = x/2·(1 + tanh(u)),   u = √(2/π)·(x + 0.044715x³),
//                                       gelu_tanh' = (1 + tanh u)/2 + x/2·(1 − tanh²u)·√(2/π)·(1 + 3·0.044715x²)
//   swiglu(g, u) = silu(g)·u,           ∂/∂u = silu(g),  ∂/∂g = u·silu'(g)
//   geglu(g, u) = gelu(g)·u,            ∂/∂u = gelu(g),  ∂/∂g = u·gelu'(g)
//   softcap(x) = c·tanh(x/c) = y,       softcap' = 1 − (y/c)²  (from the output, as torch's tanh backward)
#pragma once

#include <cstdint>

#include "parallel.h"
#include "vmath.h"

namespace peft {

struct ActivationTable {
  void (*silu)(const float* x, float* out, int64_t n);
  void (*silu_backward)(const float* x, const float* dy, float* dx, int64_t n);
  void (*gelu)(const float* x, float* out, int64_t n, bool tanh_form);
  void (*gelu_backward)(const float* x, const float* dy, float* dx, int64_t n, bool tanh_form);
  void (*swiglu)(const float* gate, const float* up, float* out, int64_t n);
  void (*swiglu_backward)(const float* gate, const float* up, const float* dy, float* dgate, float* dup, int64_t n);
  void (*geglu)(const float* gate, const float* up, float* out, int64_t n, bool tanh_form);
  void (*geglu_backward)(const float* gate, const float* up, const float* dy, float* dgate, float* dup, int64_t n,
                         bool tanh_form);
  void (*softcap)(const float* x, float* out, int64_t n, float cap);
  void (*softcap_backward)(const float* y, const float* dy, float* dx, int64_t n, float cap);
};
extern const ActivationTable kActivationScalar, kActivationAvx2, kActivationAvx512;

namespace {
namespace activation {

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kTanhA = 0.044715f;
constexpr float kInvSqrt2 = 0.7071067811865476f;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;

/** Runs body(i, lanes) over all n elements, in parallel ranges. */
template <class V, class Body>
void elementwise(int64_t n, Body&& body) {
  for_ranges(n, kMinTaskElems, [&](int64_t i0, int64_t i1) { for_vectors<V>(i0, i1, body); });
}

template <class V>
void silu(const float* x, float* out, int64_t n) {
  elementwise<V>(n, [&](int64_t i, int w) {
    const auto v = load_first<V>(x + i, w);
    store_first<V>(out + i, V::mul(v, vsigmoid<V>(v)), w);
  });
}

template <class V>
typename V::F silu_grad(typename V::F x, typename V::F s) {
  const auto one = V::set1(1.f);
  return V::mul(s, V::fma(x, V::sub(one, s), one));
}

template <class V>
void silu_backward(const float* x, const float* dy, float* dx, int64_t n) {
  elementwise<V>(n, [&](int64_t i, int w) {
    const auto v = load_first<V>(x + i, w);
    const auto g = load_first<V>(dy + i, w);
    store_first<V>(dx + i, V::mul(g, silu_grad<V>(v, vsigmoid<V>(v))), w);
  });
}

template <class V>
typename V::F tanh_arg(typename V::F v) {
  const auto inner = V::fma(V::mul(V::set1(kTanhA), v), V::mul(v, v), v);  // v + a·v³
  return V::mul(V::set1(kSqrt2OverPi), inner);
}

template <class V>
typename V::F gelu_value(typename V::F v, bool tanh_form) {
  const auto t = tanh_form ? vtanh<V>(tanh_arg<V>(v)) : verf<V>(V::mul(v, V::set1(kInvSqrt2)));
  return V::mul(V::mul(V::set1(0.5f), v), V::add(V::set1(1.f), t));
}

template <class V>
typename V::F gelu_grad(typename V::F v, bool tanh_form) {
  const auto half = V::set1(0.5f), one = V::set1(1.f);
  if (tanh_form) {
    const auto t = vtanh<V>(tanh_arg<V>(v));
    const auto slope = V::mul(V::set1(kSqrt2OverPi), V::fma(V::set1(3 * kTanhA), V::mul(v, v), one));
    const auto sech2 = V::fnma(t, t, one);
    return V::fma(V::mul(V::mul(half, v), sech2), slope, V::mul(half, V::add(one, t)));
  }
  const auto e = verf<V>(V::mul(v, V::set1(kInvSqrt2)));
  const auto pdf = V::mul(V::set1(kInvSqrt2Pi), vexp<V>(V::mul(V::set1(-0.5f), V::mul(v, v))));
  return V::fma(v, pdf, V::mul(half, V::add(one, e)));
}

template <class V>
void gelu(const float* x, float* out, int64_t n, bool tanh_form) {
  elementwise<V>(n, [&](int64_t i, int w) { store_first<V>(out + i, gelu_value<V>(load_first<V>(x + i, w), tanh_form), w); });
}

template <class V>
void gelu_backward(const float* x, const float* dy, float* dx, int64_t n, bool tanh_form) {
  elementwise<V>(n, [&](int64_t i, int w) {
    const auto d = gelu_grad<V>(load_first<V>(x + i, w), tanh_form);
    store_first<V>(dx + i, V::mul(load_first<V>(dy + i, w), d), w);
  });
}

template <class V>
void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  elementwise<V>(n, [&](int64_t i, int w) {
    const auto g = load_first<V>(gate + i, w);
    const auto u = load_first<V>(up + i, w);
    store_first<V>(out + i, V::mul(V::mul(g, vsigmoid<V>(g)), u), w);
  });
}

template <class V>
void swiglu_backward(const float* gate, const float* up, const float* dy, float* dgate, float* dup, int64_t n) {
  elementwise<V>(n, [&](int64_t i, int w) {
    const auto g = load_first<V>(gate + i, w);
    const auto u = load_first<V>(up + i, w);
    const auto d = load_first<V>(dy + i, w);
    const auto s = vsigmoid<V>(g);
    const auto du = V::mul(d, V::mul(g, s));
    const auto dg = V::mul(V::mul(d, u), silu_grad<V>(g, s));
    store_first<V>(dup + i, du, w);
    store_first<V>(dgate + i, dg, w);
  });
}

template <class V>
void geglu(const float* gate, const float* up, float* out, int64_t n, bool tanh_form) {
  elementwise<V>(n, [&](int64_t i, int w) {
    const auto g = gelu_value<V>(load_first<V>(gate + i, w), tanh_form);
    store_first<V>(out + i, V::mul(g, load_first<V>(up + i, w)), w);
  });
}

template <class V>
void geglu_backward(const float* gate, const float* up, const float* dy, float* dgate, float* dup, int64_t n,
                    bool tanh_form) {
  elementwise<V>(n, [&](int64_t i, int w) {
    const auto g = load_first<V>(gate + i, w);
    const auto d = load_first<V>(dy + i, w);
    const auto dg = V::mul(V::mul(d, load_first<V>(up + i, w)), gelu_grad<V>(g, tanh_form));
    store_first<V>(dup + i, V::mul(d, gelu_value<V>(g, tanh_form)), w);
    store_first<V>(dgate + i, dg, w);
  });
}

template <class V>
void softcap(const float* x, float* out, int64_t n, float cap) {
  const auto c = V::set1(cap), inv = V::set1(1.f / cap);
  elementwise<V>(n, [&](int64_t i, int w) {
    store_first<V>(out + i, V::mul(c, vtanh<V>(V::mul(load_first<V>(x + i, w), inv))), w);
  });
}

template <class V>
void softcap_backward(const float* y, const float* dy, float* dx, int64_t n, float cap) {
  const auto inv = V::set1(1.f / cap), one = V::set1(1.f);
  elementwise<V>(n, [&](int64_t i, int w) {
    const auto t = V::mul(load_first<V>(y + i, w), inv);
    store_first<V>(dx + i, V::mul(load_first<V>(dy + i, w), V::fnma(t, t, one)), w);
  });
}

}  // namespace activation

template <class V>
constexpr ActivationTable activation_table() {
  using namespace activation;
  return {silu<V>,  silu_backward<V>,  gelu<V>,    gelu_backward<V>,    swiglu<V>,
          swiglu_backward<V>, geglu<V>, geglu_backward<V>, softcap<V>, softcap_backward<V>};
}

}  // namespace
}  // namespace peft
