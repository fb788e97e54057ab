// Node-API binding of the rotary embedding (rope.h) and its scalar instantiation.
#include "rope.h"

#include <algorithm>

#include "binding.h"
#include "simd_scalar.h"

namespace peft {

const RopeTable kRopeScalar = rope_table<Scalar>();

namespace {

// rope(x, out, cos, sin, positions, rows, heads, hd, inverse, rotary)
Napi::Value Rope(const Napi::CallbackInfo& info) {
  const char* op = "rope";
  const int64_t rows = size_arg(info, 5, op), heads = size_arg(info, 6, op), hd = size_arg(info, 7, op);
  const int64_t rot = size_arg(info, 9, op);
  if (rot % 2 != 0 || rot > hd) throw Napi::RangeError::New(info.Env(), "rope: rotary dims must be even and ≤ head dim");
  const int64_t n = rows * heads * hd;
  const float* cos = checked_array<float>(info, 2, 0, op, "cos");
  const float* sin = checked_array<float>(info, 3, 0, op, "sin");
  const int32_t* positions = checked_array<int32_t>(info, 4, rows, op, "positions");
  // The tables must hold every position asked for.
  const int64_t table =
      std::min(info[2].As<Napi::Float32Array>().ElementLength(), info[3].As<Napi::Float32Array>().ElementLength());
  for (int64_t r = 0; r < rows; r++) {
    if (positions[r] < 0 || (static_cast<int64_t>(positions[r]) + 1) * (rot / 2) > table) {
      throw Napi::RangeError::New(info.Env(), "rope: position " + std::to_string(positions[r]) + " outside the tables");
    }
  }
  const RopeTable& k = for_isa(kRopeScalar, kRopeAvx2, kRopeAvx512);
  k.rope(checked_array<float>(info, 0, n, op, "x"), checked_array<float>(info, 1, n, op, "out"), cos, sin, positions,
         rows, heads, hd, bool_arg(info, 8), rot);
  return info.Env().Undefined();
}

PEFT_EXPORT("rope", Rope);

}  // namespace
}  // namespace peft
