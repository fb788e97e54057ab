// Node-API bindings of the normalisation family (norm.h) and its scalar instantiation.
#include "norm.h"

#include "binding.h"
#include "simd_scalar.h"

namespace peft {

const NormTable kNormScalar = norm_table<Scalar>();

namespace {

const NormTable& kernels() { return for_isa(kNormScalar, kNormAvx2, kNormAvx512); }

// rmsNorm(x, w | null, out, rstd, rows, cols, eps)
Napi::Value RmsNorm(const Napi::CallbackInfo& info) {
  const char* op = "rmsNorm";
  const int64_t rows = size_arg(info, 4, op), cols = size_arg(info, 5, op);
  kernels().rms_norm(checked_array<float>(info, 0, rows * cols, op, "x"),
                     checked_array<float>(info, 1, cols, op, "w", true),
                     checked_array<float>(info, 2, rows * cols, op, "out"),
                     checked_array<float>(info, 3, rows, op, "rstd"), rows, cols, static_cast<float>(num_arg(info, 6)));
  return info.Env().Undefined();
}

// rmsNormBackward(x, w | null, rstd, dy, dx, dw | null, rows, cols)
Napi::Value RmsNormBackward(const Napi::CallbackInfo& info) {
  const char* op = "rmsNormBackward";
  const int64_t rows = size_arg(info, 6, op), cols = size_arg(info, 7, op);
  kernels().rms_norm_backward(
      checked_array<float>(info, 0, rows * cols, op, "x"), checked_array<float>(info, 1, cols, op, "w", true),
      checked_array<float>(info, 2, rows, op, "rstd"), checked_array<float>(info, 3, rows * cols, op, "dy"),
      checked_array<float>(info, 4, rows * cols, op, "dx"), checked_array<float>(info, 5, cols, op, "dw", true), rows,
      cols);
  return info.Env().Undefined();
}

// layerNorm(x, w, b, out, mean, rstd, rows, cols, eps)
Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  const char* op = "layerNorm";
  const int64_t rows = size_arg(info, 6, op), cols = size_arg(info, 7, op);
  kernels().layer_norm(checked_array<float>(info, 0, rows * cols, op, "x"),
                       checked_array<float>(info, 1, cols, op, "w"), checked_array<float>(info, 2, cols, op, "b"),
                       checked_array<float>(info, 3, rows * cols, op, "out"),
                       checked_array<float>(info, 4, rows, op, "mean"), checked_array<float>(info, 5, rows, op, "rstd"),
                       rows, cols, static_cast<float>(num_arg(info, 8)));
  return info.Env().Undefined();
}

// layerNormBackward(x, w, mean, rstd, dy, dx, dw | null, db | null, rows, cols)
Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  const char* op = "layerNormBackward";
  const int64_t rows = size_arg(info, 8, op), cols = size_arg(info, 9, op);
  kernels().layer_norm_backward(
      checked_array<float>(info, 0, rows * cols, op, "x"), checked_array<float>(info, 1, cols, op, "w"),
      checked_array<float>(info, 2, rows, op, "mean"), checked_array<float>(info, 3, rows, op, "rstd"),
      checked_array<float>(info, 4, rows * cols, op, "dy"), checked_array<float>(info, 5, rows * cols, op, "dx"),
      checked_array<float>(info, 6, cols, op, "dw", true), checked_array<float>(info, 7, cols, op, "db", true), rows,
      cols);
  return info.Env().Undefined();
}

PEFT_EXPORT("rmsNorm", RmsNorm);
PEFT_EXPORT("rmsNormBackward", RmsNormBackward);
PEFT_EXPORT("layerNorm", LayerNorm);
PEFT_EXPORT("layerNormBackward", LayerNormBackward);

}  // namespace
}  // namespace peft
