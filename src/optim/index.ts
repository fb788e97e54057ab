export { AdamW, type AdamWOptions } from "./adamw.ts";
export { SGD, type SGDOptions } from "./sgd.ts";
export { OptimizerStateError, type Optimizer, type OptimizerState, type StateSource } from "./optimizer.ts";
export { lrAt, SCHEDULERS, type Schedule, type SchedulerName } from "./schedule.ts";
export { clipGradNorm, gradNorm, gradsFinite } from "./clip.ts";
