export { AtomicWriteError, commitDirAtomic, createTempDirFor, openAtomic, writeFileAtomic, type AtomicFile, type AtomicFs, type AtomicOptions } from "./atomic.ts";
export { SafetensorsError, SafetensorsReader, writeSafetensors, type SafetensorsEntry, type TensorSource } from "./safetensors.ts";
export { CheckpointError, CheckpointReader, DEFAULT_MAX_SHARD_BYTES, writeCheckpoint, type CheckpointEntry, type WriteCheckpointOptions } from "./checkpoint.ts";
