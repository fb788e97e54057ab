// The AVX2 instantiation of the generic kernel families (compiled with the AVX2 flags); the
// attention family has its own file.
#include "activation.h"
#include "adamw.h"
#include "dequant.h"
#include "dropout.h"
#include "elementwise.h"
#include "embedding.h"
#include "isa/simd_avx2.h"
#include "loss.h"
#include "norm.h"
#include "rope.h"
#include "softmax.h"

namespace peft {

const ActivationTable kActivationAvx2 = activation_table<Avx2>();
const AdamwTable kAdamwAvx2 = adamw_table<Avx2>();
const DequantTable kDequantAvx2 = dequant_table<Avx2>();
const DropoutTable kDropoutAvx2 = dropout_table<Avx2>();
const ElementwiseTable kElementwiseAvx2 = elementwise_table<Avx2>();
const EmbeddingTable kEmbeddingAvx2 = embedding_table<Avx2>();
const LossTable kLossAvx2 = loss_table<Avx2>();
const NormTable kNormAvx2 = norm_table<Avx2>();
const RopeTable kRopeAvx2 = rope_table<Avx2>();
const SoftmaxTable kSoftmaxAvx2 = softmax_table<Avx2>();

}  // namespace peft
