// Reference row softmax (max subtracted) and its backward dx = y · (dy − Σ dy·y).

export function softmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, x[o + c]!);
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += Math.exp(x[o + c]! - max);
    for (let c = 0; c < cols; c++) out[o + c] = Math.exp(x[o + c]! - max) / sum;
  }
}

export function softmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let dot = 0;
    for (let c = 0; c < cols; c++) dot += dy[o + c]! * y[o + c]!;
    for (let c = 0; c < cols; c++) dx[o + c] = y[o + c]! * (dy[o + c]! - dot);
  }
}
