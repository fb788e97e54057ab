// The AVX-512 instantiation of the fused attention (compiled with the AVX-512 flags).
#include "attention.h"
#include "isa/simd_avx512.h"

namespace peft {

const AttentionTable kAttentionAvx512 = attention_table<Avx512>();

}  // namespace peft
