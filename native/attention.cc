// Node-API bindings of the fused attention (attention.h) and its scalar instantiation.
#include "attention.h"

#include "binding.h"
#include "simd_scalar.h"

namespace peft {

const AttentionTable kAttentionScalar = attention_table<Scalar>();

namespace {

const AttentionTable& kernels() { return for_isa(kAttentionScalar, kAttentionAvx2, kAttentionAvx512); }

/** Reads the dims that follow the arrays (from argument i on) and checks q, k, v and the mask against them. */
AttentionArgs read_args(const Napi::CallbackInfo& info, size_t i, const char* op) {
  AttentionArgs a{};
  a.B = size_arg(info, i, op);
  a.T = size_arg(info, i + 1, op);
  a.S = size_arg(info, i + 2, op);
  a.nh = size_arg(info, i + 3, op);
  a.nkv = size_arg(info, i + 4, op);
  a.hd = size_arg(info, i + 5, op);
  a.scale = static_cast<float>(num_arg(info, i + 6));
  a.causal = bool_arg(info, i + 7);
  a.kv_row_stride = size_arg(info, i + 9, op);
  a.kv_batch_stride = size_arg(info, i + 10, op);
  a.window = size_arg(info, i + 11, op);
  a.softcap = static_cast<float>(num_arg(info, i + 12));
  if (!(a.softcap >= 0)) throw Napi::RangeError::New(info.Env(), std::string(op) + ": softcap must be ≥ 0");
  if (a.nkv == 0 || a.hd == 0 || a.nh % a.nkv != 0) {
    throw Napi::RangeError::New(info.Env(), std::string(op) + ": " + std::to_string(a.nh) + " query heads, " +
                                                std::to_string(a.nkv) + " kv heads of " + std::to_string(a.hd));
  }
  if (a.kv_row_stride < a.nkv * a.hd)
    throw Napi::RangeError::New(info.Env(), std::string(op) + ": kvRowStride < nkv·hd");
  a.key_mask = checked_array<uint8_t>(info, i + 8, a.B * a.S, op, "keyMask", true);
  const int64_t q_size = a.B * a.T * a.nh * a.hd;
  const int64_t kv_size =
      a.B == 0 || a.S == 0 ? 0 : (a.B - 1) * a.kv_batch_stride + (a.S - 1) * a.kv_row_stride + a.nkv * a.hd;
  a.q = checked_array<float>(info, 0, q_size, op, "q");
  a.k = checked_array<float>(info, 1, kv_size, op, "k");
  a.v = checked_array<float>(info, 2, kv_size, op, "v");
  return a;
}

// attention(q, k, v, out, lse, B, T, S, nh, nkv, hd, scale, causal, keyMask | null, kvRowStride, kvBatchStride,
//           window (0 = none), softcap (0 = none))
Napi::Value Attention(const Napi::CallbackInfo& info) {
  const char* op = "attention";
  const AttentionArgs a = read_args(info, 5, op);
  float* out = checked_array<float>(info, 3, a.B * a.T * a.nh * a.hd, op, "out");
  float* lse = checked_array<float>(info, 4, a.B * a.nh * a.T, op, "lse");
  kernels().forward(a, out, lse);
  return info.Env().Undefined();
}

// attentionBackward(q, k, v, out, lse, dOut, dq, dk, dv, B, T, S, nh, nkv, hd, scale, causal, keyMask | null,
//                   kvRowStride, kvBatchStride, window, softcap)
Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  const char* op = "attentionBackward";
  const AttentionArgs a = read_args(info, 9, op);
  const int64_t q_size = a.B * a.T * a.nh * a.hd, kv_dense = a.B * a.S * a.nkv * a.hd;
  kernels().backward(
      a, checked_array<float>(info, 3, q_size, op, "out"), checked_array<float>(info, 4, a.B * a.nh * a.T, op, "lse"),
      checked_array<float>(info, 5, q_size, op, "dOut"), checked_array<float>(info, 6, q_size, op, "dq"),
      checked_array<float>(info, 7, kv_dense, op, "dk"), checked_array<float>(info, 8, kv_dense, op, "dv"));
  return info.Env().Undefined();
}

PEFT_EXPORT("attention", Attention);
PEFT_EXPORT("attentionBackward", AttentionBackward);

}  // namespace
}  // namespace peft
