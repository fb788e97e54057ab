// Training checkpoints: OUT/checkpoint-<step>/ holds everything a resume needs to continue bit for bit:
// the weights (PEFT adapter files or a full model folder, plus the trainable tensors by name), the optimizer
// state (safetensors + JSON), the scheduler position, the data position and dropout stream, and the args.
// A checkpoint is written into a hidden temporary folder, fsynced and renamed into place in one step
// (commitDirAtomic), so a `checkpoint-<step>` folder is complete or absent; a kill mid-write leaves only
// the temporary folder, which the next run removes. Older checkpoints are deleted only after a newer one is
// in place, so the last finished checkpoint is never lost.

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { commitDirAtomic, createTempDirFor, writeFileAtomic } from "../io/atomic.ts";
import { SafetensorsReader, writeSafetensors } from "../io/safetensors.ts";
import { CheckpointReader } from "../io/checkpoint.ts";
import type { Optimizer, Schedule } from "../optim/index.ts";
import type { TrainingArgs } from "./args.ts";
import type { TrainableModel } from "./model.ts";
import { copyTokenizerFiles } from "../io/model-folder.ts";

export class CheckpointStateError extends Error {}

/** Where training stands after `step` optimizer steps. */
export interface TrainerState {
  /** Optimizer steps done. */
  step: number;
  /** Epoch of the next micro-batch. */
  epoch: number;
  /** Index of the next micro-batch in that epoch's order. */
  batchInEpoch: number;
  /** Position in the dropout seed stream (seeded with args.seed). */
  dropoutPosition: number;
  /** Input tokens processed so far. */
  tokensSeen: number;
  /** The running log window (so the first log line after a resume averages the same steps). */
  logWindow: { lossSum: number; steps: number; tokens: number; seconds: number };
}

const STATE_FILE = "trainer_state.json";
const TRAINABLE_FILE = "trainable.safetensors";
const OPTIMIZER_FILE = "optimizer.safetensors";
const OPTIMIZER_JSON = "optimizer.json";
const SCHEDULER_JSON = "scheduler.json";
const ARGS_JSON = "training_args.json";
const NAME = /^checkpoint-(\d+)$/;
const PREVIOUS = /^checkpoint-(\d+)\.previous$/;

export interface SaveInput {
  tm: TrainableModel;
  opt: Optimizer;
  schedule: Schedule;
  state: TrainerState;
  args: TrainingArgs;
}

/**
 * Test hook: PEFT_TS_TEST_KILL_IN_SAVE="<step>:<stage>" SIGKILLs this process while checkpoint <step> is
 * being written (stage: weights, optimizer or state: after that part is in the temporary folder).
 */
function testKillPoint(step: number, stage: string): void {
  const spec = process.env.PEFT_TS_TEST_KILL_IN_SAVE;
  if (spec && spec === `${step}:${stage}`) process.kill(process.pid, "SIGKILL");
}

export function checkpointDir(out: string, step: number): string {
  return join(out, `checkpoint-${step}`);
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Writes OUT/checkpoint-<step> atomically and returns its path. */
export function saveCheckpoint(out: string, s: SaveInput): string {
  mkdirSync(out, { recursive: true });
  const finalDir = checkpointDir(out, s.state.step);
  const tmp = createTempDirFor(finalDir);
  try {
    s.tm.saveWeights(tmp);
    if (s.tm.method !== "full") writeSafetensors(join(tmp, TRAINABLE_FILE), s.tm.params);
    copyTokenizerFiles(s.args.model, tmp);
    testKillPoint(s.state.step, "weights");
    const o = s.opt.state();
    writeSafetensors(join(tmp, OPTIMIZER_FILE), o.tensors);
    writeFileAtomic(join(tmp, OPTIMIZER_JSON), json(o.json));
    testKillPoint(s.state.step, "optimizer");
    writeFileAtomic(join(tmp, SCHEDULER_JSON), json({ ...s.schedule, last_step: s.state.step }));
    writeFileAtomic(join(tmp, ARGS_JSON), json(s.args));
    writeFileAtomic(join(tmp, STATE_FILE), json({ version: 1, ...s.state }));
    testKillPoint(s.state.step, "state");
    commitDirAtomic(tmp, finalDir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return finalDir;
}

/** Finished checkpoints in OUT, newest first (a `.previous` copy stands in when its folder is missing). */
export function listCheckpoints(out: string): { step: number; dir: string }[] {
  if (!existsSync(out)) return [];
  const found = new Map<number, string>();
  const names = readdirSync(out);
  for (const n of names) {
    const m = NAME.exec(n);
    if (m) found.set(Number(m[1]), join(out, n));
  }
  for (const n of names) {
    const m = PREVIOUS.exec(n);
    if (m && !found.has(Number(m[1]))) found.set(Number(m[1]), join(out, n));
  }
  return [...found].map(([step, dir]) => ({ step, dir })).sort((a, b) => b.step - a.step);
}

/** Removes temporary folders that a killed save left behind. */
export function removeStaleTemps(out: string): void {
  if (!existsSync(out)) return;
  for (const n of readdirSync(out)) if (/^\.checkpoint-\d+\.tmp-/.test(n)) rmSync(join(out, n), { recursive: true, force: true });
}

function readState(dir: string): TrainerState {
  const s = JSON.parse(readFileSync(join(dir, STATE_FILE), "utf8")) as TrainerState & { version?: number };
  if (s.version !== 1 || !Number.isInteger(s.step)) throw new CheckpointStateError(`${dir}/${STATE_FILE}: not a peft-ts trainer state`);
  return s;
}

/** The newest checkpoint whose state file reads back, or null. */
export function latestCheckpoint(out: string): { dir: string; state: TrainerState; args: Partial<TrainingArgs> } | null {
  for (const { dir } of listCheckpoints(out)) {
    try {
      const state = readState(dir);
      for (const f of [OPTIMIZER_FILE, OPTIMIZER_JSON]) if (!existsSync(join(dir, f))) throw new CheckpointStateError(`${dir}: ${f} missing`);
      const args = JSON.parse(readFileSync(join(dir, ARGS_JSON), "utf8")) as Partial<TrainingArgs>;
      return { dir, state, args };
    } catch {
      // unreadable: fall back to the next older one
    }
  }
  return null;
}

/**
 * Copies the checkpoint's trainable weights and optimizer state into the live model and optimizer, one
 * tensor at a time (a full fine-tuning state is never held twice).
 */
export function restoreCheckpoint(dir: string, tm: TrainableModel, opt: Optimizer): void {
  const weights = CheckpointReader.open(dir, tm.method === "full" ? "model.safetensors" : TRAINABLE_FILE);
  try {
    for (const [name, p] of tm.params) {
      const t = weights.has(name) ? weights.read(name) : null;
      if (!t || t.dtype !== "float32" || t.size !== p.size) throw new CheckpointStateError(`${dir}: trainable tensor "${name}" missing or of another shape`);
      (p.data as Float32Array).set(t.data as Float32Array);
    }
  } finally {
    weights.close();
  }
  const optJson = JSON.parse(readFileSync(join(dir, OPTIMIZER_JSON), "utf8")) as Record<string, unknown>;
  const state = SafetensorsReader.open(join(dir, OPTIMIZER_FILE));
  try {
    opt.loadState((name) => (state.has(name) ? state.read(name) : undefined), optJson);
  } finally {
    state.close();
  }
}

/** Deletes the oldest checkpoints beyond `limit` (0 = keep all); the newest is always kept. */
export function rotateCheckpoints(out: string, limit: number): void {
  if (limit <= 0) return;
  const all = listCheckpoints(out);
  for (const { dir } of all.slice(Math.max(1, limit))) rmSync(dir, { recursive: true, force: true });
}
