// Kernels whose results must equal the reference's float64 arithmetic bit for bit are compiled without
// floating-point contraction: with it, GCC (C++ defaults to -ffp-contract=fast) and clang fuse a·b + c
// into one FMA, whose single rounding differs from the reference's two. Bracket such code with
// PEFT_EXACT_BEGIN / PEFT_EXACT_END. The region also drops -ftrapping-math, which only concerns FP
// exception flags (never values) but stops GCC from vectorising a loop with a select in it.
#pragma once

#if defined(__clang__)
#define PEFT_EXACT_BEGIN _Pragma("clang fp contract(off)")
#define PEFT_EXACT_END
#else
#define PEFT_EXACT_BEGIN _Pragma("GCC push_options") _Pragma("GCC optimize(\"fp-contract=off\", \"no-trapping-math\")")
#define PEFT_EXACT_END _Pragma("GCC pop_options")
#endif
