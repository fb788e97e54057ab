// PEFT_TS_PROFILE=1: time spent in each backend kernel, printed to stderr at exit. Products are split by
// their operand layout, which tells the three products of a linear layer apart (NT: forward Y = X·Wᵀ,
// NN: input gradient dX = dY·W, TN: weight gradient dW = dYᵀ·X) and by the weight's storage (f32, bf16,
// quantized; "·bf16" when the operands are rounded to bf16), with achieved GFLOP/s. The active backend's
// kernel table is wrapped in place, so every op that calls backend().<kernel> is measured; nothing changes
// when the variable is unset.

import { performance } from "node:perf_hooks";
import { backend } from "../backend/index.ts";
import type { Backend, GemmArgs } from "../backend/kernels.ts";

interface Entry {
  calls: number;
  ms: number;
  flops: number;
}

const table = new Map<string, Entry>();
let installed = false;

function gemmKey(a: GemmArgs): string {
  const layout = `${a.transA ? "T" : "N"}${a.transB ? "T" : "N"}`;
  const b = a.b.kind === "quant" ? a.b.q.type : a.b.kind;
  return `gemm ${layout} ${b}${a.computeDtype === "bfloat16" ? "·bf16" : ""}${a.batch ? " batched" : ""}`;
}

function add(key: string, ms: number, flops: number): void {
  const e = table.get(key) ?? { calls: 0, ms: 0, flops: 0 };
  e.calls++;
  e.ms += ms;
  e.flops += flops;
  table.set(key, e);
}

/** Wraps the active backend's kernels (idempotent). Returns false when profiling is off. */
export function installProfiler(force = false): boolean {
  if (installed) return true;
  if (!force && process.env.PEFT_TS_PROFILE !== "1") return false;
  installed = true;
  const be = backend() as unknown as Record<string, unknown>;
  for (const [name, fn] of Object.entries(be)) {
    if (typeof fn !== "function") continue;
    const f = fn as (...args: unknown[]) => unknown;
    be[name] = (...args: unknown[]) => {
      const t0 = performance.now();
      const r = f(...args);
      const ms = performance.now() - t0;
      if (name === "gemm") {
        const g = args[0] as GemmArgs;
        add(gemmKey(g), ms, 2 * g.M * g.N * g.K * (g.batch?.count ?? 1));
      } else add(name, ms, 0);
      return r;
    };
  }
  process.on("exit", () => process.stderr.write(profileReport()));
  return true;
}

export function resetProfile(): void {
  table.clear();
}

/** Adds a timed phase (forward, backward, optimizer...) to the report. */
export function recordPhase(name: string, ms: number): void {
  if (installed) add(`[phase] ${name}`, ms, 0);
}

export function profileReport(): string {
  const rows = [...table].sort((a, b) => b[1].ms - a[1].ms);
  const kernelMs = rows.filter(([k]) => !k.startsWith("[phase]")).reduce((s, [, e]) => s + e.ms, 0);
  const lines = [`peft-ts profile (${(backend() as Backend).name} backend): ${kernelMs.toFixed(0)} ms in kernels`];
  lines.push(`${"kernel".padEnd(28)} ${"calls".padStart(8)} ${"ms".padStart(10)} ${"%".padStart(6)} ${"GFLOP/s".padStart(8)}`);
  for (const [k, e] of rows) {
    const pct = k.startsWith("[phase]") ? "" : ((100 * e.ms) / kernelMs).toFixed(1);
    const gf = e.flops > 0 ? (e.flops / (e.ms * 1e6)).toFixed(1) : "";
    lines.push(`${k.padEnd(28)} ${String(e.calls).padStart(8)} ${e.ms.toFixed(1).padStart(10)} ${pct.padStart(6)} ${gf.padStart(8)}`);
  }
  return `${lines.join("\n")}\n`;
}
