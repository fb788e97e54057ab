// Node-API bindings of the cross-entropy family (loss.h) and its scalar instantiation.
#include "loss.h"

#include "binding.h"
#include "simd_scalar.h"

namespace peft {

const LossTable kLossScalar = loss_table<Scalar>();

namespace {

const LossTable& kernels() { return for_isa(kLossScalar, kLossAvx2, kLossAvx512); }

const int32_t* checked_labels(const Napi::CallbackInfo& info, size_t i, int64_t rows, int64_t vocab, int32_t ignore,
                              const char* op) {
  const int32_t* labels = checked_array<int32_t>(info, i, rows, op, "labels");
  for (int64_t r = 0; r < rows; r++) {
    if (labels[r] != ignore && (labels[r] < 0 || labels[r] >= vocab)) {
      throw Napi::RangeError::New(info.Env(), std::string(op) + ": label " + std::to_string(labels[r]) + " at row " +
                                                  std::to_string(r) + " outside vocabulary of " +
                                                  std::to_string(vocab));
    }
  }
  return labels;
}

// crossEntropy(logits, labels, loss, lse, rows, V, ignoreIndex)
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  const char* op = "crossEntropy";
  const int64_t rows = size_arg(info, 4, op), vocab = size_arg(info, 5, op);
  const int32_t ignore = static_cast<int32_t>(int_arg(info, 6));
  kernels().cross_entropy(checked_array<float>(info, 0, rows * vocab, op, "logits"),
                          checked_labels(info, 1, rows, vocab, ignore, op),
                          checked_array<float>(info, 2, rows, op, "loss"),
                          checked_array<float>(info, 3, rows, op, "lse"), rows, vocab, ignore);
  return info.Env().Undefined();
}

// crossEntropyBackward(logits, labels, lse, dLogits, rows, V, ignoreIndex, scale)
Napi::Value CrossEntropyBackward(const Napi::CallbackInfo& info) {
  const char* op = "crossEntropyBackward";
  const int64_t rows = size_arg(info, 4, op), vocab = size_arg(info, 5, op);
  const int32_t ignore = static_cast<int32_t>(int_arg(info, 6));
  kernels().cross_entropy_backward(
      checked_array<float>(info, 0, rows * vocab, op, "logits"), checked_labels(info, 1, rows, vocab, ignore, op),
      checked_array<float>(info, 2, rows, op, "lse"), checked_array<float>(info, 3, rows * vocab, op, "dLogits"), rows,
      vocab, ignore, static_cast<float>(num_arg(info, 7)));
  return info.Env().Undefined();
}

PEFT_EXPORT("crossEntropy", CrossEntropy);
PEFT_EXPORT("crossEntropyBackward", CrossEntropyBackward);

}  // namespace
}  // namespace peft
