// The kernel sets per ISA, with their cache blocking, and the choice among them (runtime.h's active_isa()).
// Blocking for the AVX-512 set was measured on a 2-core Sapphire Rapids (48 KiB L1d, 2 MiB L2 per core): a
// 12×kc A sliver (24 KiB at kc = 512) stays in L1 while the kc×nc B block (960 KiB) streams from L2; kc from
// 384 to 576 and nc from 384 to 672 were within the (large) noise of that shared machine.
#include "gemm.h"
#include "runtime.h"

namespace peft::gemm {
namespace {

// name, MR, NR, kc, nc, mc, kernels and loaders
const KernelSet kScalar{"scalar", 4, 16, 256, 256, 512, scalar::tile_4x16, scalar::tile_small_16,
                        ref::pack_a<4>, ref::pack_b<16>, ref::decode_row, nullptr};
const KernelSet kAvx2{"avx2", 6, 16, 256, 384, 1536, avx2::tile_6x16, avx2::tile_small_16,
                      ref::pack_a<6>, ref::pack_b<16>, ref::decode_row, nullptr};
const KernelSet kAvx512{"avx512", 12, 32, 512, 480, 1536, avx512::tile_12x32, avx512::tile_small_32,
                        avx512::pack_a_12, avx512::pack_b_32, avx512::decode_row, avx512::dot};

}  // namespace

const KernelSet& active_kernels() {
  switch (active_isa()) {
    case Isa::Avx512: return kAvx512;
    case Isa::Avx2: return kAvx2;
    default: return kScalar;
  }
}

}  // namespace peft::gemm
