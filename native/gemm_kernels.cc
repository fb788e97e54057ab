// The kernel sets per ISA, with their cache blocking, and the choice among them (runtime.h's active_isa()).
// Blocking for the AVX-512 set was measured on a 2-core Sapphire Rapids (48 KiB L1d, 2 MiB L2 per core): a
// 12×kc A sliver (24 KiB at kc = 512) stays in L1 while the kc×nc B block (960 KiB) streams from L2; kc from
// 384 to 576 and nc from 384 to 672 were within the (large) noise of that shared machine.
// The AVX512_BF16 set keeps those footprints: bf16 panels are half the bytes, so kc doubles.
#include <cstring>

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
const KernelSet kAvx512Bf16{"avx512bf16", 12, 32, 1024, 480, 1536, avx512bf16::tile_12x32, nullptr,
                            avx512bf16::pack_a_12, avx512bf16::pack_b_32, avx512::decode_row, nullptr, 2};

// ---- bf16 operands without bf16 dot products: float32 kernels on panels rounded to bf16 values ----

/** Rounds n floats to the nearest bf16 value, ties to even (src/tensor/dtype.ts's f32ToBf16); NaN stays NaN. */
void round_to_bf16(float* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    uint32_t u;
    std::memcpy(&u, x + i, sizeof u);
    const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    u = (u & 0x7fffffffu) > 0x7f800000u ? u : rounded;
    std::memcpy(x + i, &u, sizeof u);
  }
}

template <const KernelSet& base>
void pack_a_rounded(const float* a, int64_t lda, bool trans, int64_t m0, int mc, int64_t k0, int kc, float* dst) {
  base.pack_a(a, lda, trans, m0, mc, k0, kc, dst);
  round_to_bf16(dst, static_cast<int64_t>((mc + base.mr - 1) / base.mr * base.mr) * kc);
}

template <const KernelSet& base>
void pack_b_rounded(const BMatrix& b, int64_t k0, int kc, int64_t n0, int nc, float* dst, float* scratch) {
  base.pack_b(b, k0, kc, n0, nc, dst, scratch);
  round_to_bf16(dst, static_cast<int64_t>((nc + base.nr - 1) / base.nr * base.nr) * kc);
}

/** `base` with rounding packers; A and B are always packed, so that every operand is rounded. */
template <const KernelSet& base>
KernelSet rounded() {
  KernelSet ks = base;
  ks.tile_small = nullptr;
  ks.dot = nullptr;
  ks.pack_a = pack_a_rounded<base>;
  ks.pack_b = pack_b_rounded<base>;
  return ks;
}

const KernelSet kScalarRounded = rounded<kScalar>();
const KernelSet kAvx2Rounded = rounded<kAvx2>();
const KernelSet kAvx512Rounded = rounded<kAvx512>();

}  // namespace

const KernelSet& active_kernels() {
  switch (active_isa()) {
    case Isa::Avx512Bf16:
    case Isa::Avx512: return kAvx512;
    case Isa::Avx2: return kAvx2;
    default: return kScalar;
  }
}

const KernelSet& bf16_kernels() {
  switch (active_isa()) {
    case Isa::Avx512Bf16: return kAvx512Bf16;
    case Isa::Avx512: return kAvx512Rounded;
    case Isa::Avx2: return kAvx2Rounded;
    default: return kScalarRounded;
  }
}

}  // namespace peft::gemm
