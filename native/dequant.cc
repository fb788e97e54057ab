// Node-API bindings of dequantization (dequant.h) and its scalar instantiation.
#include "dequant.h"

#include "binding.h"
#include "simd_scalar.h"

namespace peft {

const DequantTable kDequantScalar = dequant_table<Scalar>();

namespace {

const DequantTable& kernels() { return for_isa(kDequantScalar, kDequantAvx2, kDequantAvx512); }

void check_rows(const Napi::CallbackInfo& info, int64_t rows, int64_t row0, int64_t count, const char* op) {
  if (row0 + count > rows) {
    throw Napi::RangeError::New(info.Env(), std::string(op) + ": rows [" + std::to_string(row0) + ", " +
                                                std::to_string(row0 + count) + ") outside " + std::to_string(rows));
  }
}

// dequantize4(codes, codebook, rows, cols, blockSize, absmax | null, nestedCodes | null, nestedAbsmax | null,
//             nestedMap | null, nestedBlockSize, nestedOffset, row0, count, out)
Napi::Value Dequantize4(const Napi::CallbackInfo& info) {
  const char* op = "dequantizeRows";
  const int64_t rows = size_arg(info, 2, op), cols = size_arg(info, 3, op), block = size_arg(info, 4, op);
  const int64_t row0 = size_arg(info, 11, op), count = size_arg(info, 12, op);
  check_rows(info, rows, row0, count, op);
  if (block <= 0) throw Napi::RangeError::New(info.Env(), "dequantizeRows: block size must be positive");
  const int64_t blocks = (rows * cols + block - 1) / block;
  Quant4 q{};
  q.codes = checked_array<uint8_t>(info, 0, (rows * cols + 1) / 2, op, "codes");
  q.codebook = checked_array<float>(info, 1, 16, op, "codebook");
  q.cols = cols;
  q.block_size = block;
  q.absmax = checked_array<float>(info, 5, blocks, op, "absmax", true);
  if (!q.absmax) {
    q.nested_block_size = size_arg(info, 9, op);
    if (q.nested_block_size <= 0)
      throw Napi::RangeError::New(info.Env(), "dequantizeRows: nested block size must be positive");
    q.nested_codes = checked_array<uint8_t>(info, 6, blocks, op, "nested codes");
    q.nested_absmax =
        checked_array<float>(info, 7, (blocks + q.nested_block_size - 1) / q.nested_block_size, op, "nestedAbsmax");
    q.nested_map = checked_array<float>(info, 8, 256, op, "nestedMap");
    q.nested_offset = num_arg(info, 10);
  }
  kernels().dequant4(q, row0, count, checked_array<float>(info, 13, count * cols, op, "out"));
  return info.Env().Undefined();
}

// dequantize8(codes, rowScale, rows, cols, row0, count, out)
Napi::Value Dequantize8(const Napi::CallbackInfo& info) {
  const char* op = "dequantizeRows";
  const int64_t rows = size_arg(info, 2, op), cols = size_arg(info, 3, op);
  const int64_t row0 = size_arg(info, 4, op), count = size_arg(info, 5, op);
  check_rows(info, rows, row0, count, op);
  kernels().dequant8(checked_array<int8_t>(info, 0, rows * cols, op, "codes"),
                     checked_array<float>(info, 1, rows, op, "rowScale"), cols, row0, count,
                     checked_array<float>(info, 6, count * cols, op, "out"));
  return info.Env().Undefined();
}

PEFT_EXPORT("dequantize4", Dequantize4);
PEFT_EXPORT("dequantize8", Dequantize8);

}  // namespace
}  // namespace peft
