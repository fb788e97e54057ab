export { parseConfig, ConfigError, SUPPORTED_ARCHITECTURES, type ModelConfig, type Architecture } from "./config.ts";
export { CausalLM, type ModelInput, type ModelOutput } from "./causal-lm.ts";
export { KVCache } from "./kv-cache.ts";
export { buildModel } from "./build.ts";
export { loadModel, loadConfig, type LoadOptions } from "./load.ts";
export { NamedWeights, RandomWeights, WeightError, type WeightSource, type StoragePolicy } from "./weights.ts";
