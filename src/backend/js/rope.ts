// Reference rotary embedding in Hugging Face's rotate-half layout, over the first `rotary` dims of each head.

export function rope(
  x: Float32Array,
  out: Float32Array,
  cos: Float32Array,
  sin: Float32Array,
  positions: Int32Array,
  rows: number,
  heads: number,
  hd: number,
  inverse: boolean,
  rotary = hd,
): void {
  const half = rotary / 2;
  const sign = inverse ? -1 : 1;
  for (let r = 0; r < rows; r++) {
    const t = positions[r]! * half;
    for (let h = 0; h < heads; h++) {
      const o = (r * heads + h) * hd;
      for (let i = rotary; i < hd; i++) out[o + i] = x[o + i]!;
      for (let i = 0; i < half; i++) {
        const c = cos[t + i]!;
        const s = sign * sin[t + i]!;
        const x1 = x[o + i]!;
        const x2 = x[o + i + half]!;
        out[o + i] = x1 * c - x2 * s;
        out[o + i + half] = x2 * c + x1 * s;
      }
    }
  }
}
