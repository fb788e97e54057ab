// What the user sees while training: on a terminal a progress bar (step, loss, ETA, tokens/s, memory,
// lr, epoch) fitted to the terminal's width, with messages printed above it; otherwise one plain line per
// log step. At the end, one line with the time taken and the mean throughput.

import cliProgress from "cli-progress";
import type { StepInfo, TrainCallbacks, TrainResult } from "./trainer.ts";

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 9.95) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : m > 0 ? `${m}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

export function formatStep(i: StepInfo, eta: number): string {
  return (
    `step ${i.step}/${i.totalSteps} | epoch ${i.epoch.toFixed(2)} | loss ${i.loss.toFixed(4)} | lr ${i.lr.toExponential(2)} | ` +
    `grad ${i.gradNorm.toFixed(3)} | ${Math.round(i.tokensPerSecond)} tok/s | ETA ${formatDuration(eta)} | rss ${Math.round(i.rssMb)} MB` +
    (i.skipped ? " | skipped" : "")
  );
}

/** The bar's fields, most useful first: when the terminal is narrow the last ones are dropped first. */
export function barFields(i: StepInfo, eta: number): string[] {
  return [
    `loss ${i.loss.toFixed(4)}${i.skipped ? " (skipped)" : ""}`,
    `ETA ${formatDuration(eta)}`,
    `${Math.round(i.tokensPerSecond)} tok/s`,
    `${Math.round(i.rssMb)} MB`,
    `lr ${i.lr.toExponential(2)}`,
    `epoch ${i.epoch.toFixed(2)}`,
  ];
}

const BAR_WIDTHS = [24, 16, 10];

/**
 * One progress line no wider than `width`: the widest bar with every field that fits, dropping fields
 * from the end of `fields` first and narrowing the bar only when just the first field is left.
 */
export function fitBarLine(step: number, total: number, fields: string[], width: number): string {
  const line = (bar: number, n: number) => {
    const filled = total > 0 ? Math.round((bar * step) / total) : 0;
    return [`${"█".repeat(filled)}${"░".repeat(bar - filled)} ${step}/${total}`, ...fields.slice(0, n)].join(" | ");
  };
  for (let n = fields.length; n >= 1; n--) if (line(BAR_WIDTHS[0]!, n).length <= width) return line(BAR_WIDTHS[0]!, n);
  for (const bar of BAR_WIDTHS.slice(1)) if (line(bar, 1).length <= width) return line(bar, 1);
  return `${step}/${total} | ${fields[0] ?? ""}`.slice(0, Math.max(1, width));
}

/** The closing line: steps, time, mean throughput, losses, where the result is. */
export function formatFinish(r: TrainResult): string {
  const steps = r.steps - r.startStep;
  const evalLoss = r.evalLoss !== null ? `, eval loss ${r.evalLoss.toFixed(4)}` : "";
  const evalTime = r.evalSeconds > 0 ? ` (+${formatDuration(r.evalSeconds)} evaluating)` : "";
  if (steps === 0) return `done: all ${r.steps} steps were done before${evalLoss}; result in ${r.out}`;
  const tps = r.trainSeconds > 0 ? Math.round(r.tokens / r.trainSeconds).toLocaleString("en-US") : "?";
  return `done: ${steps} steps in ${formatDuration(r.trainSeconds)}${evalTime}, ${tps} tokens/s mean, last loss ${r.loss.toFixed(4)}${evalLoss}; result in ${r.out}`;
}

/**
 * Callbacks that render progress on `stream` (a bar on a TTY, lines every `logEvery` steps otherwise);
 * `label` goes in front of every line (the demo's method names).
 */
export function progressReporter(stream: NodeJS.WriteStream, logEvery: number, label = ""): TrainCallbacks & { stop(): void } {
  const tty = stream.isTTY === true;
  const prefix = label ? `${label}: ` : "";
  let bars: cliProgress.MultiBar | null = null;
  let bar: cliProgress.Bar | null = null;
  let started = 0;
  let firstStep = 0;
  const say = (text: string) => (bars ? bars.log(`${prefix}${text}\n`) : stream.write(`${prefix}${text}\n`));
  return {
    onLog: say,
    onStart(info) {
      firstStep = info.startStep;
      started = performance.now();
      if (info.startStep >= info.totalSteps) say(`training: all ${info.totalSteps} steps were done before; writing the result`);
      else say(`training: ${info.examples} examples${info.evalExamples ? `, ${info.evalExamples} for evaluation` : ""}, steps ${info.startStep + 1}..${info.totalSteps}`);
      if (!tty) return;
      // cli-progress cuts every line at the terminal's width (80 columns when it cannot tell): the line
      // is fitted to that width here, so what is left out is chosen rather than cut off.
      const format = (_o: unknown, params: { value: number; total: number }, payload: Record<string, unknown>) =>
        prefix + fitBarLine(params.value, params.total, (payload.fields as string[] | undefined) ?? ["starting"], (stream.columns ?? 80) - 1 - prefix.length);
      bars = new cliProgress.MultiBar({ stream, hideCursor: true, format });
      bar = bars.create(info.totalSteps, info.startStep, { fields: ["starting"] });
    },
    onStep(i) {
      const perStep = (performance.now() - started) / 1000 / Math.max(1, i.step - firstStep);
      const eta = perStep * (i.totalSteps - i.step);
      if (bar) bar.update(i.step, { fields: barFields(i, eta) });
      else if (i.step % logEvery === 0 || i.step === i.totalSteps) say(formatStep(i, eta));
    },
    onEval(e) {
      say(`eval at step ${e.step}: loss ${e.loss.toFixed(4)}, perplexity ${e.perplexity.toFixed(3)}`);
    },
    onCheckpoint(c) {
      say(`saved ${c.dir} (step ${c.step})`);
    },
    stop() {
      bars?.update(); // flushes messages logged since the last redraw
      bars?.stop();
      bars = null;
      bar = null;
    },
  };
}
