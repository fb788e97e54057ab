export {
  estimateMemory,
  formatEstimate,
  nf4Bytes,
  availableMemoryBytes,
  EstimateError,
  METHODS,
  RUNTIME_BYTES,
  type Method,
  type EstimateOptions,
  type MemoryEstimate,
} from "./estimate.ts";
export { modelInventory, baseParameterCount, type ModelInventory, type LinearShape } from "./inventory.ts";
