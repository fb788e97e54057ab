// `bench train` until the `bench` command group (src/cli/commands/bench.ts) is on main: adds `train` to an
// existing `bench` command, or creates the group when no other command has. Registered last.

import type { Command } from "commander";
import { registerBenchTrain } from "../../bench/train.ts";

export function register(program: Command): void {
  const bench = program.commands.find((c) => c.name() === "bench") ?? program.command("bench").description("benchmarks");
  registerBenchTrain(bench);
}
