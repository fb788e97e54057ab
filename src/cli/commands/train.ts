// peft-ts train: fine-tune a Hugging Face model folder (full, LoRA or QLoRA) on a data file. Flags map
// one to one onto TrainingArgs (src/train/args.ts); --config FILE (YAML or JSON) takes the same keys and
// the flags given on the command line override it. `train --help` shows the options in the groups of
// OPTION_GROUPS, essentials first, each with its default from DEFAULT_ARGS.

import { Command, Option } from "commander";
import { ALIASES, ARG_KEYS, DEFAULT_ARGS, NOT_ALIASES, OPTIMIZERS, kebabKey, normaliseKeys, readConfigFile, resolveArgs, type GivenArgs, type TrainingArgs } from "../../train/args.ts";
import { train } from "../../train/trainer.ts";
import { progressReporter, formatFinish } from "../../train/progress.ts";
import { DATA_HELP } from "./data.ts";
import { DATA_FORMATS } from "../../train/data/index.ts";

/** flags, the TrainingArgs field it sets, help, and the values it takes where it takes a fixed set. */
type Row = [flags: string, key: keyof TrainingArgs, help: string, choices?: readonly string[]];

const OPTION_GROUPS: [heading: string, rows: Row[]][] = [
  ["Model and method:", [
    ["--model <dir>", "model", "Hugging Face model folder (config.json, *.safetensors, tokenizer.json); required"],
    ["--method <method>", "method", "full: every weight; lora: adapters on a frozen base; qlora: adapters on an NF4 base", ["full", "lora", "qlora"]],
    ["--r <n>", "loraR", "LoRA rank"],
    ["--alpha <n>", "loraAlpha", "LoRA alpha (the update is scaled by alpha / r)"],
    ["--target-modules <names>", "loraTargetModules", 'comma-separated module names LoRA wraps, or "all-linear"'],
    ["--dropout <p>", "loraDropout", "dropout on the LoRA input"],
    ["--base-dtype <dtype>", "baseDtype", "how frozen float weights are held (default: float32 for LoRA; QLoRA's embedding and head as stored)", ["float32", "bfloat16"]],
    ["--compute-dtype <dtype>", "computeDtype", "operands of the linear layers' products, as torch's CPU autocast (default: float32, or a bitsandbytes model's bnb_4bit_compute_dtype)", ["float32", "bfloat16"]],
  ]],
  ["Data:", [
    ["--data <file>", "data", `training data; required. ${DATA_HELP}`],
    ["--format <name>", "format", "record format; auto detects it per record", ["auto", ...DATA_FORMATS]],
    ["--system <text>", "system", "system message put first in chat records that have none"],
    ["--max-seq-len <n>", "maxSeqLen", "truncate examples to this many tokens"],
    ["--pack", "pack", "pack several examples into each --max-seq-len row"],
    ["--train-on-prompt", "trainOnPrompt", "take the loss on prompt tokens too (default: answers only)"],
    ["--eval-data <file>", "evalData", "evaluation data file"],
    ["--val-split <fraction>", "valSplit", "hold out this fraction of the training data for evaluation"],
  ]],
  ["Schedule:", [
    ["--lr <lr>", "lr", "peak learning rate"],
    ["--max-steps <n>", "maxSteps", "optimizer steps to run (overrides --epochs)"],
    ["--epochs <n>", "epochs", "passes over the data"],
    ["--batch-size <n>", "batchSize", "examples per micro-batch"],
    ["--grad-accum <n>", "gradAccum", "micro-batches per optimizer step"],
    ["--scheduler <name>", "scheduler", "lr schedule after warmup", ["constant", "linear", "cosine"]],
    ["--warmup-steps <n>", "warmupSteps", "linear warmup steps"],
    ["--seed <n>", "seed", "seed for data order, adapter init and dropout"],
  ]],
  ["Output and checkpoints:", [
    ["--out <dir>", "out", "output folder: the adapter or model, metrics.jsonl, report.html"],
    ["--save-every <n>", "saveEvery", "write OUT/checkpoint-<step> every n steps (0: final result only)"],
    ["--save-total-limit <n>", "saveTotalLimit", "keep at most n checkpoints (0: all)"],
    ["--resume", "resume", "continue from the latest complete checkpoint in --out"],
    ["--allow-changed-args", "allowChangedArgs", "let --resume continue with hyper-parameters that differ from the checkpoint's"],
    ["--eval-every <n>", "evalEvery", "evaluate every n steps (0: at the end)"],
    ["--log-every <n>", "logEvery", "write metrics every n steps"],
  ]],
  ["Optimizer:", [
    ["--optimizer <name>", "optimizer", "torch.optim.AdamW, bitsandbytes' AdamW8bit (m and v in 8 bits) or torch.optim.SGD", OPTIMIZERS],
    ["--weight-decay <x>", "weightDecay", "weight decay"],
    ["--max-grad-norm <x>", "maxGradNorm", "clip the gradient norm to this (0: off)"],
    ["--adam-beta1 <x>", "adamBeta1", "AdamW beta1"],
    ["--adam-beta2 <x>", "adamBeta2", "AdamW beta2"],
    ["--adam-eps <x>", "adamEps", "AdamW epsilon"],
    ["--momentum <x>", "momentum", "SGD momentum"],
    ["--nesterov", "nesterov", "SGD Nesterov momentum"],
  ]],
  ["Memory and speed:", [
    ["--gradient-checkpointing [mode]", "gradientCheckpointing", "recompute activations in backward: on, off or auto (on when the estimate is tight)"],
    ["--threads <n>", "threads", "native kernel threads (default: all cores)"],
    ["--quantize-embeddings <type>", "quantizeEmbeddings", "hold the frozen embedding and head in int8 or nf4 too (a departure from QLoRA's recipe)", ["int8", "nf4"]],
    ["--ignore-memory-check", "ignoreMemoryCheck", "start even when the memory estimate exceeds the available memory"],
    ["--skip-non-finite", "skipNonFinite", "skip steps with a non-finite loss or gradient instead of stopping"],
  ]],
];

/** " (default: 2e-4)" from DEFAULT_ARGS, or nothing where the default is "unset" or a flag is off. */
function defaultText(key: keyof TrainingArgs): string {
  const v = (DEFAULT_ARGS as Record<string, unknown>)[key];
  if (v === undefined || v === null || v === false || v === true) return "";
  return ` (default: ${Array.isArray(v) ? v.join(",") : String(v)})`;
}

function optionOf([flags, key, help, choices]: Row, heading: string): Option {
  const o = new Option(flags, help + defaultText(key)).helpGroup(heading);
  return choices ? o.choices(choices) : o;
}

/**
 * Hidden flags for the other spellings of each setting: the aliases of args.ts and the full key names
 * (--learning-rate, --lora-r), each taking what the visible flag takes.
 */
function aliasOptions(): Option[] {
  const rows = new Map(OPTION_GROUPS.flatMap(([, rows]) => rows.map((r) => [r[1], r] as const)));
  const names: [string, keyof TrainingArgs][] = [...ARG_KEYS.map((k) => [k, k] as [string, keyof TrainingArgs]), ...Object.entries(ALIASES)];
  const aliases = names.flatMap(([name, key]) => {
    const row = rows.get(key);
    const flag = `--${kebabKey(name)}`;
    if (!row || row[0].split(" ")[0] === flag) return [];
    const value = /[<[].*$/.exec(row[0])?.[0];
    return [new Option(value ? `${flag} ${value}` : flag).hideHelp()];
  });
  // names that mean something else here: taken, so that normaliseKeys can say what to use instead
  const refused = Object.keys(NOT_ALIASES).map((name) => new Option(`--${kebabKey(name)} [value]`).hideHelp());
  return [...aliases, ...refused];
}

const ALIAS_NOTE = `
Also accepted, as flags or config keys: the names of transformers' TrainingArguments, PEFT, TRL and axolotl
that mean the same (learning_rate, num_train_epochs, per_device_train_batch_size, gradient_accumulation_steps,
lora_r, lora_alpha, target_modules, max_seq_length, packing, output_dir, save_steps, ...).

Example:
  peft-ts train --model DIR --data train.jsonl --method lora --lr 2e-4 --max-steps 100 --out runs/my-lora
`;

export function register(program: Command): void {
  const cmd = program
    .command("train")
    .description("fine-tune a model (full, LoRA or QLoRA); writes the adapter or model, checkpoints and metrics.jsonl to --out")
    .addOption(new Option("--config <file>", "YAML or JSON file with the same keys as the flags (flags override it)").helpGroup("Model and method:"));
  for (const [heading, rows] of OPTION_GROUPS) for (const row of rows) cmd.addOption(optionOf(row, heading));
  for (const o of aliasOptions()) cmd.addOption(o);
  cmd.addHelpText("after", ALIAS_NOTE);
  cmd.action(async (opts: Record<string, unknown>) => {
    const given = collect(opts);
    if (given.values.model === undefined) throw new Error("train: --model is required (a Hugging Face model folder)");
    if (given.values.data === undefined) throw new Error("train: --data is required (a training data file)");
    const args = resolveArgs(given.values, given.names);
    const reporter = progressReporter(process.stdout, args.logEvery);
    // Ctrl-C: finish the current step, checkpoint it, stop (a second Ctrl-C exits at once)
    const abort = new AbortController();
    const onSigint = () => {
      if (abort.signal.aborted) process.exit(130);
      reporter.onLog?.("interrupt: stopping after this step and saving a checkpoint (Ctrl-C again to quit now)");
      abort.abort();
    };
    process.on("SIGINT", onSigint);
    try {
      const r = await train(args, reporter, { signal: abort.signal });
      reporter.stop();
      process.stdout.write(`${formatFinish(r)}\n`);
    } finally {
      reporter.stop();
      process.off("SIGINT", onSigint);
    }
  });
}

/** Config file values, then the flags given on the command line, with how each key was written. */
function collect(opts: Record<string, unknown>): GivenArgs {
  const file: GivenArgs = typeof opts.config === "string" ? readConfigFile(opts.config) : { values: {}, names: {} };
  const flags: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(opts)) {
    if (k === "config" || v === undefined) continue;
    flags[k] = k === "gradientCheckpointing" ? gcMode(v) : v;
  }
  const cli = normaliseKeys(flags, "train", (k) => `--${kebabKey(k)}`);
  return { values: { ...file.values, ...cli.values }, names: { ...file.names, ...cli.names } };
}

function gcMode(v: unknown): unknown {
  if (v === true || v === "on" || v === "true") return true;
  if (v === "off" || v === "false") return false;
  return v;
}
