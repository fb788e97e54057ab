// A random bfloat16 checkpoint folder of any model shape, written shard by shard without holding the
// model: the tensor list comes from the model files themselves (a WeightSource that records each request
// and hands back placeholders), and each tensor's bytes are produced while its shard is written, a run of
// values at a time from a table of random bf16 samples. Norm weights are 1, biases 0, as at initialisation.
// For `bench load` and bench/scale-table.sh: an 8B folder (16 GB) costs a few hundred MiB to write.

import { join } from "node:path";
import { buildModel, parseConfig, type ModelConfig, type WeightSource } from "../models/index.ts";
import { Linear } from "../nn/index.ts";
import { Tensor } from "../tensor/tensor.ts";
import { f32ToBf16 } from "../tensor/dtype.ts";
import { writeCheckpointStreamed, writeFileAtomic, type StreamedTensor } from "../io/index.ts";
import type { WeightLayout } from "../ops/index.ts";
import { Rng } from "../util/random.ts";

interface Wanted {
  name: string;
  shape: number[];
  fill: "random" | "ones" | "zeros";
}

/** Records the tensors a model asks for; every module it builds holds the same 1-element placeholder. */
class TensorList implements WeightSource {
  readonly wanted: Wanted[] = [];
  private readonly placeholder = Tensor.zeros([1]);

  linear(prefix: string, outF: number, inF: number, bias: boolean, layout: WeightLayout = "out_in"): Linear {
    this.wanted.push({ name: `${prefix}.weight`, shape: layout === "out_in" ? [outF, inF] : [inF, outF], fill: "random" });
    if (bias) this.wanted.push({ name: `${prefix}.bias`, shape: [outF], fill: "zeros" });
    return new Linear(this.placeholder);
  }

  head(prefix: string, vocab: number, dim: number): Linear {
    this.wanted.push({ name: `${prefix}.weight`, shape: [vocab, dim], fill: "random" });
    return new Linear(this.placeholder);
  }

  norm(name: string, size: number): Tensor {
    this.wanted.push({ name, shape: [size], fill: name.endsWith(".bias") ? "zeros" : "ones" });
    return this.placeholder;
  }

  embedding(name: string, rows: number, dim: number): Tensor {
    this.wanted.push({ name, shape: [rows, dim], fill: "random" });
    return this.placeholder;
  }
}

/** The checkpoint tensors (names and shapes) of a model of this config, in the order the model reads them. */
export function checkpointTensors(config: ModelConfig): Wanted[] {
  const list = new TensorList();
  buildModel(config, list);
  return list.wanted;
}

const TILE = 1 << 20;
const RUN = 1 << 16;

export interface RandomCheckpointOptions {
  seed?: number;
  maxShardBytes?: number;
  std?: number;
}

/** Writes config.json (`raw`, stored as bf16) and random bf16 safetensors, sharded past maxShardBytes, into dir. */
export function writeRandomCheckpoint(dir: string, raw: Record<string, unknown>, o: RandomCheckpointOptions = {}): void {
  const config = parseConfig(structuredClone(raw), `${dir}/config.json`);
  const rng = new Rng(o.seed ?? 7);
  const tile = Uint16Array.from({ length: TILE }, () => f32ToBf16(rng.normal() * (o.std ?? 0.02)));
  const constant = (bits: number) => new Uint16Array(RUN).fill(bits);
  const ones = constant(f32ToBf16(1));
  const zeros = constant(0);
  const tensors = checkpointTensors(config).map((w): StreamedTensor => {
    const n = w.shape.reduce((a, b) => a * b, 1);
    return {
      name: w.name,
      dtype: "bfloat16",
      shape: w.shape,
      byteLength: 2 * n,
      write: (out) => {
        for (let start = 0; start < n; start += RUN) {
          const len = Math.min(RUN, n - start);
          const from = w.fill === "random" ? rng.int(TILE - len) : 0;
          const src = w.fill === "random" ? tile : w.fill === "ones" ? ones : zeros;
          out(new Uint8Array(src.buffer, 2 * from, 2 * len));
        }
      },
    };
  });
  writeCheckpointStreamed(dir, tensors, { maxShardBytes: o.maxShardBytes });
  writeFileAtomic(join(dir, "config.json"), `${JSON.stringify({ ...raw, torch_dtype: "bfloat16" }, null, 2)}\n`);
}
