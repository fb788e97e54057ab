// Helpers for the training tests: a tiny data file, the CLI as a subprocess, safetensors comparison.

import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SafetensorsReader } from "../../src/io/safetensors.ts";

export const LLAMA = "test/fixtures/models/llama";

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `peft-ts-${prefix}-`));
}

/** n short text lines in JSONL (a few dozen tokens each with the fixture tokenizer). */
export function writeTextData(dir: string, n: number, name = "data.jsonl"): string {
  const words = ["fox", "dog", "cat", "bird", "fish", "owl", "bee", "ant"];
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ text: `The ${words[i % 8]} number ${i} sees ${words[(i * 3) % 8]}s.` }));
  const path = join(dir, name);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/peft-ts.js ...args`; `onLine(line, kill)` sees each stdout line as it comes. */
export function runCli(
  args: string[],
  o: { env?: Record<string, string>; onLine?: (line: string, kill: (signal?: NodeJS.Signals) => void) => void } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["bin/peft-ts.js", ...args], { env: { ...process.env, ...o.env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let pending = "";
    const kill = (signal: NodeJS.Signals = "SIGKILL") => child.kill(signal);
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
      pending += d;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const l of lines) o.onLine?.(l, kill);
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Every tensor of a safetensors file as raw bytes, by name. */
export function tensorBytes(path: string): Map<string, Buffer> {
  const r = SafetensorsReader.open(path);
  try {
    return new Map(
      r.names().map((n) => {
        const d = r.read(n).data;
        return [n, Buffer.from(d.buffer, d.byteOffset, d.byteLength)];
      }),
    );
  } finally {
    r.close();
  }
}

/** Largest |a − b| over all float32 tensors of two safetensors files with the same names. */
export function maxDiffF32(a: string, b: string): number {
  const ra = SafetensorsReader.open(a);
  const rb = SafetensorsReader.open(b);
  let worst = 0;
  try {
    for (const n of ra.names()) {
      const x = ra.read(n).toFloat32();
      const y = rb.read(n).toFloat32();
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
    }
  } finally {
    ra.close();
    rb.close();
  }
  return worst;
}
