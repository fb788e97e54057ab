// Reference scaled dot-product attention (grouped-query, causal with a cache offset, sliding window, key
// padding mask, soft-capped scores), computed row by row in float64. Backward recomputes the probabilities
// from the saved log-sum-exp.

import type { AttentionDims } from "../kernels.ts";

interface Row {
  /** keys this query may attend to */
  keys: number[];
  qo: number;
  kvHead: number;
}

function* queryRows(d: AttentionDims): Generator<Row & { b: number; h: number; t: number }> {
  const group = d.nh / d.nkv;
  for (let b = 0; b < d.B; b++) {
    for (let h = 0; h < d.nh; h++) {
      for (let t = 0; t < d.T; t++) {
        const last = d.causal ? d.S - d.T + t : d.S - 1;
        const first = d.window ? Math.max(0, d.S - d.T + t - d.window + 1) : 0;
        const keys: number[] = [];
        for (let s = first; s <= last; s++) if (!d.keyMask || d.keyMask[b * d.S + s]) keys.push(s);
        yield { b, h, t, keys, qo: ((b * d.T + t) * d.nh + h) * d.hd, kvHead: Math.floor(h / group) };
      }
    }
  }
}

const kvOffset = (d: AttentionDims, b: number, s: number, head: number): number =>
  b * d.kvBatchStride + s * d.kvRowStride + head * d.hd;

/** Raw scores scale·q·k of a row's keys (before any soft cap). */
function rawScores(q: Float32Array, k: Float32Array, d: AttentionDims, row: Row & { b: number }): number[] {
  return row.keys.map((s) => {
    const ko = kvOffset(d, row.b, s, row.kvHead);
    let dot = 0;
    for (let i = 0; i < d.hd; i++) dot += q[row.qo + i]! * k[ko + i]!;
    return dot * d.scale;
  });
}

const capped = (raw: number, c: number | null | undefined): number => (c ? c * Math.tanh(raw / c) : raw);

function scores(q: Float32Array, k: Float32Array, d: AttentionDims, row: Row & { b: number }): number[] {
  return rawScores(q, k, d, row).map((x) => capped(x, d.softcap));
}

export function attention(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  out: Float32Array,
  lse: Float32Array,
  d: AttentionDims,
): void {
  for (const row of queryRows(d)) {
    const sc = scores(q, k, d, row);
    const max = Math.max(...sc);
    const li = (row.b * d.nh + row.h) * d.T + row.t;
    const acc = new Float64Array(d.hd);
    if (sc.length === 0) {
      lse[li] = -Infinity;
    } else {
      let sum = 0;
      for (const s of sc) sum += Math.exp(s - max);
      lse[li] = max + Math.log(sum);
      row.keys.forEach((s, j) => {
        const p = Math.exp(sc[j]! - max) / sum;
        const vo = kvOffset(d, row.b, s, row.kvHead);
        for (let i = 0; i < d.hd; i++) acc[i]! += p * v[vo + i]!;
      });
    }
    for (let i = 0; i < d.hd; i++) out[row.qo + i] = acc[i]!;
  }
}

/**
 * dV += Pᵀ·dO; dP = dO·Vᵀ; dS = P ⊙ (dP − rowsum(dO ⊙ O)), times 1 − tanh²(raw / c) under a soft cap;
 * dQ = scale·dS·K; dK += scale·dSᵀ·Q.
 */
export function attentionBackward(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  out: Float32Array,
  lse: Float32Array,
  dOut: Float32Array,
  dq: Float32Array,
  dk: Float32Array,
  dv: Float32Array,
  d: AttentionDims,
): void {
  const dkAcc = new Float64Array(d.B * d.S * d.nkv * d.hd);
  const dvAcc = new Float64Array(dkAcc.length);
  const dense = (b: number, s: number, head: number) => ((b * d.S + s) * d.nkv + head) * d.hd;
  for (const row of queryRows(d)) {
    const raw = rawScores(q, k, d, row);
    const sc = raw.map((x) => capped(x, d.softcap));
    const l = lse[(row.b * d.nh + row.h) * d.T + row.t]!;
    let D = 0;
    for (let i = 0; i < d.hd; i++) D += dOut[row.qo + i]! * out[row.qo + i]!;
    const dqAcc = new Float64Array(d.hd);
    row.keys.forEach((s, j) => {
      const p = Math.exp(sc[j]! - l);
      const vo = kvOffset(d, row.b, s, row.kvHead);
      const ko = vo;
      const g = dense(row.b, s, row.kvHead);
      let dp = 0;
      for (let i = 0; i < d.hd; i++) {
        dvAcc[g + i]! += p * dOut[row.qo + i]!;
        dp += dOut[row.qo + i]! * v[vo + i]!;
      }
      const dcap = d.softcap ? 1 - Math.tanh(raw[j]! / d.softcap) ** 2 : 1;
      const ds = p * (dp - D) * d.scale * dcap;
      for (let i = 0; i < d.hd; i++) {
        dqAcc[i]! += ds * k[ko + i]!;
        dkAcc[g + i]! += ds * q[row.qo + i]!;
      }
    });
    for (let i = 0; i < d.hd; i++) dq[row.qo + i] = dqAcc[i]!;
  }
  for (let i = 0; i < dkAcc.length; i++) {
    dk[i] = dkAcc[i]!;
    dv[i] = dvAcc[i]!;
  }
}
