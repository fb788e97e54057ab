// Reference RMSNorm and LayerNorm over the last dimension, forward and backward (float64 sums).

export function rmsNorm(
  x: Float32Array,
  w: Float32Array | null,
  out: Float32Array,
  rstd: Float32Array,
  rows: number,
  cols: number,
  eps: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let ss = 0;
    for (let c = 0; c < cols; c++) ss += x[o + c]! * x[o + c]!;
    const rs = 1 / Math.sqrt(ss / cols + eps);
    rstd[r] = rs;
    for (let c = 0; c < cols; c++) out[o + c] = x[o + c]! * rs * (w ? w[c]! : 1);
  }
}

/** With x̂ = x·r and g = dy·w: dx = r · (g − x̂ · mean(g·x̂)); dw += Σ_rows dy·x̂. */
export function rmsNormBackward(
  x: Float32Array,
  w: Float32Array | null,
  rstd: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  dw: Float32Array | null,
  rows: number,
  cols: number,
): void {
  const dwAcc = dw ? new Float64Array(cols) : null;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const rs = rstd[r]!;
    let dot = 0;
    for (let c = 0; c < cols; c++) {
      const xh = x[o + c]! * rs;
      dot += dy[o + c]! * (w ? w[c]! : 1) * xh;
      if (dwAcc) dwAcc[c]! += dy[o + c]! * xh;
    }
    const m = dot / cols;
    for (let c = 0; c < cols; c++) {
      const xh = x[o + c]! * rs;
      dx[o + c] = rs * (dy[o + c]! * (w ? w[c]! : 1) - xh * m);
    }
  }
  if (dw && dwAcc) for (let c = 0; c < cols; c++) dw[c] = dw[c]! + dwAcc[c]!;
}

export function layerNorm(
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  out: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
  rows: number,
  cols: number,
  eps: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let s = 0;
    for (let c = 0; c < cols; c++) s += x[o + c]!;
    const mu = s / cols;
    let v = 0;
    for (let c = 0; c < cols; c++) v += (x[o + c]! - mu) ** 2;
    const rs = 1 / Math.sqrt(v / cols + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let c = 0; c < cols; c++) out[o + c] = (x[o + c]! - mu) * rs * w[c]! + b[c]!;
  }
}

/** With x̂ = (x − μ)·r and g = dy·w: dx = r · (g − mean(g) − x̂ · mean(g·x̂)); dw += Σ dy·x̂; db += Σ dy. */
export function layerNormBackward(
  x: Float32Array,
  w: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  dw: Float32Array | null,
  db: Float32Array | null,
  rows: number,
  cols: number,
): void {
  const dwAcc = new Float64Array(cols);
  const dbAcc = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const mu = mean[r]!;
    const rs = rstd[r]!;
    let gSum = 0;
    let gxSum = 0;
    for (let c = 0; c < cols; c++) {
      const xh = (x[o + c]! - mu) * rs;
      const g = dy[o + c]! * w[c]!;
      gSum += g;
      gxSum += g * xh;
      dwAcc[c]! += dy[o + c]! * xh;
      dbAcc[c]! += dy[o + c]!;
    }
    const gMean = gSum / cols;
    const gxMean = gxSum / cols;
    for (let c = 0; c < cols; c++) {
      const xh = (x[o + c]! - mu) * rs;
      dx[o + c] = rs * (dy[o + c]! * w[c]! - gMean - xh * gxMean);
    }
  }
  if (dw) for (let c = 0; c < cols; c++) dw[c] = dw[c]! + dwAcc[c]!;
  if (db) for (let c = 0; c < cols; c++) db[c] = db[c]! + dbAcc[c]!;
}
