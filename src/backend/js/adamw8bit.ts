// Reference of bitsandbytes' 8-bit blockwise Adam step (its CUDA kernel kOptimizerStatic8bit2StateBlockwise,
// which bnb.optim.AdamW8bit runs), in float32 with every operation rounded as the kernel's statements are.
//
// Per block of 256 consecutive elements (the last one may be partial):
//   1. decode: m = map1[c1]·absmax1, v = map2[c2]·absmax2; update, for a finite gradient g:
//        v ← v·β2 + ((1 − β2)·g)·g      m ← m·β1 + (1 − β1)·g
//      and m = v = 0 where g is NaN or ±∞ (the parameter is then left alone);
//   2. the block's new absmax of |m| and of |v|. A partial block's missing lanes take part as the kernel
//      loads them: gradient 0, code 128 for m and 0 for v, so they add |map1[128]·absmax1·β1| to m's max;
//   3. θ ← θ + stepSize·(m / (√v + ε·√(1 − β2^t)))  with stepSize = −lr·√(1 − β2^t) / (1 − β1^t),
//      then θ ← θ·(1 − lr·λ) when λ > 0 (decay after the update, unlike torch.optim.AdamW);
//   4. encode m / absmax and v / absmax with quantize2d (below); a code of m whose map value has the other
//      sign than m moves one step towards m's sign.
// The step constants (Adamw8bitStep) are formed once by the optimizer. Where the GPU is looser — __powf,
// __fdividef, and nvcc's default fusing of multiply-adds — this reference rounds every operation exactly,
// so it is bitsandbytes' arithmetic, not a bit-for-bit replay of a GPU run.

import type { Adamw8bitStep } from "../kernels.ts";

const fround = Math.fround;

/** Elements per absmax block of the 8-bit states (bitsandbytes' BLOCKSIZE_2STATE). */
export const ADAMW8BIT_BLOCK = 256;

function signbit(x: number): boolean {
  return x < 0 || Object.is(x, -0);
}

/**
 * bitsandbytes' quantize_2D: a 7-step binary search of the sorted 256-entry map from index 127 (comparing
 * x > map[pivot]), then a choice between the last pivot and the neighbour on x's side by the float32
 * midpoint, strict on both sides (a tie keeps the pivot). The search starts with lower = −1 (signed) or
 * 0 (unsigned) and upper = 1, which are not map entries. NaN gives index 0.
 */
export function quantize2dRef(map: Float32Array, signed: boolean, x: number): number {
  let pivot = 127;
  let upperPivot = 255;
  let lowerPivot = 0;
  let lower = signed ? -1 : 0;
  let upper = 1;
  let val = map[127]!;
  for (let i = 64; i > 0; i >>= 1) {
    if (x > val) {
      lowerPivot = pivot;
      lower = val;
      pivot += i;
    } else {
      upperPivot = pivot;
      upper = val;
      pivot -= i;
    }
    val = map[pivot]!;
  }
  if (x > val) return x > fround(fround(upper + val) * 0.5) ? upperPivot : pivot;
  return x < fround(fround(lower + val) * 0.5) ? lowerPivot : pivot;
}

/** One 8-bit blockwise AdamW step over n elements; codes and absmax updated in place. */
export function adamw8bitRef(
  param: Float32Array,
  grad: Float32Array,
  state1: Uint8Array,
  state2: Uint8Array,
  absmax1: Float32Array,
  absmax2: Float32Array,
  n: number,
  k: Adamw8bitStep,
): void {
  const m = new Float32Array(ADAMW8BIT_BLOCK);
  const v = new Float32Array(ADAMW8BIT_BLOCK);
  for (let b = 0; b * ADAMW8BIT_BLOCK < n; b++) {
    const i0 = b * ADAMW8BIT_BLOCK;
    const len = Math.min(ADAMW8BIT_BLOCK, n - i0);
    let max1 = -3.4028234663852886e38;
    let max2 = -3.4028234663852886e38;
    for (let j = 0; j < ADAMW8BIT_BLOCK; j++) {
      const inside = j < len;
      const g = inside ? grad[i0 + j]! : 0;
      let s1 = 0;
      let s2 = 0;
      if (Number.isFinite(g)) {
        s2 = fround(k.qmap2[inside ? state2[i0 + j]! : 0]! * absmax2[b]!);
        s2 = fround(fround(s2 * k.beta2) + fround(fround(k.oneMinusBeta2 * g) * g));
        s1 = fround(k.qmap1[inside ? state1[i0 + j]! : 128]! * absmax1[b]!);
        s1 = fround(fround(s1 * k.beta1) + fround(k.oneMinusBeta1 * g));
      }
      if (Math.abs(s1) > max1) max1 = Math.abs(s1);
      if (Math.abs(s2) > max2) max2 = Math.abs(s2);
      m[j] = s1;
      v[j] = s2;
    }
    for (let j = 0; j < len; j++) {
      const i = i0 + j;
      if (Number.isFinite(grad[i]!)) {
        let p = fround(param[i]! + fround(k.stepSize * fround(m[j]! / fround(fround(Math.sqrt(v[j]!)) + k.epsScaled))));
        if (k.decay !== null) p = fround(p * k.decay);
        param[i] = p;
      }
      const s1 = m[j]!;
      let c1 = quantize2dRef(k.qmap1, true, fround(s1 / max1));
      if (signbit(k.qmap1[c1]!) !== signbit(s1)) c1 = (s1 > 0 ? c1 + 1 : c1 - 1) & 255;
      state1[i] = c1;
      state2[i] = quantize2dRef(k.qmap2, false, fround(v[j]! / max2));
    }
    absmax1[b] = max1;
    absmax2[b] = max2;
  }
}
