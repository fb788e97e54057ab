// Node-API binding of the AdamW step (adamw.h) and its scalar instantiation.
#include "adamw.h"

#include "binding.h"
#include "simd_scalar.h"

namespace peft {

const AdamwTable kAdamwScalar = adamw_table<Scalar>();

namespace {

// adamw(param, grad, m, v, n, stepSize, bc2Sqrt, decay, beta1, beta2, eps)
Napi::Value Adamw(const Napi::CallbackInfo& info) {
  const char* op = "adamw";
  const int64_t n = size_arg(info, 4, op);
  const AdamwStep step{num_arg(info, 5), num_arg(info, 6), num_arg(info, 7),
                       num_arg(info, 8), num_arg(info, 9), num_arg(info, 10)};
  const AdamwTable& k = for_isa(kAdamwScalar, kAdamwAvx2, kAdamwAvx512);
  k.adamw(checked_array<float>(info, 0, n, op, "param"), checked_array<float>(info, 1, n, op, "grad"),
          checked_array<float>(info, 2, n, op, "m"), checked_array<float>(info, 3, n, op, "v"), n, step);
  return info.Env().Undefined();
}

PEFT_EXPORT("adamw", Adamw);

}  // namespace
}  // namespace peft
