// `peft-ts demo` (what `npm start` runs): full fine-tuning vs LoRA vs QLoRA on the shipped base model.

import { Option, type Command } from "commander";
import { runDemo } from "../../demo/run.ts";
import { runWorker, type WorkerJob } from "../../demo/worker.ts";
import { backend } from "../../backend/index.ts";
import { parseNumberFlag } from "../numbers.ts";

interface DemoCliOptions {
  out: string;
  steps: string;
  seed: string;
  allowSlow?: boolean;
  worker?: string;
}

export function register(program: Command): void {
  program
    .command("demo")
    .description("fine-tune the shipped demo model three ways (full, LoRA, QLoRA) and compare them (offline, a few minutes)")
    .option("--out <dir>", "where the runs, metrics and report.html go", "runs/demo")
    .option("--steps <n>", "optimizer steps per method", "150")
    .option("--seed <n>", "seed for data order, adapters and sampling", "0")
    .option("--allow-slow", "run on the TypeScript reference backend when the native kernels are unavailable (hours)")
    .addOption(new Option("--worker <json>", "run one method in this process (used by the demo itself)").hideHelp())
    .action(async (o: DemoCliOptions) => {
      if (o.worker) {
        await runWorker(JSON.parse(o.worker) as WorkerJob, (line) => process.stdout.write(`  ${line}\n`));
        return;
      }
      const steps = parseNumberFlag("demo: --steps", o.steps, { integer: true, min: 1 });
      const seed = parseNumberFlag("demo: --seed", o.seed, { integer: true });
      // The reference backend is about 100 times slower: the demo's minutes would become hours.
      if (backend().name === "js" && !o.allowSlow) {
        throw new Error(
          "the demo needs the native kernels, and they are not in use (see the line above, or PEFT_TS_BACKEND); " +
            "build them with `npm run build:native` (a C++17 compiler, make and Python for node-gyp), " +
            "or pass --allow-slow to run on the TypeScript backend, which takes hours",
        );
      }
      runDemo({ out: o.out, steps, seed });
    });
}
