// TrainingArgs: defaults, validation naming the field, config files in YAML/JSON with any key style.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolveArgs, readConfigFile, normaliseKeys, TrainingArgsError, DEFAULT_ARGS } from "../../src/train/args.ts";
import { tempDir } from "./helpers.ts";

const base = { model: "m", data: "d.jsonl" };

describe("TrainingArgs", () => {
  it("fills defaults", () => {
    const a = resolveArgs(base);
    assert.equal(a.method, DEFAULT_ARGS.method);
    assert.equal(a.lr, 2e-4);
    assert.equal(a.gradientCheckpointing, "auto");
    assert.equal(a.maxSteps, null);
  });
  for (const [field, value, pattern] of [
    ["lr", -1, /lr must be a positive number, got -1/],
    ["batchSize", 0, /batchSize must be a positive integer/],
    ["gradAccum", 1.5, /gradAccum must be a positive integer/],
    ["method", "prefix", /method must be one of full, lora, qlora/],
    ["scheduler", "step", /scheduler must be one of constant, linear, cosine/],
    ["loraDropout", 1, /loraDropout must be in \[0, 1\)/],
    ["format", "csv", /format must be one of auto, text/],
    ["maxSteps", 0, /maxSteps must be a positive integer/],
  ] as const) {
    it(`rejects ${field} = ${JSON.stringify(value)} naming the field`, () => {
      assert.throws(() => resolveArgs({ ...base, [field]: value }), (e: Error) => e instanceof TrainingArgsError && pattern.test(e.message));
    });
  }
  it("requires model and data, rejects unknown fields and contradictions", () => {
    assert.throws(() => resolveArgs({ data: "d" }), /model must be a non-empty string/);
    assert.throws(() => resolveArgs({ ...base, learningRate: 1 } as never), /unknown field "learningRate"/);
    assert.throws(() => resolveArgs({ ...base, evalData: "e", valSplit: 0.1 }), /either evalData or valSplit/);
    assert.throws(() => resolveArgs({ ...base, nesterov: true }), /nesterov needs optimizer sgd/);
  });
  it("coerces strings from flags and YAML", () => {
    const a = resolveArgs({ ...base, lr: "1e-3", maxSteps: "20", resume: "true", loraTargetModules: "q_proj, v_proj", gradientCheckpointing: "false" } as never);
    assert.equal(a.lr, 1e-3);
    assert.equal(a.maxSteps, 20);
    assert.equal(a.resume, true);
    assert.deepEqual(a.loraTargetModules, ["q_proj", "v_proj"]);
    assert.equal(a.gradientCheckpointing, false);
  });
  it("reads YAML and JSON config files with kebab, snake and camel keys and aliases", () => {
    const dir = tempDir("args");
    const yaml = join(dir, "c.yaml");
    writeFileSync(yaml, "model: m\ndata: d.jsonl\nmax-steps: 5\nbatch_size: 2\nwarmupSteps: 1\nr: 16\nalpha: 32\ntarget-modules: [q_proj, k_proj]\n");
    const a = resolveArgs(readConfigFile(yaml).values);
    assert.deepEqual([a.maxSteps, a.batchSize, a.warmupSteps, a.loraR, a.loraAlpha], [5, 2, 1, 16, 32]);
    assert.deepEqual(a.loraTargetModules, ["q_proj", "k_proj"]);
    const json = join(dir, "c.json");
    writeFileSync(json, JSON.stringify({ model: "m", data: "d", "learning-rate": 1 }));
    assert.equal(resolveArgs(readConfigFile(json).values).lr, 1, "TrainingArguments' name is accepted");
    assert.deepEqual(normaliseKeys({ "grad-accum": 4 }, "x").values, { gradAccum: 4 });
  });
});
