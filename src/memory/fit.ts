// Whether a training step fits a memory budget and, when it does not, the cheapest training flags that make
// it fit. The flags are tried in order of what they cost the run:
//   1. --base-dtype bfloat16: frozen weights in half the memory (exact for a bf16 checkpoint), no slower;
//   2. --gradient-checkpointing: activations at layer boundaries only, one more forward per step (~1/3);
//   3. --optimizer adamw8bit: AdamW's states in 8 bits (bitsandbytes'), a small change to the trajectory;
// every subset of those that applies, cheapest first (two cheaper flags before one dearer), then, with all
// of them, smaller micro-batches with gradient accumulation keeping the effective batch.

import { estimateMemory, type EstimateOptions, type MemoryEstimate } from "./estimate.ts";

interface Relaxation {
  flag: string;
  applies(o: EstimateOptions): boolean;
  apply(o: EstimateOptions): EstimateOptions;
}

const RELAXATIONS: readonly Relaxation[] = [
  {
    flag: "--base-dtype bfloat16",
    applies: (o) => o.method !== "full" && (o.baseDtype ?? "float32") === "float32",
    apply: (o) => ({ ...o, baseDtype: "bfloat16" }),
  },
  { flag: "--gradient-checkpointing", applies: (o) => !o.gradientCheckpointing, apply: (o) => ({ ...o, gradientCheckpointing: true }) },
  { flag: "--optimizer adamw8bit", applies: (o) => (o.optimizer ?? "adamw") === "adamw", apply: (o) => ({ ...o, optimizer: "adamw8bit" }) },
];

export interface FitPlan {
  estimate: MemoryEstimate;
  /** The estimate is within the budget as asked. */
  fits: boolean;
  /** When it does not: the cheapest flags that make it fit ([] when it fits, null when nothing does). */
  flags: string[] | null;
  /** The estimate with those flags. */
  fitted: MemoryEstimate | null;
}

/** Subsets of the applicable relaxations, cheapest first (relaxation i costs 2^i). */
function subsets(o: EstimateOptions): Relaxation[][] {
  const usable = RELAXATIONS.filter((r) => r.applies(o));
  return Array.from({ length: 2 ** usable.length }, (_, mask) => usable.filter((_, i) => mask & (1 << i)));
}

export function fitMemory(o: EstimateOptions, budget: number): FitPlan {
  const estimate = estimateMemory(o);
  if (estimate.total <= budget) return { estimate, fits: true, flags: [], fitted: estimate };
  let all = o;
  for (const set of subsets(o)) {
    const relaxed = set.reduce((acc, r) => r.apply(acc), o);
    const fitted = estimateMemory(relaxed);
    if (fitted.total <= budget) return { estimate, fits: false, flags: set.map((r) => r.flag), fitted };
    all = relaxed;
  }
  const flags = RELAXATIONS.filter((r) => r.applies(o)).map((r) => r.flag);
  for (let batch = Math.floor(o.batch / 2); batch >= 1; batch = Math.floor(batch / 2)) {
    const fitted = estimateMemory({ ...all, batch });
    if (fitted.total <= budget) {
      return { estimate, fits: false, flags: [...flags, `--batch-size ${batch} --grad-accum ${Math.ceil(o.batch / batch)}`], fitted };
    }
  }
  return { estimate, fits: false, flags: null, fitted: null };
}
