// bitsandbytes' dynamic 8-bit maps (`create_dynamic_map`), the code tables of its 8-bit optimizer states:
// signed for the first moment (bitsandbytes' "dynamic": 127 positive and 127 negative values, 0 and 1),
// unsigned for the second (its "udynamic": 254 positive values, 0 and 1).
//
// Each of the 7 exponent groups i holds the midpoints of torch.linspace(0.1, 1, n) scaled by 10^(i−6)
// (n = 2^i + 1 signed, 2^(i+1) + 1 unsigned). torch computes that in float32: its linspace kernel forms
// start + step·k for the first half and end − step·(n−1−k) for the second, each a fused multiply-add in
// its vectorised CPU build, the midpoints as float32 (a + b) / 2, and the scaling as a float32 product
// with the power of ten rounded to float32. Reproducing those roundings gives the signed map bit for bit
// as bitsandbytes stores it (the quantization fixture's nested map); a float64 evaluation does not.

const fround = Math.fround;

/** fma(a, b, c) rounded once to float32 (a·b is exact in float64 for float32 inputs). */
function fmaF32(a: number, b: number, c: number): number {
  return fround(a * b + c);
}

/** torch.linspace(start, end, n) in float32, as its CPU kernel computes it. */
function linspaceF32(start: number, end: number, n: number): Float32Array {
  const s = fround(start);
  const e = fround(end);
  const step = fround(fround(e - s) / (n - 1));
  const half = Math.floor(n / 2);
  return Float32Array.from({ length: n }, (_, k) => (k < half ? fmaF32(step, k, s) : fmaF32(-step, n - 1 - k, e)));
}

/** The 256 values of create_dynamic_map(signed), sorted ascending. */
export function createDynamicMap(signed: boolean): Float32Array {
  const data: number[] = [];
  for (let i = 0; i < 7; i++) {
    const b = linspaceF32(0.1, 1, signed ? 2 ** i + 1 : 2 ** (i + 1) + 1);
    const scale = fround(10 ** (i - 6));
    for (let k = 0; k + 1 < b.length; k++) {
      const mean = fround(fround(b[k]! + b[k + 1]!) / 2);
      data.push(fround(scale * mean));
      if (signed) data.push(fround(-scale * mean));
    }
  }
  data.push(0, 1);
  return Float32Array.from(data).sort();
}

/** First-moment map (signed). */
export const DYNAMIC_SIGNED: Float32Array = createDynamicMap(true);
/** Second-moment map (unsigned). */
export const DYNAMIC_UNSIGNED: Float32Array = createDynamicMap(false);
