// The code tables of bitsandbytes' 4-bit and 8-bit blockwise types, as float32, in bitsandbytes' index order,
// and the decision thresholds that turn "nearest code value" into a few comparisons.
//
// - NF4: `get_4bit_type("nf4")`, 16 normal-float levels in [-1, 1], index 7 = 0.
// - FP4: `get_4bit_type("fp4")`: the E2M1 values {0, 0.0625, 8, 12, 4, 6, 2, 3} and their negatives, each
//   divided by 12 in float32; index = sign bit (8) | 3-bit magnitude code. Not sorted, two zeros (0 and 8).
// - DYNAMIC_MAP: `create_dynamic_map(signed=True)`, the 256-entry map of double quantization (sorted, strictly
//   increasing). Embedded as a literal taken from the reference fixture: computing it by formula in float64
//   and rounding can land 1 ulp off the values bitsandbytes stores.

const fround = Math.fround;

export const NF4_CODE: Float32Array = Float32Array.of(
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
  -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
  0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
);

export const FP4_CODE: Float32Array = Float32Array.from(
  [0, 0.0625, 8, 12, 4, 6, 2, 3, -0, -0.0625, -8, -12, -4, -6, -2, -3],
  (v) => fround(v / 12),
);

export const DYNAMIC_MAP: Float32Array = Float32Array.of(
  -0.992968738079071, -0.9789062738418579, -0.96484375, -0.9507812261581421, -0.936718761920929, -0.922656238079071, -0.9085937738418579, -0.89453125,
  -0.8804687261581421, -0.866406261920929, -0.852343738079071, -0.8382812738418579, -0.82421875, -0.8101562261581421, -0.796093761920929, -0.782031238079071,
  -0.7679687738418579, -0.75390625, -0.7398437261581421, -0.725781261920929, -0.7117187976837158, -0.6976562738418579, -0.68359375, -0.6695312261581421,
  -0.655468761920929, -0.6414062976837158, -0.6273437738418579, -0.61328125, -0.5992187261581421, -0.585156261920929, -0.5710937976837158, -0.5570312738418579,
  -0.54296875, -0.5289062261581421, -0.5148437023162842, -0.500781238079071, -0.48671871423721313, -0.47265625, -0.4585937261581421, -0.44453126192092896,
  -0.43046873807907104, -0.4164062440395355, -0.40234375, -0.3882812261581421, -0.37421876192092896, -0.36015623807907104, -0.3460937440395355, -0.33203125,
  -0.3179687261581421, -0.30390626192092896, -0.28984373807907104, -0.2757812738418579, -0.26171875, -0.24765624105930328, -0.23359374701976776, -0.21953125298023224,
  -0.20546874403953552, -0.19140625, -0.17734375596046448, -0.16328124701976776, -0.14921875298023224, -0.13515624403953552, -0.12109375, -0.10703125596046448,
  -0.09859374910593033, -0.09578125923871994, -0.09296875447034836, -0.09015624970197678, -0.08734375238418579, -0.08453124761581421, -0.08171875774860382, -0.07890625298023224,
  -0.07609374821186066, -0.07328125089406967, -0.07046874612569809, -0.0676562562584877, -0.06484375149011612, -0.062031250447034836, -0.05921875312924385, -0.05640624836087227,
  -0.053593751043081284, -0.05078125, -0.047968748956918716, -0.04515625163912773, -0.04234374687075615, -0.039531249552965164, -0.03671875223517418, -0.033906251192092896,
  -0.031093750149011612, -0.028281250968575478, -0.025468749925494194, -0.02265625074505806, -0.019843751564621925, -0.017031250521540642, -0.014218750409781933, -0.011406250298023224,
  -0.009718749672174454, -0.009156249463558197, -0.008593750186264515, -0.008031249977648258, -0.0074687497690320015, -0.006906250026077032, -0.006343749817460775, -0.005781250074505806,
  -0.0052187503315508366, -0.0046562496572732925, -0.004093749914318323, -0.0035312497057020664, -0.002968749962747097, -0.002406249986961484, -0.001843750011175871, -0.001281249918974936,
  -0.0009437500848434865, -0.0008312499849125743, -0.0007187500596046448, -0.0006062500760890543, -0.000493750034365803, -0.0003812500217463821, -0.0002687500382307917, -0.00015625001105945557,
  -8.874999912222847e-05, -6.625000241911039e-05, -4.374999844003469e-05, -2.1249998098937795e-05, -7.749999895168003e-06, -3.250000190746505e-06, -5.500000384017767e-07, 0.0,
  5.500000384017767e-07, 3.250000190746505e-06, 7.749999895168003e-06, 2.1249998098937795e-05, 4.374999844003469e-05, 6.625000241911039e-05, 8.874999912222847e-05, 0.00015625001105945557,
  0.0002687500382307917, 0.0003812500217463821, 0.000493750034365803, 0.0006062500760890543, 0.0007187500596046448, 0.0008312499849125743, 0.0009437500848434865, 0.001281249918974936,
  0.001843750011175871, 0.002406249986961484, 0.002968749962747097, 0.0035312497057020664, 0.004093749914318323, 0.0046562496572732925, 0.0052187503315508366, 0.005781250074505806,
  0.006343749817460775, 0.006906250026077032, 0.0074687497690320015, 0.008031249977648258, 0.008593750186264515, 0.009156249463558197, 0.009718749672174454, 0.011406250298023224,
  0.014218750409781933, 0.017031250521540642, 0.019843751564621925, 0.02265625074505806, 0.025468749925494194, 0.028281250968575478, 0.031093750149011612, 0.033906251192092896,
  0.03671875223517418, 0.039531249552965164, 0.04234374687075615, 0.04515625163912773, 0.047968748956918716, 0.05078125, 0.053593751043081284, 0.05640624836087227,
  0.05921875312924385, 0.062031250447034836, 0.06484375149011612, 0.0676562562584877, 0.07046874612569809, 0.07328125089406967, 0.07609374821186066, 0.07890625298023224,
  0.08171875774860382, 0.08453124761581421, 0.08734375238418579, 0.09015624970197678, 0.09296875447034836, 0.09578125923871994, 0.09859374910593033, 0.10703125596046448,
  0.12109375, 0.13515624403953552, 0.14921875298023224, 0.16328124701976776, 0.17734375596046448, 0.19140625, 0.20546874403953552, 0.21953125298023224,
  0.23359374701976776, 0.24765624105930328, 0.26171875, 0.2757812738418579, 0.28984373807907104, 0.30390626192092896, 0.3179687261581421, 0.33203125,
  0.3460937440395355, 0.36015623807907104, 0.37421876192092896, 0.3882812261581421, 0.40234375, 0.4164062440395355, 0.43046873807907104, 0.44453126192092896,
  0.4585937261581421, 0.47265625, 0.48671871423721313, 0.500781238079071, 0.5148437023162842, 0.5289062261581421, 0.54296875, 0.5570312738418579,
  0.5710937976837158, 0.585156261920929, 0.5992187261581421, 0.61328125, 0.6273437738418579, 0.6414062976837158, 0.655468761920929, 0.6695312261581421,
  0.68359375, 0.6976562738418579, 0.7117187976837158, 0.725781261920929, 0.7398437261581421, 0.75390625, 0.7679687738418579, 0.782031238079071,
  0.796093761920929, 0.8101562261581421, 0.82421875, 0.8382812738418579, 0.852343738079071, 0.866406261920929, 0.8804687261581421, 0.89453125,
  0.9085937738418579, 0.922656238079071, 0.936718761920929, 0.9507812261581421, 0.96484375, 0.9789062738418579, 0.992968738079071, 1.0,
);

/** The code table of a 4-bit type. */
export function codebook4bit(type: "nf4" | "fp4"): Float32Array {
  return type === "nf4" ? NF4_CODE : FP4_CODE;
}

// ---- nearest-value thresholds ------------------------------------------------------------------------------
//
// bitsandbytes' CPU reference picks argmin_k |s - code[k]| with the distance rounded to float32 and the first
// index winning ties. For a sorted table only the two codes around s can win (rounding is monotone and the
// gaps are far wider than an ulp), and "the upper one is strictly closer" is monotone in s. So each gap has one
// float32 threshold T[k]: s >= T[k] picks code k+1 over code k. Thresholds are found once, by bisection over
// the float32 values between the two codes, so the comparisons reproduce the float32 argmin exactly.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Monotone integer key of a float32 (negative floats reversed), and back. */
function keyOf(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  return b & 0x80000000 ? -(b & 0x7fffffff) : b;
}

function valueOf(key: number): number {
  u32[0] = key < 0 ? (0x80000000 | -key) >>> 0 : key;
  return f32[0]!;
}

function upperWins(s: number, lo: number, hi: number): boolean {
  return Math.abs(fround(hi - s)) < Math.abs(fround(s - lo));
}

/** T[k] = the smallest float32 s in (code[k], code[k+1]] where code[k+1] is strictly nearer in float32. */
export function nearestThresholds(sorted: Float32Array): Float32Array {
  const T = new Float32Array(sorted.length - 1);
  for (let k = 0; k < T.length; k++) {
    const lo = sorted[k]!;
    const hi = sorted[k + 1]!;
    if (!(hi > lo)) throw new Error(`nearestThresholds: table not strictly increasing at ${k}: ${lo}, ${hi}`);
    let a = keyOf(lo); // upperWins false here
    let b = keyOf(hi); // upperWins true here
    while (b - a > 1) {
      const m = a + Math.floor((b - a) / 2);
      if (upperWins(valueOf(m), lo, hi)) b = m;
      else a = m;
    }
    T[k] = valueOf(b);
  }
  return T;
}

/** NF4's 15 thresholds (NF4_CODE is sorted). */
export const NF4_THRESHOLDS: Float32Array = nearestThresholds(NF4_CODE);
/** The dynamic map's 255 thresholds. */
export const DYNAMIC_THRESHOLDS: Float32Array = nearestThresholds(DYNAMIC_MAP);

/**
 * FP4 as bitsandbytes' GPU kernel (`dQuantizeFP4`) decides it: the sign bit from s < 0, then a decision tree
 * on |s| with these float32 pivots (strictly greater goes up). The pivots are the kernel's literals, nearly
 * but not exactly the midpoints of the normalised FP4 values (0.583333 sits just below 7/12).
 * Order: [0|1: 0.00260417, 1|6: 0.0859375, 6|7: 0.20833333, 7|4: 0.29166667, 4|5: 0.4166667, 5|2: 0.583333,
 * 2|3: 0.8333333].
 */
export const FP4_PIVOTS: Float32Array = Float32Array.of(
  0.00260417, 0.0859375, 0.20833333, 0.29166667, 0.4166667, 0.583333, 0.8333333,
);

// ---- code lookup tables ------------------------------------------------------------------------------------
//
// Both 4-bit decisions are step functions of the normalised value s: sorted float32 breakpoints B[k] ("s >= B[k]
// moves to segment k+1") and a code per segment. A table of Cells = 2·LutScale + 2 cells indexed by
// j = floor((s + 1) · LutScale) (clamped; the last cell takes NaN) replaces the search: a cell holds at most one
// breakpoint, so code = s >= edge[j] ? hi[j] : lo[j], which is exact for any monotone index function (a
// breakpoint in a lower cell is below every s of cell j, one in a higher cell above).

export const LutScale = 4096;
const LutCells = 2 * LutScale + 2;

export interface CodeLut {
  /** The breakpoint inside cell j, or +Infinity. */
  edge: Float64Array;
  /** Code below / at-or-above the breakpoint of cell j. */
  lo: Uint8Array;
  hi: Uint8Array;
}

/** The cell of s: monotone in s, NaN in the last cell. */
export function lutCell(s: number): number {
  const x = (s + 1) * LutScale;
  return x >= 0 ? (x < 2 * LutScale ? x | 0 : 2 * LutScale) : x < 0 ? 0 : 2 * LutScale + 1;
}

export function buildCodeLut(breaks: Float32Array, segCodes: ArrayLike<number>, nanCode: number): CodeLut {
  if (segCodes.length !== breaks.length + 1) throw new Error("buildCodeLut: need one code per segment");
  const edge = new Float64Array(LutCells).fill(Infinity);
  const lo = new Uint8Array(LutCells);
  const hi = new Uint8Array(LutCells);
  let k = 0;
  for (let j = 0; j < LutCells - 1; j++) {
    while (k < breaks.length && lutCell(breaks[k]!) < j) k++;
    lo[j] = hi[j] = segCodes[k]!;
    if (k < breaks.length && lutCell(breaks[k]!) === j) {
      if (k + 1 < breaks.length && lutCell(breaks[k + 1]!) === j) throw new Error("buildCodeLut: two breakpoints in one cell");
      edge[j] = breaks[k]!;
      hi[j] = segCodes[k + 1]!;
    }
  }
  lo[LutCells - 1] = hi[LutCells - 1] = nanCode;
  return { edge, lo, hi };
}

/** NF4: segment k is code k; NaN gives 0 (torch's argmin returns the first NaN). */
export const NF4_LUT: CodeLut = buildCodeLut(NF4_THRESHOLDS, Array.from({ length: 16 }, (_, k) => k), 0);

function nextUp(x: number): number {
  f32[0] = x;
  u32[0] = u32[0]! + 1;
  return f32[0]!;
}

/**
 * FP4 on the s axis: x = |s| > pivot with the sign bit from s < 0 becomes, from -1 upwards, the breakpoints
 * -p (s >= -p leaves |s| > p), 0 (s >= 0: sign bit off; -0 too), then nextUp(p) (s > p); NaN gives 0.
 */
export const FP4_LUT: CodeLut = (() => {
  const p = Array.from(FP4_PIVOTS); // [p01, p16, p67, p74, p45, p52, p23]
  const breaks = Float32Array.from([...p.map((v) => -v).reverse(), 0, ...p.map(nextUp)]);
  const mags = [0b000, 0b001, 0b110, 0b111, 0b100, 0b101, 0b010, 0b011]; // magnitude codes by segment
  const codes = [...mags.slice().reverse().map((m) => 8 | m), ...mags];
  return buildCodeLut(breaks, codes, 0);
})();
