// Training for TypeScript users: `train(args, callbacks)` or `new Trainer(args, callbacks).train()`.
export { train, Trainer, NonFiniteError, TrainingInterrupted, TrainingSetupError, type StepInfo, type TrainCallbacks, type TrainInputs, type TrainResult } from "./trainer.ts";
export { resolveArgs, readConfigFile, normaliseKeys, DEFAULT_ARGS, TrainingArgsError, type TrainingArgs, type Method, type OptimizerName } from "./args.ts";
export { evaluate, type EvalResult } from "./evaluate.ts";
export { prepareModel, fullModel, adapterModel, countParameters, type TrainableModel, type ModelArgs } from "./model.ts";
export { latestCheckpoint, listCheckpoints, saveCheckpoint, restoreCheckpoint, type TrainerState } from "./checkpoints.ts";
export { readMetrics, type MetricsLine } from "./metrics.ts";
export { progressReporter } from "./progress.ts";
export { planMemory, availableMemory, MemoryCheckError } from "./memory-guard.ts";
export { accumulateGradients } from "./step.ts";
