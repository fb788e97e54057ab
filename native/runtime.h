// Shared runtime of the native kernel library: thread pool, CPU feature dispatch, Node-API argument helpers
// and the registry through which each kernel file exports its bindings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <napi.h>

namespace peft {

// ---- threads --------------------------------------------------------------------------------------------
// A fixed pool over all cores (PEFT_TS_THREADS overrides). Work is split into tasks by the caller; a task's
// result must depend only on its index, never on which thread ran it, so every run gives the same bits.
int num_threads();
void set_num_threads(int n);
void parallel_for(int tasks, const std::function<void(int task)>& fn);

// ---- CPU features ---------------------------------------------------------------------------------------
// Avx512Bf16 is AVX-512 plus AVX512_BF16's dot products (vdpbf16ps): float32 kernels as Avx512, and
// products with bfloat16 operands at twice the rate (gemm.h, Precision::Bf16).
enum class Isa { Scalar, Avx2, Avx512, Avx512Bf16 };
Isa best_isa();                // the widest ISA this CPU supports and the build includes
Isa active_isa();              // best_isa() unless PEFT_TS_ISA=scalar|avx2|avx512|avx512bf16 lowers it
const char* isa_name(Isa isa);

// ---- Node-API helpers -----------------------------------------------------------------------------------
template <typename T>
inline T* array_arg(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = info[i];
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  return Napi::TypedArrayOf<T>(info.Env(), v).Data();
}
inline float* f32_arg(const Napi::CallbackInfo& info, size_t i) { return array_arg<float>(info, i); }
inline double num_arg(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().DoubleValue(); }
inline int64_t int_arg(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int64Value(); }
inline bool bool_arg(const Napi::CallbackInfo& info, size_t i) { return info[i].ToBoolean().Value(); }

using Binding = Napi::Value (*)(const Napi::CallbackInfo&);
struct Registration {
  Registration(const char* name, Binding fn);
};

}  // namespace peft

// Exports `fn` to JavaScript as `name` (at the end of each kernel file, inside its namespace).
#define PEFT_EXPORT(name, fn) static ::peft::Registration peft_registration_##fn(name, fn)
