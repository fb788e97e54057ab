// Node-API binding of dropout (dropout.h) and its scalar instantiation.
#include "dropout.h"

#include <cmath>

#include "binding.h"
#include "simd_scalar.h"

namespace peft {

const DropoutTable kDropoutScalar = dropout_table<Scalar>();

namespace {

/** A JavaScript number as the reference's uint32 (ToUint32: truncate, then modulo 2^32). */
uint32_t to_uint32(double v) {
  if (!std::isfinite(v)) return 0;
  return static_cast<uint32_t>(static_cast<uint64_t>(static_cast<int64_t>(std::fmod(std::trunc(v), 4294967296.0))));
}

// dropout(x, out, n, p, seed, offset)
Napi::Value Dropout(const Napi::CallbackInfo& info) {
  const char* op = "dropout";
  const int64_t n = size_arg(info, 2, op);
  const DropoutTable& k = for_isa(kDropoutScalar, kDropoutAvx2, kDropoutAvx512);
  k.dropout(checked_array<float>(info, 0, n, op, "x"), checked_array<float>(info, 1, n, op, "out"), n, num_arg(info, 3),
            to_uint32(num_arg(info, 4)), to_uint32(num_arg(info, 5)));
  return info.Env().Undefined();
}

PEFT_EXPORT("dropout", Dropout);

}  // namespace
}  // namespace peft
