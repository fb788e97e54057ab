// torch.Tensor.mean() of a contiguous 1-D float32 tensor on CPU, bit for bit.
//
// Double quantization subtracts mean(absmax) before quantizing it to 8 bits, so the offset bitsandbytes stores
// is whatever torch's float32 mean returns; a float64 mean rounded once lands 1 ulp away often enough (it
// does on the reference fixture) to shift 8-bit codes. torch computes mean as sum(x) / n, both in float32,
// and sum with ATen's cascade sum (aten/src/ATen/native/cpu/SumKernel.cpp):
// - lanes: the inner loop runs on Vectorized<float> of 8 lanes (AVX2 / NEON builds; an AVX-512 build has 16
//   and can differ in the last bit); fewer than 8 elements take the scalar path (1 lane);
// - row_sum: the vectors form 4 interleaved rows (ILP), each summed by multi_row_sum's 4-level cascade with
//   chunks of 2^max(4, ceil(log2 n)/4); leftover vectors go into row 0, then rows 1..3 are added to row 0;
// - the tail elements past the last whole vector are summed first, then the 8 lanes are added in order.
// Past GRAIN_SIZE = 32768 elements torch splits the sum across threads (two-pass reduction): min(T,
// ceil(n / 32768)) chunks of ceil(n / chunks) elements, each cascade-summed, then the T partial sums (zeros
// for idle threads) cascade-summed again. The result then depends on torch's thread count T; it is the same
// for every T >= the number of chunks (<= 8 chunks), so the default T = 8 matches torch on any machine with
// at least 8 threads for up to 262144 values (a 16.7M-parameter matrix at block size 64).

const fround = Math.fround;
const Lanes = 8;
const Ilp = 4;
const Levels = 4;
const GrainSize = 32768;

function ceilLog2(x: number): number {
  return x <= 2 ? 1 : Math.ceil(Math.log2(x));
}

/** multi_row_sum over `rows` rows of `lanes` lanes: element (i, r, lane) = x[off + (i * rows + r) * lanes + lane]. */
function multiRowSum(x: Float32Array, off: number, size: number, rows: number, lanes: number): Float32Array[] {
  const levelPower = Math.max(4, Math.floor(ceilLog2(size) / Levels));
  const levelStep = 2 ** levelPower;
  const levelMask = levelStep - 1;
  const acc = Array.from({ length: Levels }, () => Array.from({ length: rows }, () => new Float32Array(lanes)));
  const addRow = (dst: Float32Array, i: number, r: number): void => {
    const base = off + (i * rows + r) * lanes;
    for (let l = 0; l < lanes; l++) dst[l] = fround(dst[l]! + x[base + l]!);
  };
  let i = 0;
  while (i + levelStep <= size) {
    for (let j = 0; j < levelStep; j++, i++) for (let r = 0; r < rows; r++) addRow(acc[0]![r]!, i, r);
    for (let j = 1; j < Levels; j++) {
      for (let r = 0; r < rows; r++) {
        const up = acc[j]![r]!;
        const down = acc[j - 1]![r]!;
        for (let l = 0; l < lanes; l++) up[l] = fround(up[l]! + down[l]!);
        down.fill(0);
      }
      if ((i & (levelMask * 2 ** (j * levelPower))) !== 0) break;
    }
  }
  for (; i < size; i++) for (let r = 0; r < rows; r++) addRow(acc[0]![r]!, i, r);
  for (let j = 1; j < Levels; j++) {
    for (let r = 0; r < rows; r++) {
      const dst = acc[0]![r]!;
      for (let l = 0; l < lanes; l++) dst[l] = fround(dst[l]! + acc[j]![r]![l]!);
    }
  }
  return acc[0]!;
}

/** row_sum over `size` groups of `lanes` consecutive values starting at off. */
function rowSum(x: Float32Array, off: number, size: number, lanes: number): Float32Array {
  const sizeIlp = Math.floor(size / Ilp);
  const partial = multiRowSum(x, off, sizeIlp, Ilp, lanes);
  const p0 = partial[0]!;
  for (let i = sizeIlp * Ilp; i < size; i++) {
    for (let l = 0; l < lanes; l++) p0[l] = fround(p0[l]! + x[off + i * lanes + l]!);
  }
  for (let k = 1; k < Ilp; k++) for (let l = 0; l < lanes; l++) p0[l] = fround(p0[l]! + partial[k]![l]!);
  return p0;
}

/** One serial cascade sum of x[off, off + n) (what each thread computes). */
function cascadeSum(x: Float32Array, off: number, n: number): number {
  if (n < Lanes) return rowSum(x, off, n, 1)[0]!;
  const vecCount = Math.floor(n / Lanes);
  const vec = rowSum(x, off, vecCount, Lanes);
  let acc = 0;
  for (let k = vecCount * Lanes; k < n; k++) acc = fround(acc + x[off + k]!);
  for (let l = 0; l < Lanes; l++) acc = fround(acc + vec[l]!);
  return acc;
}

/** torch.sum of a contiguous float32 vector on CPU with `threads` intra-op threads. */
export function torchSumF32(x: Float32Array, threads = 8): number {
  const n = x.length;
  if (n < GrainSize || threads <= 1) return fround(0 + cascadeSum(x, 0, n));
  const tasks = Math.min(threads, Math.ceil(n / GrainSize));
  const chunk = Math.ceil(n / tasks);
  const buffer = new Float32Array(threads);
  for (let t = 0; t < tasks; t++) {
    const begin = t * chunk;
    if (begin < n) buffer[t] = cascadeSum(x, begin, Math.min(n, begin + chunk) - begin);
  }
  return fround(0 + cascadeSum(buffer, 0, threads));
}

/** torch.mean of a contiguous float32 vector on CPU: sum / n in float32. */
export function torchMeanF32(x: Float32Array, threads = 8): number {
  if (x.length === 0) return NaN;
  return fround(torchSumF32(x, threads) / x.length);
}
