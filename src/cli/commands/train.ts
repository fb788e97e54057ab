// peft-ts train: fine-tune a Hugging Face model folder (full, LoRA or QLoRA) on a data file. Flags map
// one to one onto TrainingArgs (src/train/args.ts); --config FILE (YAML or JSON) takes the same keys and
// the flags given on the command line override it.

import { Command, Option } from "commander";
import { OPTIMIZERS, readConfigFile, normaliseKeys, type TrainingArgs } from "../../train/args.ts";
import { train } from "../../train/trainer.ts";
import { progressReporter } from "../../train/progress.ts";

type Given = Partial<Record<keyof TrainingArgs, unknown>>;

const FLAGS: [flags: string, help: string][] = [
  ["--model <dir>", "Hugging Face model folder (config.json, safetensors, tokenizer)"],
  ["--data <file>", "training data, JSONL (text, prompt/completion, chat messages or alpaca records)"],
  ["--eval-data <file>", "evaluation data file"],
  ["--val-split <fraction>", "hold out this fraction of the training data for evaluation"],
  ["--format <name>", "dataset format (default: auto-detected)"],
  ["--train-on-prompt", "compute the loss on prompt tokens too"],
  ["--pack", "pack several examples into each --max-seq-len row"],
  ["--r <n>", "LoRA rank (default 8)"],
  ["--alpha <n>", "LoRA alpha (default 16)"],
  ["--dropout <p>", "LoRA dropout (default 0)"],
  ["--target-modules <names>", 'comma-separated module names LoRA wraps, or "all-linear"'],
  ["--lr <lr>", "peak learning rate (default 2e-4)"],
  ["--epochs <n>", "passes over the data (default 1)"],
  ["--max-steps <n>", "optimizer steps to run (overrides --epochs)"],
  ["--batch-size <n>", "examples per micro-batch (default 4)"],
  ["--grad-accum <n>", "micro-batches per optimizer step (default 1)"],
  ["--max-seq-len <n>", "truncate examples to this many tokens (default 512)"],
  ["--warmup-steps <n>", "linear warmup steps (default 0)"],
  ["--weight-decay <x>", "weight decay (default 0)"],
  ["--max-grad-norm <x>", "clip the gradient norm to this, 0 = off (default 1)"],
  ["--seed <n>", "seed for data order, adapter init and dropout (default 42)"],
  ["--save-every <n>", "write OUT/checkpoint-<step> every n steps (default 0: final result only)"],
  ["--save-total-limit <n>", "keep at most n checkpoints (default 0: all)"],
  ["--eval-every <n>", "evaluate every n steps (default 0: at the end)"],
  ["--log-every <n>", "log metrics every n steps (default 1)"],
  ["--out <dir>", "output folder (default ./out)"],
  ["--resume", "continue from the latest complete checkpoint in --out"],
  ["--adam-beta1 <x>", "AdamW beta1 (default 0.9)"],
  ["--adam-beta2 <x>", "AdamW beta2 (default 0.999)"],
  ["--adam-eps <x>", "AdamW epsilon (default 1e-8)"],
  ["--momentum <x>", "SGD momentum (default 0)"],
  ["--nesterov", "SGD Nesterov momentum"],
  ["--skip-non-finite", "skip steps with a non-finite loss or gradient instead of stopping"],
  ["--ignore-memory-check", "start even when the memory estimate exceeds the available memory"],
  ["--threads <n>", "native kernel threads"],
];

export function register(program: Command): void {
  const cmd = program
    .command("train")
    .description("fine-tune a model (full, LoRA or QLoRA); writes the adapter or model, checkpoints and metrics.jsonl to --out")
    .option("--config <file>", "YAML or JSON file with the same keys as the flags (flags override it)");
  for (const [flags, help] of FLAGS) cmd.option(flags, help);
  cmd
    .addOption(new Option("--method <method>", "full, lora or qlora (default lora)").choices(["full", "lora", "qlora"]))
    .addOption(new Option("--scheduler <name>", "lr schedule after warmup (default linear)").choices(["constant", "linear", "cosine"]))
    .addOption(new Option("--optimizer <name>", "adamw, adamw8bit (bitsandbytes' 8-bit states) or sgd (default adamw)").choices(OPTIMIZERS))
    .addOption(new Option("--base-dtype <dtype>", "how frozen float weights are held (default: float32 for LoRA, as stored for QLoRA's embedding and head)").choices(["float32", "bfloat16"]))
    .addOption(new Option("--quantize-embeddings <type>", "hold the frozen embedding and head in int8 or nf4 too (a departure from QLoRA's recipe)").choices(["int8", "nf4"]))
    .option("--gradient-checkpointing [mode]", "recompute activations in backward: on, off or auto (default auto)")
    .action(async (opts: Record<string, unknown>) => {
      const given = collect(opts);
      // strings from flags and config files are coerced and validated by resolveArgs
      if (given.model === undefined) throw new Error("train: --model is required (a Hugging Face model folder)");
      if (given.data === undefined) throw new Error("train: --data is required (a training data file)");
      const reporter = progressReporter(process.stdout, Number(given.logEvery ?? 1));
      // Ctrl-C: finish the current step, checkpoint it, stop (a second Ctrl-C exits at once)
      const abort = new AbortController();
      const onSigint = () => {
        if (abort.signal.aborted) process.exit(130);
        reporter.onLog?.("interrupt: stopping after this step and saving a checkpoint (Ctrl-C again to quit now)");
        abort.abort();
      };
      process.on("SIGINT", onSigint);
      try {
        const r = await train(given as unknown as Pick<TrainingArgs, "model" | "data">, reporter, { signal: abort.signal });
        reporter.stop();
        process.stdout.write(`done: ${r.steps} steps, last loss ${r.loss.toFixed(4)}${r.evalLoss !== null ? `, eval loss ${r.evalLoss.toFixed(4)}` : ""}; result in ${r.out}\n`);
      } finally {
        reporter.stop();
        process.off("SIGINT", onSigint);
      }
    });
}

/** Config file values, then the flags given on the command line. */
function collect(opts: Record<string, unknown>): Given {
  const given: Given = typeof opts.config === "string" ? readConfigFile(opts.config) : {};
  const flags: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(opts)) {
    if (k === "config" || v === undefined) continue;
    flags[k] = k === "gradientCheckpointing" ? gcMode(v) : v;
  }
  return { ...given, ...normaliseKeys(flags, "train") };
}

function gcMode(v: unknown): unknown {
  if (v === true || v === "on" || v === "true") return true;
  if (v === "off" || v === "false") return false;
  return v;
}
