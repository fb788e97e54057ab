// The scalar "vector" (one lane) that the generic kernels are instantiated with as their portable reference.
// Same interface as isa/simd_avx2.h and isa/simd_avx512.h (see simd.h for the contract); the math functions
// in vmath.h call the C library for it, so this instantiation is the accuracy reference of the fast ones.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace peft {
namespace {

struct Scalar {
  static constexpr int W = 1;
  // Micro-kernel tile (see attention.h): up to kNVmax vectors of columns by mr_for(nv) rows.
  static constexpr int kNVmax = 4;
  static constexpr int mr_for(int) { return 4; }
  using F = float;
  using M = bool;

  static F zero() { return 0.f; }
  static F set1(float x) { return x; }
  static F load(const float* p) { return *p; }
  static void store(float* p, F v) { *p = v; }
  static F loadn(const float* p, int n) { return n > 0 ? *p : 0.f; }
  static void storen(float* p, F v, int n) {
    if (n > 0) *p = v;
  }
  static F add(F a, F b) { return a + b; }
  static F sub(F a, F b) { return a - b; }
  static F mul(F a, F b) { return a * b; }
  static F div(F a, F b) { return a / b; }
  // NaN-propagating in the second operand, as maxps/minps are.
  static F max(F a, F b) { return a > b ? a : b; }
  static F min(F a, F b) { return a < b ? a : b; }
  static F fma(F a, F b, F c) { return std::fma(a, b, c); }
  static F fnma(F a, F b, F c) { return std::fma(-a, b, c); }
  static F abs(F a) { return std::fabs(a); }
  static float sum(F v) { return v; }
  static float hmax(F v) { return v; }
  static M lt(F a, F b) { return a < b; }
  static M le(F a, F b) { return a <= b; }
  static M eq(F a, F b) { return a == b; }
  static M lanes(int n) { return n > 0; }
  static F select(M m, F a, F b) { return m ? a : b; }
  static F copysign(F mag, F sgn) { return std::copysign(mag, sgn); }
  static void transpose(F*) {}  // a 1×1 block
  /** The 2W 4-bit codes of W bytes (high nibble first) looked up in a 16-entry table. */
  static void nibbles(const uint8_t* b, const float* table, F out[2]) {
    out[0] = table[b[0] >> 4];
    out[1] = table[b[0] & 15];
  }

  // W doubles, for kernels that must reproduce the reference's float64 arithmetic.
  using D = double;
  static D widen(F x) { return x; }
  static F narrow(D x) { return static_cast<float>(x); }
  static D dset1(double x) { return x; }
  static D dadd(D a, D b) { return a + b; }
  static D dsub(D a, D b) { return a - b; }
  static D dmul(D a, D b) { return a * b; }
  static D ddiv(D a, D b) { return a / b; }
  static D dsqrt(D a) { return std::sqrt(a); }
};

}  // namespace
}  // namespace peft
