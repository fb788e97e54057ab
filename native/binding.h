// Helpers for the Node-API side of the kernel families (native/<family>.cc): checked typed-array
// arguments and the choice of the ISA variant. Kernels trust their sizes (the ops check shapes), but a
// short array would be an out-of-bounds write in C++, so every array's length is checked here first.
#pragma once

#include <string>

#include "runtime.h"

namespace peft {

/** The variant of a kernel table for the active ISA (runtime.h: best supported, or PEFT_TS_ISA). */
template <class Table>
const Table& for_isa(const Table& scalar, const Table& avx2, const Table& avx512) {
  switch (active_isa()) {
    case Isa::Avx512Bf16:
    case Isa::Avx512: return avx512;
    case Isa::Avx2: return avx2;
    default: return scalar;
  }
}

template <class T>
constexpr napi_typedarray_type typed_array_kind();
template <>
constexpr napi_typedarray_type typed_array_kind<float>() {
  return napi_float32_array;
}
template <>
constexpr napi_typedarray_type typed_array_kind<uint16_t>() {
  return napi_uint16_array;
}
template <>
constexpr napi_typedarray_type typed_array_kind<int32_t>() {
  return napi_int32_array;
}
template <>
constexpr napi_typedarray_type typed_array_kind<uint8_t>() {
  return napi_uint8_array;
}
template <>
constexpr napi_typedarray_type typed_array_kind<int8_t>() {
  return napi_int8_array;
}

/** Argument i as a T array of at least `need` elements (or null when `nullable` and null is passed). */
template <class T>
T* checked_array(const Napi::CallbackInfo& info, size_t i, int64_t need, const char* op, const char* name,
                 bool nullable = false) {
  Napi::Value v = info[i];
  if (nullable && (v.IsNull() || v.IsUndefined())) return nullptr;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != typed_array_kind<T>()) {
    throw Napi::TypeError::New(info.Env(), std::string(op) + ": " + name + " has the wrong array type");
  }
  Napi::TypedArrayOf<T> a = v.As<Napi::TypedArrayOf<T>>();
  if (need < 0 || static_cast<int64_t>(a.ElementLength()) < need) {
    throw Napi::RangeError::New(info.Env(), std::string(op) + ": " + name + " has " +
                                                std::to_string(a.ElementLength()) + " elements, needs " +
                                                std::to_string(need));
  }
  return a.Data();
}

/** Argument i as a non-negative size. */
inline int64_t size_arg(const Napi::CallbackInfo& info, size_t i, const char* op) {
  const int64_t n = int_arg(info, i);
  if (n < 0) throw Napi::RangeError::New(info.Env(), std::string(op) + ": negative size");
  return n;
}

}  // namespace peft
