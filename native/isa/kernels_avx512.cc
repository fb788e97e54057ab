// The AVX-512 instantiation of the generic kernel families (compiled with the AVX-512 flags); the
// attention family has its own file.
#include "activation.h"
#include "adamw.h"
#include "dequant.h"
#include "dropout.h"
#include "elementwise.h"
#include "embedding.h"
#include "isa/simd_avx512.h"
#include "loss.h"
#include "norm.h"
#include "rope.h"
#include "softmax.h"

namespace peft {

const ActivationTable kActivationAvx512 = activation_table<Avx512>();
const AdamwTable kAdamwAvx512 = adamw_table<Avx512>();
const DequantTable kDequantAvx512 = dequant_table<Avx512>();
const DropoutTable kDropoutAvx512 = dropout_table<Avx512>();
const ElementwiseTable kElementwiseAvx512 = elementwise_table<Avx512>();
const EmbeddingTable kEmbeddingAvx512 = embedding_table<Avx512>();
const LossTable kLossAvx512 = loss_table<Avx512>();
const NormTable kNormAvx512 = norm_table<Avx512>();
const RopeTable kRopeAvx512 = rope_table<Avx512>();
const SoftmaxTable kSoftmaxAvx512 = softmax_table<Avx512>();

}  // namespace peft
