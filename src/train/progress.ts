// What the user sees while training: on a terminal a progress bar (step, epoch, loss, lr, tokens/s, ETA,
// resident memory) with messages printed above it; otherwise one plain line per log step.

import cliProgress from "cli-progress";
import type { StepInfo, TrainCallbacks } from "./trainer.ts";

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
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

/** Callbacks that render progress on `stream` (a bar on a TTY, lines every `logEvery` steps otherwise). */
export function progressReporter(stream: NodeJS.WriteStream, logEvery: number): TrainCallbacks & { stop(): void } {
  const tty = stream.isTTY === true;
  let bars: cliProgress.MultiBar | null = null;
  let bar: cliProgress.Bar | null = null;
  let started = 0;
  let firstStep = 0;
  const say = (text: string) => (bars ? bars.log(`${text}\n`) : stream.write(`${text}\n`));
  return {
    onLog: say,
    onStart(info) {
      firstStep = info.startStep;
      started = performance.now();
      if (info.startStep >= info.totalSteps) say(`training: all ${info.totalSteps} steps were done before; writing the result`);
      else say(`training: ${info.examples} examples${info.evalExamples ? `, ${info.evalExamples} for evaluation` : ""}, steps ${info.startStep + 1}..${info.totalSteps}`);
      if (!tty) return;
      bars = new cliProgress.MultiBar(
        {
          stream,
          hideCursor: true,
          format: "{bar} {value}/{total} | epoch {epoch} | loss {loss} | lr {lr} | {tps} tok/s | ETA {left} | {rss} MB",
          barsize: 24,
        },
        cliProgress.Presets.shades_classic,
      );
      bar = bars.create(info.totalSteps, info.startStep, { epoch: "0.00", loss: "-", lr: "-", tps: "-", left: "?", rss: "-" });
    },
    onStep(i) {
      const perStep = (performance.now() - started) / 1000 / Math.max(1, i.step - firstStep);
      const eta = perStep * (i.totalSteps - i.step);
      if (bar) {
        bar.update(i.step, {
          epoch: i.epoch.toFixed(2),
          loss: i.loss.toFixed(4),
          lr: i.lr.toExponential(2),
          tps: Math.round(i.tokensPerSecond),
          left: formatDuration(eta),
          rss: Math.round(i.rssMb),
        });
      } else if (i.step % logEvery === 0 || i.step === i.totalSteps) {
        say(formatStep(i, eta));
      }
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
