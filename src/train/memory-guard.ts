// Before training: the memory estimate (src/memory) printed as a table, gradient checkpointing switched on
// when "auto" and the estimate without it does not fit, and a refusal to start when even the chosen plan
// exceeds the memory this machine can give (the smaller of free memory plus what this process already holds
// and a container limit), unless the user overrides it.

import * as os from "node:os";
import type { ModelConfig } from "../models/index.ts";
import { availableMemoryBytes, estimateMemory, formatEstimate, type MemoryEstimate } from "../memory/index.ts";
import type { TrainingArgs } from "./args.ts";
import { formatBytes } from "../util/format.ts";

export class MemoryCheckError extends Error {}

/** Memory headroom left for the OS and everything else: 5% of the total, at least 256 MiB. */
export function memoryMargin(total = os.totalmem()): number {
  return Math.max(256 * 2 ** 20, 0.05 * total);
}

/** Bytes this process may grow to: what the machine (or cgroup) still has, plus what this process holds. */
export function availableMemory(): number {
  return Math.min(os.totalmem(), availableMemoryBytes() + process.memoryUsage.rss());
}

export interface MemoryPlan {
  gradientCheckpointing: boolean;
  estimate: MemoryEstimate;
  /** The table to print. */
  text: string;
  available: number;
}

export function planMemory(
  config: ModelConfig,
  a: Pick<TrainingArgs, "method" | "batchSize" | "maxSeqLen" | "loraR" | "loraTargetModules" | "gradientCheckpointing" | "baseDtype" | "ignoreMemoryCheck">,
  available = availableMemory(),
): MemoryPlan {
  const est = (gc: boolean) =>
    estimateMemory({ config, method: a.method, batch: a.batchSize, seq: a.maxSeqLen, r: a.loraR, targetModules: a.loraTargetModules, gradientCheckpointing: gc, baseDtype: a.baseDtype });
  const budget = available - memoryMargin();
  let gc = a.gradientCheckpointing === true;
  if (a.gradientCheckpointing === "auto") gc = est(false).total > budget;
  const estimate = est(gc);
  const loraPart = a.method === "full" ? "" : `, LoRA r=${a.loraR}`;
  const heading = `Memory estimate for this run (${a.method}, batch ${a.batchSize} × ${a.maxSeqLen} tokens${loraPart}, frozen weights ${a.baseDtype}${gc ? ", gradient checkpointing" : ""}):`;
  const verdict = estimate.total <= budget ? "fits" : "does not fit";
  const why = a.gradientCheckpointing === "auto" && gc ? "; gradient checkpointing switched on because the run would not fit without it" : "";
  const text =
    `${heading}\n${formatEstimate([estimate])}\n` +
    `${verdict}: ${formatBytes(available)} available to this process (free memory plus what it already holds), ` +
    `less ${formatBytes(memoryMargin())} kept for the system (5% of RAM, at least 256 MiB)${why}`;
  if (estimate.total > budget && !a.ignoreMemoryCheck) {
    throw new MemoryCheckError(
      `the memory estimate (${formatBytes(estimate.total)}) exceeds the memory available (${formatBytes(available)} less a ${formatBytes(memoryMargin())} margin)` +
        `${gc ? "" : "; try --gradient-checkpointing,"} a smaller --batch-size or --max-seq-len, --method qlora, or --base-dtype bfloat16;` +
        " pass --ignore-memory-check to start anyway",
    );
  }
  return { gradientCheckpointing: gc, estimate, text, available };
}
