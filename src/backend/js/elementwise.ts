// Reference elementwise kernels and reductions (float64 where a sum is formed).

export function add(a: Float32Array, b: Float32Array, out: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i]! + b[i]!;
}

export function axpy(dst: Float32Array, src: Float32Array, alpha: number, n: number): void {
  for (let i = 0; i < n; i++) dst[i] = dst[i]! + alpha * src[i]!;
}

export function mul(a: Float32Array, b: Float32Array, out: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i]! * b[i]!;
}

export function scale(a: Float32Array, s: number, out: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i]! * s;
}

export function addRowVector(x: Float32Array, v: Float32Array, out: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = x[r * cols + c]! + v[c]!;
}

export function mulRowVector(x: Float32Array, v: Float32Array, out: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = x[r * cols + c]! * v[c]!;
}

export function sumRows(x: Float32Array, out: Float32Array, rows: number, cols: number, accumulate: boolean): void {
  for (let c = 0; c < cols; c++) {
    let acc = 0;
    for (let r = 0; r < rows; r++) acc += x[r * cols + c]!;
    out[c] = accumulate ? out[c]! + acc : acc;
  }
}

export function sumSquares(x: Float32Array, n: number): number {
  let acc = 0;
  for (let i = 0; i < n; i++) acc += x[i]! * x[i]!;
  return acc;
}

export function bf16ToF32(src: Uint16Array, dst: Float32Array, n: number): void {
  const out = new Uint32Array(dst.buffer, dst.byteOffset, n);
  for (let i = 0; i < n; i++) out[i] = src[i]! << 16;
}

