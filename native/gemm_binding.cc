// Node-API entry of the GEMM: positional arguments (src/backend/native/gemm.ts builds them from GemmArgs),
// checked against the arrays' lengths so that a wrong shape throws instead of reading out of bounds.
//
// gemm(M, N, K, transA, transB, a, aOffset, lda, c, cOffset, ldc, alpha, beta,
//      count, strideA, strideB, strideC, bKind, ...b, precision)
//   bKind "f32":  b = data: Float32Array, offset, ld
//   bKind "bf16": b = data: Uint16Array, offset, ld
//   bKind "q4":   b = rows, cols, codes: Uint8Array, codebook: Float32Array, blockSize, absmax: Float32Array | null,
//                     nestedCodes: Uint8Array | null, nestedAbsmax: Float32Array | null,
//                     nestedMap: Float32Array | null, nestedBlockSize, nestedOffset
//   bKind "q8":   b = rows, cols, codes: Int8Array, rowScale: Float32Array
//   precision "f32" | "bf16" (the last argument): the operands as given, or both rounded to bfloat16
#include <string>

#include "gemm.h"
#include "runtime.h"

namespace peft {
namespace {

template <typename T>
struct Span {
  T* data = nullptr;
  int64_t length = 0;
};

template <typename T>
Span<T> typed(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type type, const char* what,
              bool nullable = false) {
  Napi::Value v = info[i];
  if (nullable && (v.IsNull() || v.IsUndefined())) return {};
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    throw Napi::TypeError::New(info.Env(), std::string("gemm: ") + what + " has the wrong array type");
  Napi::TypedArray t = v.As<Napi::TypedArray>();
  auto* base = static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset();
  return {reinterpret_cast<T*>(base), static_cast<int64_t>(t.ElementLength())};
}

/** Throws unless `count` matrices [rows, cols] (ld apart, `stride` apart) starting at offset fit in length. */
void check_matrix(Napi::Env env, const char* what, int64_t length, int64_t offset, int64_t ld, int64_t rows,
                  int64_t cols, int64_t count, int64_t stride) {
  if (rows == 0 || cols == 0) return;
  const int64_t last = offset + (count - 1) * stride + (rows - 1) * ld + cols - 1;
  if (offset < 0 || stride < 0 || (rows > 1 && ld < cols) || last >= length)
    throw Napi::RangeError::New(env, std::string("gemm: ") + what + " [" + std::to_string(rows) + ", " +
                                         std::to_string(cols) + "] (ld " + std::to_string(ld) + ", offset " +
                                         std::to_string(offset) + ", " + std::to_string(count) +
                                         " in batch) does not fit its array of " + std::to_string(length));
}

void check_length(Napi::Env env, const char* what, int64_t length, int64_t needed) {
  if (length < needed)
    throw Napi::RangeError::New(env, std::string("gemm: ") + what + " has " + std::to_string(length) +
                                         " elements, needs " + std::to_string(needed));
}

gemm::BMatrix quant_operand(const Napi::CallbackInfo& info, const std::string& kind, int64_t rows, int64_t cols) {
  Napi::Env env = info.Env();
  gemm::BMatrix b{};
  b.cols = b.ld = cols;
  const int64_t n = rows * cols;
  if (kind == "q8") {
    b.kind = gemm::BKind::Q8;
    auto codes = typed<int8_t>(info, 20, napi_int8_array, "codes");
    auto scale = typed<float>(info, 21, napi_float32_array, "rowScale");
    check_length(env, "codes", codes.length, n);
    check_length(env, "rowScale", scale.length, rows);
    b.q8 = {codes.data, scale.data};
    return b;
  }
  b.kind = gemm::BKind::Q4;
  gemm::Quant4& q = b.q4;
  auto codes = typed<uint8_t>(info, 20, napi_uint8_array, "codes");
  auto codebook = typed<float>(info, 21, napi_float32_array, "codebook");
  q.block_size = int_arg(info, 22);
  if (q.block_size <= 0) throw Napi::RangeError::New(env, "gemm: blockSize must be positive");
  const int64_t blocks = (n + q.block_size - 1) / q.block_size;
  check_length(env, "codes", codes.length, (n + 1) / 2);
  check_length(env, "codebook", codebook.length, 16);
  q.codes = codes.data;
  q.codebook = codebook.data;
  auto absmax = typed<float>(info, 23, napi_float32_array, "absmax", true);
  if (absmax.data) {
    check_length(env, "absmax", absmax.length, blocks);
    q.absmax = absmax.data;
    return b;
  }
  auto ncodes = typed<uint8_t>(info, 24, napi_uint8_array, "nested codes");
  auto nabsmax = typed<float>(info, 25, napi_float32_array, "nestedAbsmax");
  auto nmap = typed<float>(info, 26, napi_float32_array, "nestedMap");
  q.nested_block_size = int_arg(info, 27);
  if (q.nested_block_size <= 0) throw Napi::RangeError::New(env, "gemm: nestedBlockSize must be positive");
  check_length(env, "nested codes", ncodes.length, blocks);
  check_length(env, "nestedAbsmax", nabsmax.length, (blocks + q.nested_block_size - 1) / q.nested_block_size);
  check_length(env, "nestedMap", nmap.length, 256);
  q.nested_codes = ncodes.data;
  q.nested_absmax = nabsmax.data;
  q.nested_map = nmap.data;
  q.nested_offset = num_arg(info, 28);
  return b;
}

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  gemm::Problem p{};
  p.M = int_arg(info, 0);
  p.N = int_arg(info, 1);
  p.K = int_arg(info, 2);
  p.trans_a = bool_arg(info, 3);
  const bool trans_b = bool_arg(info, 4);
  auto a = typed<float>(info, 5, napi_float32_array, "a");
  const int64_t a_offset = int_arg(info, 6);
  p.lda = int_arg(info, 7);
  auto c = typed<float>(info, 8, napi_float32_array, "c");
  const int64_t c_offset = int_arg(info, 9);
  p.ldc = int_arg(info, 10);
  p.alpha = static_cast<float>(num_arg(info, 11));
  p.beta = static_cast<float>(num_arg(info, 12));
  const int64_t count = int_arg(info, 13);
  const int64_t stride_a = int_arg(info, 14), stride_b = int_arg(info, 15), stride_c = int_arg(info, 16);
  if (!info[17].IsString()) throw Napi::TypeError::New(env, "gemm: bKind must be a string");
  const std::string kind = info[17].As<Napi::String>().Utf8Value();
  const Napi::Value last = info[info.Length() - 1];
  const std::string precision = last.IsString() ? last.As<Napi::String>().Utf8Value() : "";
  if (precision != "f32" && precision != "bf16")
    throw Napi::TypeError::New(env, "gemm: the last argument must be the precision, \"f32\" or \"bf16\"");
  p.precision = precision == "bf16" ? gemm::Precision::Bf16 : gemm::Precision::F32;
  if (p.M < 0 || p.N < 0 || p.K < 0 || count < 0) throw Napi::RangeError::New(env, "gemm: negative size");
  if (count > (1 << 24)) throw Napi::RangeError::New(env, "gemm: more than 2^24 products in one batch");
  if (count == 0) return env.Undefined();

  check_matrix(env, "A", a.length, a_offset, p.lda, p.trans_a ? p.K : p.M, p.trans_a ? p.M : p.K, count, stride_a);
  check_matrix(env, "C", c.length, c_offset, p.ldc, p.M, p.N, count, stride_c);
  p.a = a.data + a_offset;
  p.c = c.data + c_offset;

  const int64_t b_rows = trans_b ? p.N : p.K, b_cols = trans_b ? p.K : p.N;
  if (kind == "f32" || kind == "bf16") {
    const int64_t offset = int_arg(info, 19);
    p.b.ld = int_arg(info, 20);
    if (kind == "f32") {
      auto data = typed<float>(info, 18, napi_float32_array, "b");
      check_matrix(env, "B", data.length, offset, p.b.ld, b_rows, b_cols, count, stride_b);
      p.b.kind = gemm::BKind::F32;
      p.b.f32 = data.data + offset;
    } else {
      auto data = typed<uint16_t>(info, 18, napi_uint16_array, "b");
      check_matrix(env, "B", data.length, offset, p.b.ld, b_rows, b_cols, count, stride_b);
      p.b.kind = gemm::BKind::Bf16;
      p.b.bf16 = data.data + offset;
    }
  } else if (kind == "q4" || kind == "q8") {
    if (count > 1) throw Napi::RangeError::New(env, "gemm: batched products need a dense B");
    const int64_t rows = int_arg(info, 18), cols = int_arg(info, 19);
    if (rows != b_rows || cols != b_cols)
      throw Napi::RangeError::New(env, "gemm: quantized B is [" + std::to_string(rows) + ", " + std::to_string(cols) +
                                           "], the product needs [" + std::to_string(b_rows) + ", " +
                                           std::to_string(b_cols) + "]");
    p.b = quant_operand(info, kind, rows, cols);
  } else {
    throw Napi::TypeError::New(env, "gemm: unknown B kind " + kind);
  }
  p.b.trans = trans_b;
  gemm::run(p, count, stride_a, stride_b, stride_c);
  return env.Undefined();
}

PEFT_EXPORT("gemm", Gemm);

}  // namespace
}  // namespace peft
