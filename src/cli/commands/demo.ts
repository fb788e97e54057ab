// `peft-ts demo` (what `npm start` runs): full fine-tuning vs LoRA vs QLoRA on the shipped base model.

import { Option, type Command } from "commander";
import { runDemo } from "../../demo/run.ts";
import { runWorker, type WorkerJob } from "../../demo/worker.ts";

interface DemoCliOptions {
  out: string;
  steps: string;
  seed: string;
  worker?: string;
}

export function register(program: Command): void {
  program
    .command("demo")
    .description("fine-tune the shipped demo model three ways (full, LoRA, QLoRA) and compare them (offline, a few minutes)")
    .option("--out <dir>", "where the runs, metrics and report.html go", "runs/demo")
    .option("--steps <n>", "optimizer steps per method", "150")
    .option("--seed <n>", "seed for data order, adapters and sampling", "0")
    .addOption(new Option("--worker <json>", "run one method in this process (used by the demo itself)").hideHelp())
    .action(async (o: DemoCliOptions) => {
      if (o.worker) {
        await runWorker(JSON.parse(o.worker) as WorkerJob, (line) => process.stdout.write(`  ${line}\n`));
        return;
      }
      const steps = Number(o.steps);
      if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps must be a positive integer, got ${o.steps}`);
      runDemo({ out: o.out, steps, seed: Number(o.seed) });
    });
}
