export { AdamW, type AdamWOptions } from "./adamw.ts";
export { AdamW8bit, adamw8bitStateBytes, type AdamW8bitOptions } from "./adamw8bit.ts";
export { SGD, type SGDOptions } from "./sgd.ts";
export { OptimizerStateError, type Optimizer, type OptimizerState, type StateSource } from "./optimizer.ts";
export { lrAt, SCHEDULERS, type Schedule, type SchedulerName } from "./schedule.ts";
export { clipGradNorm, gradNorm, gradsFinite } from "./clip.ts";
