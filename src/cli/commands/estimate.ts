// `peft-ts estimate`: memory of a training step for full fine-tuning, LoRA and QLoRA of a model, from its
// config.json alone (or a named preset), as an aligned table.

import { Command, Option, InvalidArgumentError } from "commander";
import { loadConfig } from "../../models/load.ts";
import { presetConfig, presetName, PRESETS } from "../../models/presets.ts";
import { formatBytes } from "../../util/format.ts";
import { estimateMemory, formatEstimate, availableMemoryBytes, METHODS, type Method } from "../../memory/index.ts";
import { DEFAULT_ARGS } from "../../train/args.ts";

interface EstimateCliOptions {
  model?: string;
  preset?: string;
  method: Method | "all";
  batch: number;
  seq: number;
  r: number;
  gradientCheckpointing: boolean;
  baseDtype: "float32" | "bfloat16";
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

function run(o: EstimateCliOptions): void {
  if ((o.model === undefined) === (o.preset === undefined)) throw new Error("estimate: give exactly one of --model or --preset");
  const config = o.model !== undefined ? loadConfig(o.model) : presetConfig(o.preset!);
  const methods = o.method === "all" ? METHODS : [o.method];
  const rows = methods.map((method) =>
    estimateMemory({ config, method, batch: o.batch, seq: o.seq, r: o.r, gradientCheckpointing: o.gradientCheckpointing, baseDtype: o.baseDtype }),
  );
  const what = o.model ?? `preset ${presetName(o.preset!) ?? o.preset}`;
  const ckpt = o.gradientCheckpointing ? ", gradient checkpointing" : "";
  process.stdout.write(
    `${what}: ${config.architecture}, batch ${o.batch} × ${o.seq} tokens, LoRA r=${o.r}, frozen weights ${o.baseDtype}${ckpt}\n\n` +
      `${formatEstimate(rows)}\n\n` +
      `Activations include transient peaks; runtime is the process without a model (Node, loader, native library).\n` +
      `Available memory now: ${formatBytes(availableMemoryBytes())}\n`,
  );
}

export function register(program: Command): void {
  program
    .command("estimate")
    .description("estimate the memory of a training step: full fine-tuning vs LoRA vs QLoRA")
    .option("--model <path>", "a Hugging Face model folder or its config.json")
    .option("--preset <name>", `a published model shape, in any case: ${Object.keys(PRESETS).join(", ")}`)
    .addOption(new Option("--method <method>", "which method to estimate").choices([...METHODS, "all"]).default("all"))
    .option("--batch <B>", "sequences per step (train's --batch-size)", positiveInt, DEFAULT_ARGS.batchSize)
    .option("--seq <T>", "tokens per sequence (train's --max-seq-len)", positiveInt, DEFAULT_ARGS.maxSeqLen)
    .option("--r <rank>", "LoRA rank (train's --r)", positiveInt, DEFAULT_ARGS.loraR)
    .option("--gradient-checkpointing", "recompute each layer's activations in backward", false)
    .addOption(new Option("--base-dtype <dtype>", "how frozen weights are held").choices(["float32", "bfloat16"]).default("float32"))
    .action((opts: EstimateCliOptions) => run(opts));
}
