// Hugging Face checkpoint folders: one `model.safetensors`, or shards listed by
// `model.safetensors.index.json` ({"metadata": {"total_parameters", "total_size"}, "weight_map": {tensor: shard}}).
//
// The reader prefers the single file when both exist, as transformers does, and checks an index fully on
// open (shards exist, are plain file names inside the folder, and hold every tensor mapped to them). The
// writer shards like transformers' save_pretrained: tensors in the given order, a new shard when the next
// tensor would pass maxShardBytes, a tensor larger than that alone in its own shard.

import * as fs from "node:fs";
import { basename, join } from "node:path";
import type { Tensor } from "../tensor/tensor.ts";
import { fsyncDir, writeFileAtomic, type AtomicOptions } from "./atomic.ts";
import { SafetensorsReader, streamedTensor, writeSafetensorsStreamed, type SafetensorsEntry, type StreamedTensor } from "./safetensors.ts";

export class CheckpointError extends Error {}

/** transformers' default max_shard_size, "5GB" (decimal). */
export const DEFAULT_MAX_SHARD_BYTES = 5_000_000_000;

export interface CheckpointEntry extends SafetensorsEntry {
  /** The safetensors file that holds the tensor. */
  file: string;
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(path, "utf8"));
  } catch (e) {
    throw new CheckpointError(`${path}: cannot read JSON: ${(e as Error).message}`);
  }
}

/** The weight_map of an index file, validated: tensor name → shard file name. */
function readWeightMap(indexPath: string): Map<string, string> {
  const index = readJson(indexPath) as { weight_map?: unknown } | null;
  const wm = index?.weight_map;
  if (typeof wm !== "object" || wm === null || Array.isArray(wm)) throw new CheckpointError(`${indexPath}: no "weight_map" object`);
  const map = new Map<string, string>();
  for (const [name, shard] of Object.entries(wm)) {
    // A shard must be a file in this folder: a path ("../x", "/etc/x") in a downloaded index is refused.
    if (typeof shard !== "string" || shard === "" || basename(shard) !== shard || shard === "." || shard === "..") {
      throw new CheckpointError(`${indexPath}: tensor "${name}" maps to ${JSON.stringify(shard)}, not a file name in the folder`);
    }
    map.set(name, shard);
  }
  return map;
}

export class CheckpointReader {
  readonly dir: string;
  readonly #where: Map<string, SafetensorsReader>;
  readonly #readers: SafetensorsReader[];

  private constructor(dir: string, where: Map<string, SafetensorsReader>, readers: SafetensorsReader[]) {
    this.dir = dir;
    this.#where = where;
    this.#readers = readers;
  }

  /** Opens `<dir>/model.safetensors`, or the shards of `<dir>/model.safetensors.index.json`. */
  static open(dir: string, weightsName = "model.safetensors"): CheckpointReader {
    const single = join(dir, weightsName);
    if (fs.existsSync(single)) {
      const r = SafetensorsReader.open(single);
      return new CheckpointReader(dir, new Map(r.names().map((n) => [n, r])), [r]);
    }
    const indexPath = join(dir, `${weightsName}.index.json`);
    if (!fs.existsSync(indexPath)) {
      const bin = fs.existsSync(join(dir, "pytorch_model.bin")) ? " (pytorch_model.bin is there: convert it to safetensors)" : "";
      throw new CheckpointError(`${dir}: neither ${weightsName} nor ${weightsName}.index.json found${bin}`);
    }
    return CheckpointReader.#openSharded(dir, indexPath);
  }

  static #openSharded(dir: string, indexPath: string): CheckpointReader {
    const weightMap = readWeightMap(indexPath);
    const shards = new Map<string, SafetensorsReader>();
    try {
      const where = new Map<string, SafetensorsReader>();
      for (const [name, shard] of weightMap) {
        let r = shards.get(shard);
        if (!r) {
          const path = join(dir, shard);
          if (!fs.existsSync(path)) throw new CheckpointError(`${indexPath}: shard ${shard} (tensor "${name}") does not exist`);
          r = SafetensorsReader.open(path);
          shards.set(shard, r);
        }
        if (!r.has(name)) throw new CheckpointError(`${indexPath}: tensor "${name}" is mapped to ${shard}, which does not contain it`);
        where.set(name, r);
      }
      return new CheckpointReader(dir, where, [...shards.values()]);
    } catch (e) {
      for (const r of shards.values()) r.close();
      throw e;
    }
  }

  names(): string[] {
    return [...this.#where.keys()];
  }

  has(name: string): boolean {
    return this.#where.has(name);
  }

  entry(name: string): CheckpointEntry {
    const r = this.#reader(name);
    return { ...r.entry(name), file: r.path };
  }

  read(name: string): Tensor {
    return this.#reader(name).read(name);
  }

  readAsFloat32(name: string): Tensor<"float32"> {
    return this.#reader(name).readAsFloat32(name);
  }

  /** Elements [start, start + dst.length) of a tensor in its stored dtype (SafetensorsReader.readInto). */
  readInto(name: string, start: number, dst: Float32Array | Uint16Array | Uint8Array): void {
    this.#reader(name).readInto(name, start, dst);
  }

  /** Bytes of tensor data over all names (what the index's total_size records). */
  totalBytes(): number {
    let n = 0;
    for (const [name, r] of this.#where) {
      const e = r.entry(name);
      n += e.end - e.begin;
    }
    return n;
  }

  close(): void {
    for (const r of this.#readers) r.close();
  }

  #reader(name: string): SafetensorsReader {
    const r = this.#where.get(name);
    if (!r) throw new CheckpointError(`${this.dir}: no tensor "${name}" in the checkpoint`);
    return r;
  }
}

export interface WriteCheckpointOptions extends AtomicOptions {
  /** Largest shard in bytes of tensor data (default 5 GB, as transformers). */
  maxShardBytes?: number;
  /** Added to {"format": "pt"} in every file's __metadata__. */
  metadata?: Record<string, string>;
  weightsName?: string;
}

/**
 * Writes `<dir>/model.safetensors`, or `model-0000i-of-0000n.safetensors` shards and then the index, each
 * file atomically; weight files of an earlier save that are not part of this one are removed last. For an
 * all-or-nothing folder save, write into createTempDirFor(dir) and commitDirAtomic it.
 *
 * Tensors are consumed as they come: each shard is written once full and then dropped, so a generator that
 * produces tensors on the fly (merged or converted weights) keeps at most one shard alive. Shards are
 * staged under temporary names because their final names need the shard count.
 */
export function writeCheckpoint(dir: string, tensors: Iterable<readonly [string, Tensor]>, options: WriteCheckpointOptions = {}): void {
  function* streamed(): Iterable<StreamedTensor> {
    for (const [name, t] of tensors) yield streamedTensor(dir, name, t);
  }
  writeCheckpointStreamed(dir, streamed(), options);
}

/**
 * writeCheckpoint for tensors whose bytes are produced while their shard is written (StreamedTensor):
 * nothing but the tensor list is held, so a checkpoint larger than memory can be written.
 */
export function writeCheckpointStreamed(dir: string, tensors: Iterable<StreamedTensor>, options: WriteCheckpointOptions = {}): void {
  const { maxShardBytes = DEFAULT_MAX_SHARD_BYTES, weightsName = "model.safetensors" } = options;
  if (!(maxShardBytes > 0)) throw new CheckpointError(`${dir}: maxShardBytes must be positive, got ${maxShardBytes}`);
  const stem = weightsName.replace(/\.safetensors$/, "");
  const metadata = { format: "pt", ...options.metadata };
  fs.mkdirSync(dir, { recursive: true });
  const staged: StagedShard[] = [];
  const stage = (shard: StreamedTensor[]): void => {
    const path = join(dir, `.${stem}.shard-${staged.length}.tmp`);
    writeSafetensorsStreamed(path, shard, metadata, options);
    staged.push({ path, tensors: shard.map((t) => ({ name: t.name, bytes: t.byteLength, numel: t.shape.reduce((a, b) => a * b, 1) })) });
  };
  try {
    // huggingface_hub's split_torch_state_dict_into_shards: a tensor over the limit gets a shard of its own
    // at once; otherwise the current shard is closed when the next tensor would push it past the limit.
    let current: StreamedTensor[] = [];
    let currentBytes = 0;
    const seen = new Set<string>();
    for (const t of tensors) {
      if (seen.has(t.name)) throw new CheckpointError(`${dir}: tensor "${t.name}" given twice`);
      seen.add(t.name);
      if (t.byteLength > maxShardBytes) {
        stage([t]);
        continue;
      }
      if (currentBytes + t.byteLength > maxShardBytes) {
        stage(current);
        current = [];
        currentBytes = 0;
      }
      current.push(t);
      currentBytes += t.byteLength;
    }
    if (current.length > 0 || staged.length === 0) stage(current);
  } catch (e) {
    for (const s of staged) fs.rmSync(s.path, { force: true });
    throw e;
  }
  finishShards(dir, stem, weightsName, staged, options);
}

interface StagedShard {
  path: string;
  tensors: { name: string; bytes: number; numel: number }[];
}

function finishShards(dir: string, stem: string, weightsName: string, staged: StagedShard[], options: AtomicOptions): void {
  const n = staged.length;
  const pad = (i: number): string => String(i).padStart(5, "0");
  const files = staged.map((_, i) => (n === 1 ? weightsName : `${stem}-${pad(i + 1)}-of-${pad(n)}.safetensors`));
  staged.forEach((s, i) => fs.renameSync(s.path, join(dir, files[i]!)));
  fsyncDir(fs, dir);
  const indexName = `${weightsName}.index.json`;
  if (n > 1) {
    // A stale single file would be loaded in preference to the new index: it goes before the index appears.
    fs.rmSync(join(dir, weightsName), { force: true });
    const weightMap: Record<string, string> = {};
    const totals = { total_parameters: 0, total_size: 0 };
    staged.forEach((s, i) => {
      for (const t of s.tensors) {
        weightMap[t.name] = files[i]!;
        totals.total_parameters += t.numel;
        totals.total_size += t.bytes;
      }
    });
    writeFileAtomic(join(dir, indexName), indexJson(totals, weightMap), options);
  }
  removeStale(dir, stem, weightsName, indexName, new Set(n > 1 ? [...files, indexName] : files));
}

/** Formats the index as transformers does: json.dumps(index, indent=2, sort_keys=True) + "\n". */
function indexJson(metadata: { total_parameters: number; total_size: number }, weightMap: Record<string, string>): string {
  const sorted = Object.fromEntries(Object.keys(weightMap).sort().map((k) => [k, weightMap[k]!]));
  return `${JSON.stringify({ metadata, weight_map: sorted }, null, 2)}\n`;
}

/** Removes weight files of an earlier save (single file, index, shards of another count) and staging leftovers. */
function removeStale(dir: string, stem: string, weightsName: string, indexName: string, keep: Set<string>): void {
  const esc = stem.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const ours = new RegExp(`^(${esc}-\\d{5}-of-\\d{5}\\.safetensors|\\.${esc}\\.shard-\\d+\\.tmp)$`);
  for (const name of fs.readdirSync(dir)) {
    if ((name === weightsName || name === indexName || ours.test(name)) && !keep.has(name)) fs.rmSync(join(dir, name), { force: true });
  }
}
