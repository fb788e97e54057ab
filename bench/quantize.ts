// Quantization speed (not a test): `node --import tsx bench/quantize.ts [reps]`.
// Quantizes the linear weights of one Qwen2.5-0.5B decoder layer (q/k/v/o, gate/up/down: 4.4M parameters;
// the model has 24 such layers, ~360M quantized parameters with the embeddings) and prints parameters/second
// per type and input dtype, best of `reps`, by wall time and by the process's CPU time (the better measure
// on a loaded machine, where wall time counts the waits for a core).

import { quantizeTensor, type QuantizeOptions } from "../src/quant/index.ts";
import { f32ArrayToBf16 } from "../src/tensor/dtype.ts";
import { Tensor } from "../src/tensor/tensor.ts";
import { Rng } from "../src/util/random.ts";

const shapes: Array<[number, number]> = [[896, 896], [128, 896], [128, 896], [896, 896], [4864, 896], [4864, 896], [896, 4864]];
const reps = Number(process.argv[2] ?? 3);
const rng = new Rng(1);
const f32 = shapes.map(([r, c]) => Tensor.from("float32", Float32Array.from({ length: r * c }, () => rng.normal() * 0.02), [r, c]));
const bf16 = f32.map((t) => Tensor.from("bfloat16", f32ArrayToBf16(t.data as Float32Array), t.shape));
const params = shapes.reduce((s, [r, c]) => s + r * c, 0);

function bench(label: string, weights: Tensor[], opts: QuantizeOptions): void {
  let wall = Infinity;
  let cpu = Infinity;
  for (let k = 0; k <= reps; k++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (const w of weights) quantizeTensor(w, opts);
    const c = process.cpuUsage(c0);
    const dt = (performance.now() - t0) / 1000;
    if (k === 0) continue; // the first pass warms the JIT
    wall = Math.min(wall, dt);
    cpu = Math.min(cpu, (c.user + c.system) / 1e6);
  }
  const rate = (s: number) => `${(params / s / 1e6).toFixed(1).padStart(6)} M params/s`;
  console.log(`${label.padEnd(26)} wall ${rate(wall)} (${(wall * 1000).toFixed(0)} ms/layer)   cpu ${rate(cpu)}`);
}

bench("nf4 + double quant, f32", f32, { type: "nf4" });
bench("nf4 + double quant, bf16", bf16, { type: "nf4" });
bench("nf4, f32", f32, { type: "nf4", doubleQuant: false });
bench("fp4 + double quant, bf16", bf16, { type: "fp4" });
bench("int8, bf16", bf16, { type: "int8" });
