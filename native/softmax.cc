// Node-API bindings of the row softmax (softmax.h) and its scalar instantiation.
#include "softmax.h"

#include "binding.h"
#include "simd_scalar.h"

namespace peft {

const SoftmaxTable kSoftmaxScalar = softmax_table<Scalar>();

namespace {

const SoftmaxTable& kernels() { return for_isa(kSoftmaxScalar, kSoftmaxAvx2, kSoftmaxAvx512); }

// softmax(x, out, rows, cols)
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  const char* op = "softmax";
  const int64_t rows = size_arg(info, 2, op), cols = size_arg(info, 3, op);
  kernels().softmax(checked_array<float>(info, 0, rows * cols, op, "x"),
                    checked_array<float>(info, 1, rows * cols, op, "out"), rows, cols);
  return info.Env().Undefined();
}

// softmaxBackward(y, dy, dx, rows, cols)
Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  const char* op = "softmaxBackward";
  const int64_t rows = size_arg(info, 3, op), cols = size_arg(info, 4, op);
  kernels().softmax_backward(checked_array<float>(info, 0, rows * cols, op, "y"),
                             checked_array<float>(info, 1, rows * cols, op, "dy"),
                             checked_array<float>(info, 2, rows * cols, op, "dx"), rows, cols);
  return info.Env().Undefined();
}

PEFT_EXPORT("softmax", Softmax);
PEFT_EXPORT("softmaxBackward", SoftmaxBackward);

}  // namespace
}  // namespace peft
