// The training loop, as a straight line (nanoGPT's train.py, mlx-lm's trainer): per optimizer step
// schedule → forward + backward over the accumulated micro-batches → clip → optimizer step → zero grads,
// then log, evaluate or checkpoint on `step % n`. Setup (data, model, memory plan, resume) and reporting
// live in small methods around it. Each step runs inside scope(), so memory is flat from step 2.
//
// Exact resume: data order is a pure function of (seed, epoch), the dropout seed stream position and the
// optimizer state are saved in each checkpoint, and every reduction is deterministic, so a run killed at
// any point and resumed from its last checkpoint ends with the same bits as the uninterrupted run.

import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { scope } from "../tensor/storage.ts";
import { withComputeDtype } from "../ops/index.ts";
import type { ComputeDtype } from "../backend/kernels.ts";
import { dropoutSeeds } from "../util/random.ts";
import { loadConfig } from "../models/index.ts";
import { Tokenizer } from "../tokenizer/index.ts";
import { AdamW, AdamW8bit, SGD, clipGradNorm, gradNorm, lrAt, type Optimizer, type Schedule } from "../optim/index.ts";
import { backend } from "../backend/index.ts";
import { nativeAddon } from "../backend/native/index.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { kebabKey, resolveArgs, type TrainingArgs } from "./args.ts";
import { BatchStream } from "./batches.ts";
import { latestCheckpoint, removeStaleTemps, listCheckpoints, restoreCheckpoint, rotateCheckpoints, saveCheckpoint, type TrainerState } from "./checkpoints.ts";
import { loadDataset, collate, epochOrder, splitValidation, packExamples, type Example, type DataFormat } from "./data/index.ts";
import { evaluate, type EvalResult } from "./evaluate.ts";
import { planMemory } from "./memory-guard.ts";
import { appendMetrics, metricRows, readMetrics, truncateMetrics, type MetricsLine } from "./metrics.ts";
import { prepareModel, removeOtherResult, type TrainableModel } from "./model.ts";
import { copyTokenizerFiles } from "../io/model-folder.ts";
import { accumulateGradients } from "./step.ts";
import { chooseComputeDtype } from "./compute-dtype.ts";
import { installProfiler } from "./profile.ts";
import { writeReport } from "./report.ts";
import { runSettings, runTitle } from "./report/settings.ts";
import { checkModelFolder } from "../models/folder-check.ts";

export class NonFiniteError extends Error {}
/** The run was stopped through TrainInputs.signal; a checkpoint of the last finished step was written. */
export class TrainingInterrupted extends Error {}
export class TrainingSetupError extends Error {}

export interface StepInfo {
  step: number;
  totalSteps: number;
  /** Fractional epochs completed. */
  epoch: number;
  /** Mean loss of this step's effective batch. */
  loss: number;
  lr: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Input tokens in this step. */
  tokens: number;
  tokensPerSecond: number;
  rssMb: number;
  /** Wall time of this step. */
  seconds: number;
  /** The step's loss or gradients were not finite and it was skipped (skipNonFinite). */
  skipped: boolean;
}

export interface TrainCallbacks {
  /** Human-readable messages: the memory table, the parameter report, notices. */
  onLog?(message: string): void;
  onStart?(info: {
    startStep: number;
    totalSteps: number;
    resumedFrom: string | null;
    examples: number;
    evalExamples: number;
    paramsTrainable: number;
    paramsTotal: number;
  }): void;
  onStep?(info: StepInfo): void;
  onEval?(info: { step: number; loss: number; perplexity: number }): void;
  onCheckpoint?(info: { step: number; dir: string }): void;
}

/** What the API may hand in instead of files: pre-tokenized examples, an already prepared model. */
export interface TrainInputs {
  examples?: Example[];
  evalExamples?: Example[];
  model?: TrainableModel;
  padId?: number;
  /** Aborting stops after the current step, saves a checkpoint of it, and rejects with TrainingInterrupted. */
  signal?: AbortSignal;
}

export interface TrainResult {
  steps: number;
  /** The step this run started from (0, or the checkpoint's step on a resume). */
  startStep: number;
  /** Wall time of this run's optimizer steps (evaluation not included). */
  trainSeconds: number;
  /** Wall time of this run's evaluations. */
  evalSeconds: number;
  /** Input tokens of this run's steps. */
  tokens: number;
  /** Loss of the last step. */
  loss: number;
  evalLoss: number | null;
  out: string;
  metricsPath: string;
}

interface Run {
  tm: TrainableModel;
  opt: Optimizer;
  stream: BatchStream;
  schedule: Schedule;
  state: TrainerState;
  evalExamples: Example[];
  padId: number;
  computeDtype: ComputeDtype;
}

export class Trainer {
  readonly args: TrainingArgs;
  readonly metricsPath: string;
  #lastEval: EvalResult | null = null;
  #timing = { trainSeconds: 0, evalSeconds: 0, tokens: 0 };
  /** This run made the output folder (so a run that fails before writing anything removes it). */
  #createdOut = false;

  constructor(
    args: Partial<TrainingArgs> & Pick<TrainingArgs, "model" | "data">,
    readonly callbacks: TrainCallbacks = {},
    readonly inputs: TrainInputs = {},
  ) {
    this.args = resolveArgs(args);
    this.metricsPath = join(this.args.out, "metrics.jsonl");
  }

  async train(): Promise<TrainResult> {
    try {
      return await this.run();
    } catch (e) {
      if (this.#createdOut && existsSync(this.args.out) && readdirSync(this.args.out).length === 0) rmSync(this.args.out, { recursive: true, force: true });
      throw e;
    }
  }

  private async run(): Promise<TrainResult> {
    const a = this.args;
    const run = await this.setup();
    const startStep = run.state.step;
    const { tm, opt, stream, schedule } = run;
    let state = run.state;
    let last: StepInfo | null = null;
    tm.net.train();
    while (state.step < schedule.totalSteps) {
      const t0 = performance.now();
      const info = scope(() => {
        opt.lr = lrAt(state.step, schedule); // 1) schedule
        const batches = stream.nextWindow(a.gradAccum); // 2) next micro-batches
        const { loss, tokens } = withComputeDtype(run.computeDtype, () => accumulateGradients(tm.net, batches)); // 3) forward + backward, accumulated
        const norm = a.maxGradNorm > 0 ? clipGradNorm(tm.params, a.maxGradNorm) : gradNorm(tm.params); // 4) clip
        const finite = Number.isFinite(loss) && Number.isFinite(norm);
        if (!finite) this.nonFinite(state.step + 1, loss, norm); // throws unless skipNonFinite
        if (finite) opt.step(); // 5) optimizer step
        opt.zeroGrad(); // 6) zero grads
        return { loss, tokens, norm, lr: opt.lr, skipped: !finite };
      });
      const seconds = (performance.now() - t0) / 1000;
      this.#timing.trainSeconds += seconds;
      this.#timing.tokens += info.tokens;
      state = this.advance(state, stream, info.loss, info.tokens, seconds, info.skipped);
      last = this.stepInfo(state, schedule, stream, info, seconds);
      this.callbacks.onStep?.(last);
      if (state.step % a.logEvery === 0) state = this.log(state, last);
      if (a.evalEvery > 0 && state.step % a.evalEvery === 0) this.evaluate(run, state.step);
      // As transformers' Trainer: with checkpoints on, the last step is one too, so a kill while the final
      // result is written, or a --resume of a finished run, loses nothing.
      if (a.saveEvery > 0 && (state.step % a.saveEvery === 0 || state.step === schedule.totalSteps)) this.checkpoint(run, state);
      await new Promise<void>((resolve) => setImmediate(resolve)); // let the progress bar and signals run
      if (this.inputs.signal?.aborted && state.step < schedule.totalSteps) this.interrupt(run, state);
    }
    if (run.evalExamples.length > 0 && (a.evalEvery === 0 || state.step % a.evalEvery !== 0)) this.evaluate(run, state.step);
    this.saveFinal(run, state);
    return {
      steps: state.step,
      startStep,
      ...this.#timing,
      loss: last?.loss ?? this.lastLoggedLoss(),
      evalLoss: this.#lastEval?.loss ?? null,
      out: a.out,
      metricsPath: this.metricsPath,
    };
  }

  // ---- setup ------------------------------------------------------------------------------------------

  private async setup(): Promise<Run> {
    const a = this.args;
    if (a.threads !== null && backend().name === "native") nativeAddon()!.setThreads(a.threads); // backend() loads the library
    installProfiler(); // PEFT_TS_PROFILE=1
    if (!this.inputs.model) checkModelFolder(a.model);
    this.prepareOut();
    const found = a.resume ? latestCheckpoint(a.out) : null;
    if (found) this.checkChangedArgs(found.dir, found.args); // before anything is loaded
    const { examples, evalExamples, padId } = this.loadExamples();
    const tm = this.inputs.model ?? (await this.loadTrainable());
    if (this.inputs.model && a.gradientCheckpointing === true) tm.base.gradientCheckpointing = true;
    this.callbacks.onLog?.(tm.report);
    const compute = chooseComputeDtype(a.computeDtype, tm.base.config);
    for (const note of compute.notes) this.callbacks.onLog?.(note);
    const opt = this.makeOptimizer(tm);
    const stream = new BatchStream({ epochOrder, collate }, examples, a.batchSize, a.seed, padId);
    const totalSteps = a.maxSteps ?? a.epochs * stream.stepsPerEpoch(a.gradAccum);
    const schedule: Schedule = { name: a.scheduler, lr: a.lr, warmupSteps: a.warmupSteps, totalSteps };
    dropoutSeeds.reseed(a.seed);
    const state = this.resume(tm, opt, stream);
    this.callbacks.onStart?.({ startStep: state.step, totalSteps, resumedFrom: this.resumedFrom, examples: examples.length, evalExamples: evalExamples.length,
      paramsTrainable: tm.paramsTrainable, paramsTotal: tm.paramsTotal });
    return { tm, opt, stream, schedule, state, evalExamples, padId, computeDtype: compute.dtype };
  }

  private resumedFrom: string | null = null;

  /** Clears leftovers of killed saves; refuses to mix a fresh run into a folder that holds checkpoints. */
  private prepareOut(): void {
    const a = this.args;
    if (resolve(a.out) === resolve(a.model)) throw new TrainingSetupError(`--out ${a.out} is the model folder itself; choose another output folder`);
    this.#createdOut = !existsSync(a.out);
    mkdirSync(a.out, { recursive: true });
    removeStaleTemps(a.out);
    if (!a.resume && listCheckpoints(a.out).length > 0) {
      throw new TrainingSetupError(`${a.out} already holds checkpoints: pass --resume to continue that run, or choose another --out`);
    }
  }

  private loadExamples(): { examples: Example[]; evalExamples: Example[]; padId: number } {
    const a = this.args;
    const needTokenizer = !this.inputs.examples || this.inputs.padId === undefined || (a.evalData !== null && !this.inputs.evalExamples);
    const tok = needTokenizer ? Tokenizer.fromDir(a.model) : null;
    const opts = { maxSeqLen: a.maxSeqLen, format: a.format as DataFormat | "auto", trainOnPrompt: a.trainOnPrompt, system: a.system, addEos: true, onInfo: this.callbacks.onLog };
    let examples = this.inputs.examples ?? loadDataset(a.data, tok!, opts);
    let evalExamples = this.inputs.evalExamples ?? (a.evalData !== null ? loadDataset(a.evalData, tok!, opts) : []);
    if (!this.inputs.evalExamples && a.valSplit > 0) ({ train: examples, eval: evalExamples } = splitValidation(examples, a.valSplit, a.seed));
    if (a.pack) examples = packExamples(examples, a.maxSeqLen);
    const padId = this.inputs.padId ?? tok?.padTokenId ?? tok?.eosTokenId ?? 0;
    return { examples, evalExamples, padId };
  }

  private async loadTrainable(): Promise<TrainableModel> {
    const a = this.args;
    const plan = planMemory(loadConfig(a.model), a);
    if (plan.text) this.callbacks.onLog?.(plan.text);
    const tm = await prepareModel(a);
    tm.base.gradientCheckpointing = plan.gradientCheckpointing;
    return tm;
  }

  private makeOptimizer(tm: TrainableModel): Optimizer {
    const a = this.args;
    if (a.optimizer === "sgd") return new SGD(tm.params, { lr: a.lr, momentum: a.momentum, nesterov: a.nesterov, weightDecay: a.weightDecay });
    const adam = { lr: a.lr, betas: [a.adamBeta1, a.adamBeta2] as const, eps: a.adamEps, weightDecay: a.weightDecay };
    return a.optimizer === "adamw8bit" ? new AdamW8bit(tm.params, adam) : new AdamW(tm.params, adam);
  }

  /** A fresh state, or the latest complete checkpoint's (weights, optimizer, data position, dropout stream). */
  private resume(tm: TrainableModel, opt: Optimizer, stream: BatchStream): TrainerState {
    const fresh: TrainerState = { step: 0, epoch: 0, batchInEpoch: 0, dropoutPosition: 0, tokensSeen: 0, logWindow: { lossSum: 0, steps: 0, tokens: 0, seconds: 0 } };
    if (!this.args.resume) {
      rmSync(this.metricsPath, { force: true });
      return fresh;
    }
    const found = latestCheckpoint(this.args.out);
    if (!found) {
      this.callbacks.onLog?.(`--resume: no complete checkpoint in ${this.args.out}; starting from step 0`);
      rmSync(this.metricsPath, { force: true });
      return fresh;
    }
    restoreCheckpoint(found.dir, tm, opt);
    stream.position = { epoch: found.state.epoch, batchInEpoch: found.state.batchInEpoch };
    dropoutSeeds.position = found.state.dropoutPosition;
    truncateMetrics(this.metricsPath, found.state.step);
    this.resumedFrom = found.dir;
    this.callbacks.onLog?.(`resuming from ${found.dir} (step ${found.state.step})`);
    return found.state;
  }

  /**
   * Args that change what a resumed run computes: a difference means it will not match the original, so
   * it is refused, naming each change, unless allowChangedArgs says it is meant.
   */
  private checkChangedArgs(dir: string, saved: Partial<TrainingArgs>): void {
    const keys: (keyof TrainingArgs)[] = ["model", "data", "method", "lr", "batchSize", "gradAccum", "maxSeqLen", "seed", "scheduler", "warmupSteps", "maxSteps", "epochs", "optimizer", "weightDecay", "maxGradNorm", "loraR", "loraAlpha", "format", "system", "pack", "trainOnPrompt", "computeDtype"];
    const changed = keys.filter((k) => k in saved && JSON.stringify(saved[k]) !== JSON.stringify(this.args[k]));
    if (changed.length === 0) return;
    const list = changed.map((k) => `${kebabKey(k)} ${JSON.stringify(saved[k])} → ${JSON.stringify(this.args[k])}`).join(", ");
    if (!this.args.allowChangedArgs) {
      throw new TrainingSetupError(`--resume: ${dir} was trained with other settings (${list}); pass --allow-changed-args to continue with the new ones, or choose another --out for a fresh run`);
    }
    this.callbacks.onLog?.(`resuming with changed settings (${list}); the run will differ from an uninterrupted one`);
  }

  // ---- per step -----------------------------------------------------------------------------------------

  private nonFinite(step: number, loss: number, norm: number): void {
    const what = !Number.isFinite(loss) ? `loss is ${loss}` : `gradient norm is ${norm}`;
    if (this.args.skipNonFinite) {
      this.callbacks.onLog?.(`step ${step}: ${what}; step skipped (--skip-non-finite)`);
      return;
    }
    const last = listCheckpoints(this.args.out)[0];
    throw new NonFiniteError(
      `step ${step}: ${what}; training stopped. ${last ? `The last good checkpoint is ${last.dir} (continue with --resume, perhaps with a lower --lr).` : "No checkpoint was written yet."} ` +
        "Pass --skip-non-finite to skip such steps instead.",
    );
  }

  private advance(s: TrainerState, stream: BatchStream, loss: number, tokens: number, seconds: number, skipped: boolean): TrainerState {
    const w = s.logWindow;
    return {
      step: s.step + 1,
      epoch: stream.position.epoch,
      batchInEpoch: stream.position.batchInEpoch,
      dropoutPosition: dropoutSeeds.position,
      tokensSeen: s.tokensSeen + tokens,
      logWindow: skipped ? w : { lossSum: w.lossSum + loss, steps: w.steps + 1, tokens: w.tokens + tokens, seconds: w.seconds + seconds },
    };
  }

  private stepInfo(s: TrainerState, schedule: Schedule, stream: BatchStream, r: { loss: number; tokens: number; norm: number; lr: number; skipped: boolean }, seconds: number): StepInfo {
    return {
      step: s.step,
      totalSteps: schedule.totalSteps,
      epoch: stream.epochProgress,
      loss: r.loss,
      lr: r.lr,
      gradNorm: r.norm,
      tokens: r.tokens,
      tokensPerSecond: r.tokens / seconds,
      rssMb: process.memoryUsage.rss() / 2 ** 20,
      seconds,
      skipped: r.skipped,
    };
  }

  /** Appends the log window's averages to metrics.jsonl and starts a new window. */
  private log(s: TrainerState, info: StepInfo): TrainerState {
    const w = s.logWindow;
    const line: MetricsLine = {
      step: s.step,
      epoch: round(info.epoch, 4),
      loss: w.steps > 0 ? w.lossSum / w.steps : NaN,
      lr: info.lr,
      grad_norm: info.gradNorm,
      tokens_per_second: w.seconds > 0 ? round(w.tokens / w.seconds, 2) : 0,
      rss_mb: round(info.rssMb, 1),
      ...(info.skipped ? { skipped: true } : {}),
    };
    appendMetrics(this.metricsPath, line);
    return { ...s, logWindow: { lossSum: 0, steps: 0, tokens: 0, seconds: 0 } };
  }

  private evaluate(run: Run, step: number): void {
    if (run.evalExamples.length === 0) return;
    const seeds = dropoutSeeds.position;
    const t0 = performance.now();
    const r = withComputeDtype(run.computeDtype, () => evaluate(run.tm.net, run.evalExamples, { batchSize: this.args.batchSize, padId: run.padId }));
    this.#timing.evalSeconds += (performance.now() - t0) / 1000;
    dropoutSeeds.position = seeds;
    this.#lastEval = r;
    appendMetrics(this.metricsPath, { step, epoch: round(run.stream.epochProgress, 4), eval_loss: r.loss, eval_perplexity: r.perplexity });
    this.callbacks.onEval?.({ step, loss: r.loss, perplexity: r.perplexity });
  }

  private interrupt(run: Run, state: TrainerState): never {
    const done = listCheckpoints(this.args.out)[0]?.step === state.step;
    if (!done) this.checkpoint(run, state);
    throw new TrainingInterrupted(`interrupted after step ${state.step}; checkpoint-${state.step} is in ${this.args.out}: continue with --resume`);
  }

  private checkpoint(run: Run, state: TrainerState): void {
    const dir = saveCheckpoint(this.args.out, { tm: run.tm, opt: run.opt, schedule: run.schedule, state, args: this.args });
    rotateCheckpoints(this.args.out, this.args.saveTotalLimit);
    this.callbacks.onCheckpoint?.({ step: state.step, dir });
  }

  /** OUT/report.html: the curves of metrics.jsonl and the run's configuration. */
  private writeRunReport(out: string): void {
    const metrics = metricRows(readMetrics(this.metricsPath));
    try {
      writeReport(out, { title: runTitle(this.args), config: runSettings(this.args), metrics });
    } catch (e) {
      this.callbacks.onLog?.(`report.html not written: ${(e as Error).message}`);
    }
  }

  /** The loss of the last metrics line: what a resumed run that had no step left to take reports. */
  private lastLoggedLoss(): number {
    const logged = existsSync(this.metricsPath) ? readMetrics(this.metricsPath).filter((l) => l.loss !== undefined) : [];
    return logged.at(-1)?.loss ?? NaN;
  }

  /** The result in OUT as PEFT / transformers lay it out, the tokenizer beside it, and the report. */
  private saveFinal(run: Run, state: TrainerState): void {
    const out = this.args.out;
    run.tm.saveWeights(out);
    // a folder holds one result: what an earlier run of the other kind left would shadow this one
    const removed = removeOtherResult(out, run.tm.method);
    if (removed.length > 0) this.callbacks.onLog?.(`${out}: removed ${removed.join(", ")} of an earlier run (an output folder holds one result)`);
    if (existsSync(join(this.args.model, "tokenizer.json")) || existsSync(join(this.args.model, "tokenizer_config.json"))) copyTokenizerFiles(this.args.model, out);
    writeFileAtomic(join(out, "training_args.json"), `${JSON.stringify(this.args, null, 2)}\n`);
    writeFileAtomic(join(out, "trainer_state.json"), `${JSON.stringify({ version: 1, final: true, ...state }, null, 2)}\n`);
    this.callbacks.onCheckpoint?.({ step: state.step, dir: out });
    this.writeRunReport(out);
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Runs one training run to the end (see Trainer). */
export function train(
  args: Partial<TrainingArgs> & Pick<TrainingArgs, "model" | "data">,
  callbacks: TrainCallbacks = {},
  inputs: TrainInputs = {},
): Promise<TrainResult> {
  return new Trainer(args, callbacks, inputs).train();
}
