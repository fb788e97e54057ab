// Node-API bindings of the embedding family (embedding.h) and its scalar instantiation.
#include "embedding.h"

#include "binding.h"
#include "simd_scalar.h"

namespace peft {

const EmbeddingTable kEmbeddingScalar = embedding_table<Scalar>();

namespace {

const EmbeddingTable& kernels() { return for_isa(kEmbeddingScalar, kEmbeddingAvx2, kEmbeddingAvx512); }

/** ids[0..n) checked against the number of rows the table holds. */
const int32_t* checked_ids(const Napi::CallbackInfo& info, size_t i, int64_t n, int64_t vocab, const char* op) {
  const int32_t* ids = checked_array<int32_t>(info, i, n, op, "ids");
  for (int64_t k = 0; k < n; k++) {
    if (ids[k] < 0 || ids[k] >= vocab) {
      throw Napi::RangeError::New(info.Env(), std::string(op) + ": id " + std::to_string(ids[k]) + " at " +
                                                  std::to_string(k) + " outside the table's " + std::to_string(vocab) +
                                                  " rows");
    }
  }
  return ids;
}

/** Rows of a [?, dim] table with rows `ld` apart starting at `offset`, in an array of `length` elements. */
int64_t table_rows(int64_t length, int64_t offset, int64_t ld, int64_t dim) {
  if (ld <= 0 || length - offset < dim) return 0;
  return (length - offset - dim) / ld + 1;
}

// embedding(ids, table: f32 | bf16 array, offset, ld, out, n, dim)
Napi::Value Embedding(const Napi::CallbackInfo& info) {
  const char* op = "embedding";
  const int64_t offset = size_arg(info, 2, op), ld = size_arg(info, 3, op);
  const int64_t n = size_arg(info, 5, op), dim = size_arg(info, 6, op);
  float* out = checked_array<float>(info, 4, n * dim, op, "out");
  if (n == 0 || dim == 0) return info.Env().Undefined();
  const Napi::TypedArray table = info[1].As<Napi::TypedArray>();
  const int64_t vocab = table_rows(static_cast<int64_t>(table.ElementLength()), offset, ld, dim);
  const int32_t* ids = checked_ids(info, 0, n, vocab, op);
  if (table.TypedArrayType() == napi_uint16_array) {
    kernels().gather_bf16(ids, checked_array<uint16_t>(info, 1, 0, op, "table") + offset, ld, out, n, dim);
  } else {
    kernels().gather_f32(ids, checked_array<float>(info, 1, 0, op, "table") + offset, ld, out, n, dim);
  }
  return info.Env().Undefined();
}

// embeddingBackward(ids, dy, dTable, n, dim)
Napi::Value EmbeddingBackward(const Napi::CallbackInfo& info) {
  const char* op = "embeddingBackward";
  const int64_t n = size_arg(info, 3, op), dim = size_arg(info, 4, op);
  float* dtable = checked_array<float>(info, 2, 0, op, "dTable");
  if (n == 0 || dim == 0) return info.Env().Undefined();
  const int64_t vocab = static_cast<int64_t>(info[2].As<Napi::Float32Array>().ElementLength()) / dim;
  const int32_t* ids = checked_ids(info, 0, n, vocab, op);
  kernels().scatter_add(ids, checked_array<float>(info, 1, n * dim, op, "dy"), dtable, n, dim);
  return info.Env().Undefined();
}

PEFT_EXPORT("embedding", Embedding);
PEFT_EXPORT("embeddingBackward", EmbeddingBackward);

}  // namespace
}  // namespace peft
