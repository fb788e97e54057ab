// Reference cross-entropy over rows of logits, with an ignore index.

export function crossEntropy(
  logits: Float32Array,
  labels: Int32Array,
  loss: Float32Array,
  lse: Float32Array,
  rows: number,
  V: number,
  ignoreIndex: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * V;
    let max = -Infinity;
    for (let c = 0; c < V; c++) max = Math.max(max, logits[o + c]!);
    let sum = 0;
    for (let c = 0; c < V; c++) sum += Math.exp(logits[o + c]! - max);
    const l = max + Math.log(sum);
    lse[r] = l;
    const y = labels[r]!;
    loss[r] = y === ignoreIndex ? 0 : l - logits[o + y]!;
  }
}

export function crossEntropyBackward(
  logits: Float32Array,
  labels: Int32Array,
  lse: Float32Array,
  dLogits: Float32Array,
  rows: number,
  V: number,
  ignoreIndex: number,
  scale: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * V;
    const y = labels[r]!;
    if (y === ignoreIndex) {
      dLogits.fill(0, o, o + V);
      continue;
    }
    const l = lse[r]!;
    for (let c = 0; c < V; c++) dLogits[o + c] = scale * (Math.exp(logits[o + c]! - l) - (c === y ? 1 : 0));
  }
}
