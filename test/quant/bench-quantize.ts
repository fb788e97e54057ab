// Quantization speed (not a test): `node --import tsx test/quant/bench-quantize.ts [reps]`.
// Quantizes the linear weights of one Qwen2.5-0.5B decoder layer (q/k/v/o, gate/up/down: 4.4M parameters;
// the model has 24 such layers, ~360M quantized parameters with the embeddings) and prints parameters/second
// per type and input dtype, best of `reps`.

import { quantizeTensor, type QuantizeOptions } from "../../src/quant/index.ts";
import { f32ArrayToBf16 } from "../../src/tensor/dtype.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { Rng } from "../../src/util/random.ts";

const shapes: Array<[number, number]> = [[896, 896], [128, 896], [128, 896], [896, 896], [4864, 896], [4864, 896], [896, 4864]];
const reps = Number(process.argv[2] ?? 3);
const rng = new Rng(1);
const f32 = shapes.map(([r, c]) => Tensor.from("float32", Float32Array.from({ length: r * c }, () => rng.normal() * 0.02), [r, c]));
const bf16 = f32.map((t) => Tensor.from("bfloat16", f32ArrayToBf16(t.data as Float32Array), t.shape));
const params = shapes.reduce((s, [r, c]) => s + r * c, 0);

function bench(label: string, weights: Tensor[], opts: QuantizeOptions): void {
  let best = Infinity;
  for (let k = 0; k <= reps; k++) {
    const t0 = performance.now();
    for (const w of weights) quantizeTensor(w, opts);
    const dt = (performance.now() - t0) / 1000;
    if (k > 0) best = Math.min(best, dt); // the first pass warms the JIT
  }
  console.log(`${label.padEnd(28)} ${(params / best / 1e6).toFixed(1).padStart(7)} M params/s  (${(best * 1000).toFixed(0)} ms per layer)`);
}

bench("nf4 + double quant, f32", f32, { type: "nf4" });
bench("nf4 + double quant, bf16", bf16, { type: "nf4" });
bench("nf4, f32", f32, { type: "nf4", doubleQuant: false });
bench("fp4 + double quant, bf16", bf16, { type: "fp4" });
bench("int8, bf16", bf16, { type: "int8" });
