// peft-ts's public API: what `import … from "peft-ts"` gives. Each module's own index has the rest.

export { loadModel, loadConfig, parseConfig, buildModel, CausalLM, SUPPORTED_ARCHITECTURES, type LoadOptions, type ModelConfig } from "./models/index.ts";
export { Tokenizer, type ChatMessage } from "./tokenizer/index.ts";
export { generate, type GenerateOptions } from "./infer/generate.ts";
export {
  getPeftModel,
  loadPeftModel,
  applyAdapterFromDir,
  PeftModel,
  saveMergedModel,
  type LoraConfig,
  type ExportOptions,
} from "./peft/index.ts";
export { train, Trainer, evaluate, type TrainingArgs, type TrainCallbacks, type TrainResult, type Method } from "./train/index.ts";
export { loadDataset, DATA_FORMATS, DataError } from "./train/data/index.ts";
export { quantizeTensor, dequantizeTensor, type QuantType } from "./quant/index.ts";
export { saveQuantizedModel } from "./quant/save.ts";
export { estimateMemory, formatEstimate, type MemoryEstimate } from "./memory/index.ts";
export { setBackend, backend, nativeAvailable, type BackendName } from "./backend/index.ts";
