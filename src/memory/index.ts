export {
  estimateMemory,
  formatEstimate,
  nf4Bytes,
  availableMemoryBytes,
  EstimateError,
  frozenDtype,
  METHODS,
  RUNTIME_BYTES,
  type Method,
  type EstimateOptimizer,
  type EstimateOptions,
  type MemoryEstimate,
} from "./estimate.ts";
export { modelInventory, baseParameterCount, parameterTensors, type ModelInventory, type LinearShape } from "./inventory.ts";
export { fitMemory, type FitPlan } from "./fit.ts";
