// The AVX2 instantiation of the fused attention (compiled with the AVX2 flags).
#include "attention.h"
#include "isa/simd_avx2.h"

namespace peft {

const AttentionTable kAttentionAvx2 = attention_table<Avx2>();

}  // namespace peft
