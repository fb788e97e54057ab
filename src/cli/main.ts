// The peft-ts command line: one file per command under ./commands, registered here.

import { Command } from "commander";

type Register = (program: Command) => void;

const commands: Array<() => Promise<{ register: Register }>> = [
  () => import("./commands/merge.ts"),
  () => import("./commands/estimate.ts"),
  () => import("./commands/train.ts"),
  () => import("./commands/data.ts"),
  () => import("./commands/eval.ts"),
  () => import("./commands/generate.ts"),
  () => import("./commands/forward.ts"),
  () => import("./commands/inspect.ts"),
  () => import("./commands/quantize.ts"),
  () => import("./commands/demo.ts"),
  () => import("./commands/bench.ts"),
];

export async function main(argv: string[]): Promise<void> {
  const program = new Command("peft-ts")
    .description("Full fine-tuning, LoRA and QLoRA of Hugging Face language models, in TypeScript")
    .version("0.1.0")
    .showHelpAfterError("(peft-ts --help lists the commands)");
  for (const load of commands) (await load()).register(program);
  // A usage error (a mistyped flag, a missing value) prints the error and where the options are listed,
  // not the whole help, which would scroll the error away.
  for (const cmd of program.commands) cmd.showHelpAfterError(`(peft-ts ${cmd.name()} --help lists its options)`);
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (e) {
    process.stderr.write(`peft-ts: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
}
