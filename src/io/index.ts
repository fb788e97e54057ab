export { AtomicWriteError, commitDirAtomic, createTempDirFor, openAtomic, writeFileAtomic, type AtomicFile, type AtomicFs, type AtomicOptions } from "./atomic.ts";
export { SafetensorsError, SafetensorsReader, writeSafetensors, writeSafetensorsStreamed, type SafetensorsEntry, type StreamedTensor, type TensorSource } from "./safetensors.ts";
export { CheckpointError, CheckpointReader, DEFAULT_MAX_SHARD_BYTES, writeCheckpoint, writeCheckpointStreamed, type CheckpointEntry, type WriteCheckpointOptions } from "./checkpoint.ts";
