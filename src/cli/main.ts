// The peft-ts command line: one file per command under ./commands, registered here.

import { Command } from "commander";

type Register = (program: Command) => void;

const commands: Array<() => Promise<{ register: Register }>> = [
  () => import("./commands/merge.ts"),
  () => import("./commands/estimate.ts"),
  () => import("./commands/train.ts"),
  () => import("./commands/eval.ts"),
  () => import("./commands/generate.ts"),
  () => import("./commands/forward.ts"),
  () => import("./commands/inspect.ts"),
  () => import("./commands/quantize.ts"),
  () => import("./commands/demo.ts"),
  // the `bench` group with its gemm subcommands; the entries below add theirs to it
  () => import("./commands/bench.ts"),
  // last: adds `train` to the `bench` group, creating the group if no command above did
  () => import("./commands/bench-train.ts"),
  // adds `lora-overhead` to the `bench` group (found or created the same way)
  () => import("./commands/bench-lora-overhead.ts"),
];

export async function main(argv: string[]): Promise<void> {
  const program = new Command("peft-ts")
    .description("Full fine-tuning, LoRA and QLoRA of Hugging Face language models, in TypeScript")
    .version("0.1.0")
    .showHelpAfterError();
  for (const load of commands) (await load()).register(program);
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (e) {
    process.stderr.write(`peft-ts: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
}
