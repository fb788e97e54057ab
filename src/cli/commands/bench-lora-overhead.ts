// `bench lora-overhead` (src/bench/lora-overhead.ts). Until the `bench` command group (src/cli/commands/bench.ts)
// is on main: adds the subcommand to an existing `bench` command, or creates the group.

import type { Command } from "commander";
import { registerBenchLoraOverhead } from "../../bench/lora-overhead.ts";

export function register(program: Command): void {
  const bench = program.commands.find((c) => c.name() === "bench") ?? program.command("bench").description("benchmarks");
  registerBenchLoraOverhead(bench);
}
