// Node-API bindings of the activation family (activation.h) and its scalar instantiation.
#include "activation.h"

#include "binding.h"
#include "simd_scalar.h"

namespace peft {

const ActivationTable kActivationScalar = activation_table<Scalar>();

namespace {

const ActivationTable& kernels() { return for_isa(kActivationScalar, kActivationAvx2, kActivationAvx512); }

bool tanh_form(const Napi::CallbackInfo& info, size_t i, const char* op) {
  const std::string a = info[i].As<Napi::String>().Utf8Value();
  if (a != "none" && a != "tanh")
    throw Napi::TypeError::New(info.Env(), std::string(op) + ": approximate must be none or tanh");
  return a == "tanh";
}

// silu(x, out, n)
Napi::Value Silu(const Napi::CallbackInfo& info) {
  const int64_t n = size_arg(info, 2, "silu");
  kernels().silu(checked_array<float>(info, 0, n, "silu", "x"), checked_array<float>(info, 1, n, "silu", "out"), n);
  return info.Env().Undefined();
}

// siluBackward(x, dy, dx, n)
Napi::Value SiluBackward(const Napi::CallbackInfo& info) {
  const char* op = "siluBackward";
  const int64_t n = size_arg(info, 3, op);
  kernels().silu_backward(checked_array<float>(info, 0, n, op, "x"), checked_array<float>(info, 1, n, op, "dy"),
                          checked_array<float>(info, 2, n, op, "dx"), n);
  return info.Env().Undefined();
}

// gelu(x, out, n, approximate)
Napi::Value Gelu(const Napi::CallbackInfo& info) {
  const int64_t n = size_arg(info, 2, "gelu");
  kernels().gelu(checked_array<float>(info, 0, n, "gelu", "x"), checked_array<float>(info, 1, n, "gelu", "out"), n,
                 tanh_form(info, 3, "gelu"));
  return info.Env().Undefined();
}

// geluBackward(x, dy, dx, n, approximate)
Napi::Value GeluBackward(const Napi::CallbackInfo& info) {
  const char* op = "geluBackward";
  const int64_t n = size_arg(info, 3, op);
  kernels().gelu_backward(checked_array<float>(info, 0, n, op, "x"), checked_array<float>(info, 1, n, op, "dy"),
                          checked_array<float>(info, 2, n, op, "dx"), n, tanh_form(info, 4, op));
  return info.Env().Undefined();
}

// swiglu(gate, up, out, n)
Napi::Value Swiglu(const Napi::CallbackInfo& info) {
  const int64_t n = size_arg(info, 3, "swiglu");
  kernels().swiglu(checked_array<float>(info, 0, n, "swiglu", "gate"), checked_array<float>(info, 1, n, "swiglu", "up"),
                   checked_array<float>(info, 2, n, "swiglu", "out"), n);
  return info.Env().Undefined();
}

// swigluBackward(gate, up, dy, dGate, dUp, n)
Napi::Value SwigluBackward(const Napi::CallbackInfo& info) {
  const char* op = "swigluBackward";
  const int64_t n = size_arg(info, 5, op);
  kernels().swiglu_backward(checked_array<float>(info, 0, n, op, "gate"), checked_array<float>(info, 1, n, op, "up"),
                            checked_array<float>(info, 2, n, op, "dy"), checked_array<float>(info, 3, n, op, "dGate"),
                            checked_array<float>(info, 4, n, op, "dUp"), n);
  return info.Env().Undefined();
}

// geglu(gate, up, out, n, approximate)
Napi::Value Geglu(const Napi::CallbackInfo& info) {
  const int64_t n = size_arg(info, 3, "geglu");
  kernels().geglu(checked_array<float>(info, 0, n, "geglu", "gate"), checked_array<float>(info, 1, n, "geglu", "up"),
                  checked_array<float>(info, 2, n, "geglu", "out"), n, tanh_form(info, 4, "geglu"));
  return info.Env().Undefined();
}

// gegluBackward(gate, up, dy, dGate, dUp, n, approximate)
Napi::Value GegluBackward(const Napi::CallbackInfo& info) {
  const char* op = "gegluBackward";
  const int64_t n = size_arg(info, 5, op);
  kernels().geglu_backward(checked_array<float>(info, 0, n, op, "gate"), checked_array<float>(info, 1, n, op, "up"),
                           checked_array<float>(info, 2, n, op, "dy"), checked_array<float>(info, 3, n, op, "dGate"),
                           checked_array<float>(info, 4, n, op, "dUp"), n, tanh_form(info, 6, op));
  return info.Env().Undefined();
}

float cap_arg(const Napi::CallbackInfo& info, size_t i, const char* op) {
  const double c = num_arg(info, i);
  if (!(c > 0)) throw Napi::RangeError::New(info.Env(), std::string(op) + ": cap must be positive");
  return static_cast<float>(c);
}

// softcap(x, out, n, cap)
Napi::Value Softcap(const Napi::CallbackInfo& info) {
  const char* op = "softcap";
  const int64_t n = size_arg(info, 2, op);
  kernels().softcap(checked_array<float>(info, 0, n, op, "x"), checked_array<float>(info, 1, n, op, "out"), n,
                    cap_arg(info, 3, op));
  return info.Env().Undefined();
}

// softcapBackward(y, dy, dx, n, cap)
Napi::Value SoftcapBackward(const Napi::CallbackInfo& info) {
  const char* op = "softcapBackward";
  const int64_t n = size_arg(info, 3, op);
  kernels().softcap_backward(checked_array<float>(info, 0, n, op, "y"), checked_array<float>(info, 1, n, op, "dy"),
                             checked_array<float>(info, 2, n, op, "dx"), n, cap_arg(info, 4, op));
  return info.Env().Undefined();
}

PEFT_EXPORT("silu", Silu);
PEFT_EXPORT("siluBackward", SiluBackward);
PEFT_EXPORT("gelu", Gelu);
PEFT_EXPORT("geluBackward", GeluBackward);
PEFT_EXPORT("swiglu", Swiglu);
PEFT_EXPORT("swigluBackward", SwigluBackward);
PEFT_EXPORT("geglu", Geglu);
PEFT_EXPORT("gegluBackward", GegluBackward);
PEFT_EXPORT("softcap", Softcap);
PEFT_EXPORT("softcapBackward", SoftcapBackward);

}  // namespace
}  // namespace peft
