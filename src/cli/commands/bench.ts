// `peft-ts bench`: performance measurements. A command group; each benchmark is one subcommand.
//   bench gemm --m M --n N --k K [--threads T] [--layout nt|nn|tn] [--b f32|bf16|nf4] [--compute-dtype D] [--cpu-time] [--json]
//   bench gemm-shapes [--threads T] [--cpu-time] [--json]
//   bench train, bench lora-overhead (src/bench/train.ts, src/bench/lora-overhead.ts)
//   bench all: the set BENCHMARKS.md quotes, each in its own process so peak memory is its own

import { Command, InvalidArgumentError, Option } from "commander";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { benchGemm, gemmShapes, type GemmBenchResult, type GemmBType, type GemmLayout } from "../../bench/gemm.ts";
import type { ComputeDtype } from "../../backend/kernels.ts";
import { registerBenchTrain } from "../../bench/train.ts";
import { registerBenchLoraOverhead } from "../../bench/lora-overhead.ts";
import { registerBenchLoad } from "../../bench/load.ts";

const CPU_TIME = "time by the process's CPU time instead of the wall clock (robust on a loaded machine; use with --threads 1)";

interface GemmOptions {
  threads?: number;
  cpuTime?: boolean;
  json?: boolean;
}

function clock(o: GemmOptions): "wall" | "cpu" {
  return o.cpuTime ? "cpu" : "wall";
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be a positive integer");
  return n;
}

function line(r: GemmBenchResult): string {
  const compute = r.computeDtype === "float32" ? {} : { compute_dtype: r.computeDtype };
  return JSON.stringify({ m: r.m, n: r.n, k: r.k, layout: r.layout, b: r.b, ...compute, gflops: +r.gflops.toFixed(2), threads: r.threads });
}

function describeResult(r: GemmBenchResult): string {
  return `gemm ${r.layout} m=${r.m} n=${r.n} k=${r.k} b=${r.b}${r.computeDtype === "float32" ? "" : ` ${r.computeDtype} operands`} threads=${r.threads}: ${r.gflops.toFixed(1)} GFLOP/s (median of ${r.runs} runs, ${r.medianMs.toFixed(3)} ms)`;
}

function registerGemm(bench: Command): void {
  bench
    .command("gemm")
    .description("GFLOP/s of one native matrix product C[m, n] = op(A)[m, k]·op(B)[k, n] (median of ≥ 7 runs)")
    .requiredOption("--m <M>", "rows of C", positiveInt)
    .requiredOption("--n <N>", "columns of C", positiveInt)
    .requiredOption("--k <K>", "length of the sums", positiveInt)
    .option("--threads <T>", "native threads (default: all cores or PEFT_TS_THREADS)", positiveInt)
    .addOption(new Option("--layout <layout>", "nt = X·Wᵀ (forward), nn = dY·W, tn = dYᵀ·X").choices(["nt", "nn", "tn"]).default("nt"))
    .addOption(new Option("--b <type>", "storage of B").choices(["f32", "bf16", "nf4"]).default("f32"))
    .addOption(new Option("--compute-dtype <dtype>", "operands of the product (bfloat16: rounded to bf16, float32 sums)").choices(["float32", "bfloat16"]).default("float32"))
    .option("--cpu-time", CPU_TIME)
    .option("--json", "print one JSON line")
    .action((o: GemmOptions & { m: number; n: number; k: number; layout: GemmLayout; b: GemmBType; computeDtype: ComputeDtype }) => {
      const r = benchGemm({ m: o.m, n: o.n, k: o.k, layout: o.layout, b: o.b, computeDtype: o.computeDtype, threads: o.threads, clock: clock(o) });
      console.log(o.json ? line(r) : describeResult(r));
    });
}

function registerGemmShapes(bench: Command): void {
  bench
    .command("gemm-shapes")
    .description("GFLOP/s of the products of an LLM training step (forward, input and weight gradients), 1024³, generation, NF4 and bf16 weights")
    .option("--threads <T>", "native threads (default: all cores or PEFT_TS_THREADS)", positiveInt)
    .option("--cpu-time", CPU_TIME)
    .option("--json", "print one JSON line per product (with its name)")
    .action((o: GemmOptions) => {
      const f32 = new Map<string, number>();
      if (!o.json) console.log(`${"product".padEnd(40)} layout ${"M".padStart(6)} ${"N".padStart(6)} ${"K".padStart(6)}  GFLOP/s  vs f32`);
      for (const { name, options } of gemmShapes()) {
        const r = benchGemm({ ...options, threads: o.threads, clock: clock(o) });
        const key = `${r.layout} ${r.m} ${r.n} ${r.k}`;
        if (r.b === "f32") f32.set(key, r.gflops);
        const base = f32.get(key);
        if (o.json) {
          console.log(JSON.stringify({ name, ...JSON.parse(line(r)) }));
        } else {
          const ratio = r.b !== "f32" && base ? `${(r.gflops / base).toFixed(2)}×` : "";
          console.log(`${name.padEnd(40)} ${r.layout.padEnd(6)} ${String(r.m).padStart(6)} ${String(r.n).padStart(6)} ${String(r.k).padStart(6)} ${r.gflops.toFixed(1).padStart(8)}  ${ratio}`);
        }
      }
    });
}

const BIN = fileURLToPath(new URL("../../../bin/peft-ts.js", import.meta.url));

/** What `bench all` (`npm run bench`) runs: the products, training throughput per method, LoRA's overhead. */
const ALL: string[][] = [
  ["gemm-shapes"],
  ["train", "--preset", "tiny", "--method", "full"],
  ["train", "--preset", "tiny", "--method", "lora"],
  ["train", "--preset", "tiny", "--method", "qlora"],
  ["train", "--preset", "smollm2-135m", "--layers", "8", "--method", "lora"],
  ["train", "--preset", "smollm2-135m", "--layers", "8", "--method", "qlora"],
  ...[["full"], ["lora"], ["lora", "--base-dtype", "bfloat16"], ["qlora"]].map((m) => [
    "train", "--preset", "qwen2.5-0.5b", "--batch", "1", "--seq", "256", "--steps", "3", "--warmup", "1", "--method", ...m,
  ]),
  ["lora-overhead", "--layers", "8"],
  ["load", "--preset", "smollm2-135m"],
];

function registerAll(bench: Command): void {
  bench
    .command("all")
    .description("the benchmarks BENCHMARKS.md quotes, one process each (several minutes)")
    .action(() => {
      for (const args of ALL) {
        process.stdout.write(`\n$ peft-ts bench ${args.join(" ")}\n`);
        const r = spawnSync(process.execPath, [BIN, "bench", ...args], { stdio: ["ignore", "inherit", "ignore"] });
        if (r.status !== 0) throw new Error(`bench ${args.join(" ")} failed (exit ${r.status ?? r.signal})`);
      }
    });
}

export function register(program: Command): void {
  const bench = program.command("bench").description("performance measurements");
  registerGemm(bench);
  registerGemmShapes(bench);
  registerBenchTrain(bench);
  registerBenchLoraOverhead(bench);
  registerBenchLoad(bench);
  registerAll(bench);
}
