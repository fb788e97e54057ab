// Learning-rate schedules exactly as transformers' get_scheduler builds them: a LambdaLR whose factor at
// scheduler step s (0 for the first optimizer step) multiplies the base lr. Every schedule starts with a
// linear warmup from 0; with warmup 0 the first step already uses the full lr.

export type SchedulerName = "constant" | "linear" | "cosine";
export const SCHEDULERS: readonly SchedulerName[] = ["constant", "linear", "cosine"];

export interface Schedule {
  name: SchedulerName;
  /** The peak (base) learning rate. */
  lr: number;
  warmupSteps: number;
  /** Optimizer steps in the whole run (for linear and cosine decay). */
  totalSteps: number;
}

/** The lr of the optimizer step that follows `s` completed steps (transformers' lr_lambda · base lr). */
export function lrAt(s: number, { name, lr, warmupSteps: w, totalSteps: n }: Schedule): number {
  // 1) linear warmup: s / w
  if (s < w) return lr * (s / Math.max(1, w));
  // 2) constant after warmup
  if (name === "constant") return lr;
  // 3) linear decay to 0 at the last step
  if (name === "linear") return lr * Math.max(0, (n - s) / Math.max(1, n - w));
  // 4) half a cosine from 1 to 0 (num_cycles = 0.5)
  const progress = (s - w) / Math.max(1, n - w);
  return lr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 0.5 * 2 * progress)));
}
