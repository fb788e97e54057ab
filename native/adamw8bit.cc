// Node-API binding of the 8-bit blockwise AdamW step (adamw8bit.h). One portable build for every ISA: the
// step is bound by memory and table lookups, and the bits must not depend on the machine.
#include "adamw8bit.h"

#include <memory>

#include "binding.h"
#include "parallel.h"

namespace peft {
namespace {

/** The code tables of the last maps seen (the optimizer passes the same two maps on every call). */
const adamw8bit::CodeLut& lut_for(const Napi::CallbackInfo& info, std::unique_ptr<adamw8bit::CodeLut>& slot,
                                   const float* map, bool is_signed) {
  if (slot && slot->matches(map, is_signed)) return *slot;
  if (!slot) slot = std::make_unique<adamw8bit::CodeLut>();
  if (!slot->build(map, is_signed)) {
    slot.reset();
    throw Napi::RangeError::New(info.Env(), "adamw8bit: the code map is too dense for the encoding table");
  }
  return *slot;
}

// adamw8bit(param, grad, state1, state2, absmax1, absmax2, n, qmap1, qmap2,
//           beta1, beta2, oneMinusBeta1, oneMinusBeta2, stepSize, epsScaled, hasDecay, decay)
Napi::Value Adamw8bit(const Napi::CallbackInfo& info) {
  const char* op = "adamw8bit";
  static std::unique_ptr<adamw8bit::CodeLut> lut1, lut2;
  const int64_t n = size_arg(info, 6, op);
  const int64_t blocks = (n + kAdamw8bitBlock - 1) / kAdamw8bitBlock;
  float* param = checked_array<float>(info, 0, n, op, "param");
  const float* grad = checked_array<float>(info, 1, n, op, "grad");
  uint8_t* state1 = checked_array<uint8_t>(info, 2, n, op, "state1");
  uint8_t* state2 = checked_array<uint8_t>(info, 3, n, op, "state2");
  float* absmax1 = checked_array<float>(info, 4, blocks, op, "absmax1");
  float* absmax2 = checked_array<float>(info, 5, blocks, op, "absmax2");
  const float* qmap1 = checked_array<float>(info, 7, 256, op, "qmap1");
  const float* qmap2 = checked_array<float>(info, 8, 256, op, "qmap2");
  const Adamw8bitStep k{static_cast<float>(num_arg(info, 9)),  static_cast<float>(num_arg(info, 10)),
                        static_cast<float>(num_arg(info, 11)), static_cast<float>(num_arg(info, 12)),
                        static_cast<float>(num_arg(info, 13)), static_cast<float>(num_arg(info, 14)),
                        bool_arg(info, 15),                    static_cast<float>(num_arg(info, 16))};
  const adamw8bit::CodeLut& l1 = lut_for(info, lut1, qmap1, true);
  const adamw8bit::CodeLut& l2 = lut_for(info, lut2, qmap2, false);
  // 64 blocks (16K elements) per task: each block is independent, so the split never changes the bits.
  for_ranges(blocks, 64, [&](int64_t b0, int64_t b1) {
    adamw8bit::step_blocks(param, grad, state1, state2, absmax1, absmax2, n, b0, b1, k, qmap1, qmap2, l1, l2);
  });
  return info.Env().Undefined();
}

PEFT_EXPORT("adamw8bit", Adamw8bit);

}  // namespace
}  // namespace peft
