// Before training: the memory estimate (src/memory) printed as a table, gradient checkpointing switched on
// when "auto" and the estimate without it does not fit, and a refusal to start when even the chosen plan
// exceeds the memory this machine can give (the smaller of free memory plus what this process already holds
// and a container limit), unless the user overrides it.

import * as os from "node:os";
import type { ModelConfig } from "../models/index.ts";
import { availableMemoryBytes, estimateMemory, fitMemory, formatEstimate, frozenDtype, type EstimateOptions, type MemoryEstimate } from "../memory/index.ts";
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
  a: Pick<TrainingArgs, "method" | "batchSize" | "maxSeqLen" | "loraR" | "loraTargetModules" | "gradientCheckpointing" | "baseDtype" | "optimizer" | "quantizeEmbeddings" | "ignoreMemoryCheck">,
  available = availableMemory(),
): MemoryPlan {
  const options = (gc: boolean): EstimateOptions => ({
    config, method: a.method, batch: a.batchSize, seq: a.maxSeqLen, r: a.loraR, targetModules: a.loraTargetModules, gradientCheckpointing: gc,
    baseDtype: frozenDtype(a.method, a.baseDtype, config), optimizer: a.optimizer, embeddingQuant: a.quantizeEmbeddings,
  });
  const budget = available - memoryMargin();
  let gc = a.gradientCheckpointing === true;
  if (a.gradientCheckpointing === "auto") gc = estimateMemory(options(false)).total > budget;
  const fit = fitMemory(options(gc), budget);
  const estimate = fit.estimate;
  const loraPart = a.method === "full" ? "" : `, LoRA r=${a.loraR}`;
  const tables = a.quantizeEmbeddings ?? options(gc).baseDtype;
  const frozen = a.method === "full" ? "" : a.method === "qlora" ? `, NF4 layers, ${tables} embedding and head` : `, frozen base ${options(gc).baseDtype}${a.quantizeEmbeddings ? ` (${tables} embedding and head)` : ""}`;
  const heading = `Memory estimate for this run (${a.method}, batch ${a.batchSize} × ${a.maxSeqLen} tokens${loraPart}, ${a.optimizer}${frozen}${gc ? ", gradient checkpointing" : ""}):`;
  const verdict = fit.fits ? "fits" : "does not fit";
  const why = a.gradientCheckpointing === "auto" && gc ? "; gradient checkpointing switched on because the run would not fit without it" : "";
  const text =
    `${heading}\n${formatEstimate([estimate])}\n` +
    `${verdict}: ${formatBytes(available)} available to this process (free memory plus what it already holds), ` +
    `less ${formatBytes(memoryMargin())} kept for the system (5% of RAM, at least 256 MiB)${why}`;
  if (!fit.fits && !a.ignoreMemoryCheck) {
    const hint = fit.flags
      ? `it fits with ${fit.flags.join(" ")} (${formatBytes(fit.fitted!.total)})`
      : "nothing but a smaller --max-seq-len or --method qlora brings it down far enough";
    throw new MemoryCheckError(
      `the memory estimate (${formatBytes(estimate.total)}) exceeds the memory available (${formatBytes(available)} less a ${formatBytes(memoryMargin())} margin); ` +
        `${hint}; pass --ignore-memory-check to start anyway`,
    );
  }
  return { gradientCheckpointing: gc, estimate, text, available };
}
