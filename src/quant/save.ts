// Saving a quantized model as transformers saves a bitsandbytes one: each quantized linear layer as its
// bitsandbytes tensors (packed codes, absmax, quant_map, nested state, packed quant_state JSON; or int8 +
// SCB), everything else as held, and `quantization_config` in config.json. The folder is written into a
// temporary directory and renamed into place.

import { join } from "node:path";
import type { CausalLM } from "../models/causal-lm.ts";
import { Tensor } from "../tensor/tensor.ts";
import { createTempDirFor, commitDirAtomic, writeFileAtomic } from "../io/atomic.ts";
import { writeCheckpoint } from "../io/checkpoint.ts";
import { copyTokenizerFiles } from "../io/model-folder.ts";
import { bnbQuantizationConfig, BNB_CONFIG_FLOAT_KEYS, toBnbTensors, type BnbComputeDtype } from "./bnb.ts";
import { pyJsonDumps } from "./pyjson.ts";
import { QuantizedTensor, type QuantType } from "./types.ts";

export interface SaveQuantizedOptions {
  computeDtype?: BnbComputeDtype;
}

function* quantizedCheckpointTensors(model: CausalLM, computeDtype: BnbComputeDtype): Generator<[string, Tensor]> {
  for (const [name, p] of model.namedParameters()) {
    if (p instanceof QuantizedTensor) yield* toBnbTensors(name.replace(/\.weight$/, ""), p.q, computeDtype);
    else yield [name, p];
  }
}

function quantType(model: CausalLM): { type: QuantType; doubleQuant: boolean } {
  for (const [, p] of model.namedParameters()) {
    if (p instanceof QuantizedTensor) {
      const q = p.q;
      return { type: q.type, doubleQuant: q.type !== "int8" && !(q.absmax instanceof Float32Array) };
    }
  }
  throw new Error("saveQuantizedModel: the model has no quantized layer");
}

export function saveQuantizedModel(model: CausalLM, tokenizerDir: string | null, outDir: string, o: SaveQuantizedOptions = {}): void {
  const computeDtype = o.computeDtype ?? "float32";
  const { type, doubleQuant } = quantType(model);
  const tmp = createTempDirFor(outDir);
  writeCheckpoint(tmp, quantizedCheckpointTensors(model, computeDtype));
  const config = { ...model.config.raw, quantization_config: bnbQuantizationConfig({ type, doubleQuant, computeDtype }) };
  writeFileAtomic(join(tmp, "config.json"), `${pyJsonDumps(config, { indent: 2, floatKeys: BNB_CONFIG_FLOAT_KEYS })}\n`);
  if (tokenizerDir) copyTokenizerFiles(tokenizerDir, tmp);
  commitDirAtomic(tmp, outDir);
}
