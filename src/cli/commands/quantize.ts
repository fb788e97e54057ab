// `peft-ts quantize`: write a bitsandbytes-format pre-quantized copy of a model folder (NF4/FP4 with
// optional double quantization, or int8), as transformers saves `*-bnb-4bit` checkpoints. Linear layers
// are quantized one at a time as they are read; embeddings, norms and the head stay as stored.

import { Command, Option } from "commander";
import { loadModel } from "../../models/load.ts";
import { saveQuantizedModel } from "../../quant/save.ts";
import { QuantizedTensor, type QuantType } from "../../quant/types.ts";
import { weightFootprint, formatFootprint, describeStoredBits } from "../../quant/footprint.ts";
import { inspectModel } from "./inspect.ts";
import { parseNumberFlag } from "../numbers.ts";
import { checkModelFolder } from "../../models/folder-check.ts";

interface QuantizeCliOptions {
  model: string;
  out: string;
  quantType: QuantType;
  doubleQuant: boolean;
  blockSize: string;
  computeDtype: "float32" | "bfloat16" | "float16";
}

export function runQuantize(o: QuantizeCliOptions): void {
  const blockSize = parseNumberFlag("quantize: --block-size", o.blockSize, { integer: true, min: 2 });
  checkModelFolder(o.model);
  const model = loadModel(o.model, {
    dtype: "auto",
    quantization: { type: o.quantType, doubleQuant: o.doubleQuant, blockSize, computeDtype: o.computeDtype },
  });
  saveQuantizedModel(model, o.model, o.out, { computeDtype: o.computeDtype });
  const layers = model.namedParameters().filter(([, p]) => p instanceof QuantizedTensor);
  // the figure inspect prints for the folder, from the files as written
  const stored = inspectModel(o.out);
  process.stdout.write(`quantized ${layers.length} linear layers to ${o.quantType}; wrote ${o.out}\n`);
  if (stored.quantized_bits_per_weight !== null) process.stdout.write(`${describeStoredBits(stored.quantized_bits_per_weight, stored.quantized_table_bytes)}\n`);
  process.stdout.write(formatFootprint(weightFootprint(model)));
}

export function register(program: Command): void {
  program
    .command("quantize")
    .description("save a bitsandbytes-format quantized copy of a model (linear layers in 4 or 8 bits)")
    .requiredOption("--model <dir>", "the model folder (Hugging Face format)")
    .requiredOption("--out <dir>", "where to write the quantized model folder")
    .addOption(new Option("--quant-type <type>", "quantization type").choices(["nf4", "fp4", "int8"]).default("nf4"))
    .option("--no-double-quant", "keep the 4-bit block scales in float32 instead of quantizing them to 8 bits")
    .option("--block-size <n>", "4-bit elements per scale block", "64")
    .addOption(new Option("--compute-dtype <dtype>", "bnb_4bit_compute_dtype recorded in the config").choices(["float32", "bfloat16", "float16"]).default("float32"))
    .action((opts: QuantizeCliOptions) => runQuantize(opts));
}
