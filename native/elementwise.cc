// Node-API bindings of the elementwise family (elementwise.h) and its scalar instantiation.
#include "elementwise.h"

#include "binding.h"
#include "simd_scalar.h"

namespace peft {

const ElementwiseTable kElementwiseScalar = elementwise_table<Scalar>();

namespace {

const ElementwiseTable& kernels() { return for_isa(kElementwiseScalar, kElementwiseAvx2, kElementwiseAvx512); }

// add(a, b, out, n) / mul(a, b, out, n)
template <bool kMul>
Napi::Value Binary(const Napi::CallbackInfo& info) {
  const char* op = kMul ? "mul" : "add";
  const int64_t n = size_arg(info, 3, op);
  const float* a = checked_array<float>(info, 0, n, op, "a");
  const float* b = checked_array<float>(info, 1, n, op, "b");
  float* out = checked_array<float>(info, 2, n, op, "out");
  (kMul ? kernels().mul : kernels().add)(a, b, out, n);
  return info.Env().Undefined();
}

// axpy(dst, src, alpha, n): dst += alpha · src
Napi::Value Axpy(const Napi::CallbackInfo& info) {
  const int64_t n = size_arg(info, 3, "axpy");
  float* dst = checked_array<float>(info, 0, n, "axpy", "dst");
  const float* src = checked_array<float>(info, 1, n, "axpy", "src");
  kernels().axpy(dst, src, static_cast<float>(num_arg(info, 2)), n);
  return info.Env().Undefined();
}

// scale(a, s, out, n)
Napi::Value Scale(const Napi::CallbackInfo& info) {
  const int64_t n = size_arg(info, 3, "scale");
  const float* a = checked_array<float>(info, 0, n, "scale", "a");
  float* out = checked_array<float>(info, 2, n, "scale", "out");
  kernels().scale(a, static_cast<float>(num_arg(info, 1)), out, n);
  return info.Env().Undefined();
}

// addRowVector / mulRowVector(x, v, out, rows, cols)
template <bool kMul>
Napi::Value RowVector(const Napi::CallbackInfo& info) {
  const char* op = kMul ? "mulRowVector" : "addRowVector";
  const int64_t rows = size_arg(info, 3, op), cols = size_arg(info, 4, op);
  const float* x = checked_array<float>(info, 0, rows * cols, op, "x");
  const float* v = checked_array<float>(info, 1, cols, op, "v");
  float* out = checked_array<float>(info, 2, rows * cols, op, "out");
  (kMul ? kernels().mul_row_vector : kernels().add_row_vector)(x, v, out, rows, cols);
  return info.Env().Undefined();
}

// sumRows(x, out, rows, cols, accumulate)
Napi::Value SumRows(const Napi::CallbackInfo& info) {
  const int64_t rows = size_arg(info, 2, "sumRows"), cols = size_arg(info, 3, "sumRows");
  const float* x = checked_array<float>(info, 0, rows * cols, "sumRows", "x");
  float* out = checked_array<float>(info, 1, cols, "sumRows", "out");
  kernels().sum_rows(x, out, rows, cols, bool_arg(info, 4));
  return info.Env().Undefined();
}

// sumSquares(x, n) → number
Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  const int64_t n = size_arg(info, 1, "sumSquares");
  const float* x = checked_array<float>(info, 0, n, "sumSquares", "x");
  return Napi::Number::New(info.Env(), kernels().sum_squares(x, n));
}

// bf16ToF32(src, dst, n)
Napi::Value Bf16ToF32(const Napi::CallbackInfo& info) {
  const int64_t n = size_arg(info, 2, "bf16ToF32");
  const uint16_t* src = checked_array<uint16_t>(info, 0, n, "bf16ToF32", "src");
  float* dst = checked_array<float>(info, 1, n, "bf16ToF32", "dst");
  kernels().bf16_to_f32(src, dst, n);
  return info.Env().Undefined();
}

// f32ToBf16(src, dst, n)
Napi::Value F32ToBf16(const Napi::CallbackInfo& info) {
  const int64_t n = size_arg(info, 2, "f32ToBf16");
  const float* src = checked_array<float>(info, 0, n, "f32ToBf16", "src");
  uint16_t* dst = checked_array<uint16_t>(info, 1, n, "f32ToBf16", "dst");
  kernels().f32_to_bf16(src, dst, n);
  return info.Env().Undefined();
}

constexpr Binding Add = Binary<false>, Mul = Binary<true>;
constexpr Binding AddRowVector = RowVector<false>, MulRowVector = RowVector<true>;

PEFT_EXPORT("add", Add);
PEFT_EXPORT("mul", Mul);
PEFT_EXPORT("axpy", Axpy);
PEFT_EXPORT("scale", Scale);
PEFT_EXPORT("addRowVector", AddRowVector);
PEFT_EXPORT("mulRowVector", MulRowVector);
PEFT_EXPORT("sumRows", SumRows);
PEFT_EXPORT("sumSquares", SumSquares);
PEFT_EXPORT("bf16ToF32", Bf16ToF32);
PEFT_EXPORT("f32ToBf16", F32ToBf16);

}  // namespace
}  // namespace peft
