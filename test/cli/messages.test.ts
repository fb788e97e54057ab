// What a person sees when something is off: flags and config keys named as they were written, the value
// quoted; a mistyped flag answered in three lines; the names other trainers use accepted or pointed to;
// folders that are missing or of the wrong kind said to be so; no empty output folder left behind; a
// result folder holding one result; a resume with other settings refused until asked for; folders made
// with the user's umask; help texts grouped, each default once and the same across commands.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { normaliseKeys, resolveArgs, readConfigFile, DEFAULT_ARGS } from "../../src/train/args.ts";
import { LLAMA, runCli, tempDir, writeTextData } from "../train/helpers.ts";

describe("number flags and config values", () => {
  it("name the flag as written and quote the value", async () => {
    const r = await runCli(["train", "--model", LLAMA, "--data", "d.jsonl", "--max-steps", "ten"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'peft-ts: train: --max-steps must be a positive integer, got "ten"\n');
    const alias = await runCli(["train", "--model", LLAMA, "--data", "d.jsonl", "--learning-rate", "fast"]);
    assert.equal(alias.stderr, 'peft-ts: train: --learning-rate must be a positive number, got "fast"\n');
  });
  it("name the config key as written, with its file", () => {
    const dir = tempDir("msg-yaml");
    const yaml = join(dir, "run.yaml");
    writeFileSync(yaml, 'model: m\ndata: d.jsonl\nmax_steps: "ten"\n');
    const given = readConfigFile(yaml);
    assert.throws(() => resolveArgs(given.values, given.names), { message: `config file ${yaml}: max_steps must be a positive integer, got "ten"` });
    writeFileSync(yaml, "model: m\ndata: d.jsonl\nbatch-size: 1.5\n");
    const b = readConfigFile(yaml);
    assert.throws(() => resolveArgs(b.values, b.names), { message: `config file ${yaml}: batch-size must be a positive integer, got 1.5` });
  });
});

describe("a mistyped flag", () => {
  it("prints the error, the suggestion and one line pointing to --help, not the help", async () => {
    const r = await runCli(["train", "--max-step", "10"]);
    assert.equal(r.code, 1);
    assert.deepEqual(r.stderr.trimEnd().split("\n"), ["error: unknown option '--max-step'", "(Did you mean --max-steps?)", "(peft-ts train --help lists its options)"]);
    assert.equal(r.stdout, "");
  });
});

describe("names from transformers, PEFT, TRL and axolotl", () => {
  it("are accepted where they mean the same", () => {
    const g = normaliseKeys(
      { learning_rate: 1e-3, num_train_epochs: 2, per_device_train_batch_size: 8, gradient_accumulation_steps: 4, lora_r: 16, lora_alpha: 32, max_seq_length: 256, packing: true, output_dir: "o", lr_scheduler_type: "cosine", save_steps: 10 },
      "x",
    );
    assert.deepEqual(g.values, { lr: 1e-3, epochs: 2, batchSize: 8, gradAccum: 4, loraR: 16, loraAlpha: 32, maxSeqLen: 256, pack: true, out: "o", scheduler: "cosine", saveEvery: 10 });
    assert.equal(g.names.lr, "x: learning_rate");
  });
  it("are pointed to the peft-ts name where they do not, and typos get a suggestion in the user's spelling", () => {
    assert.throws(() => normaliseKeys({ optim: "adamw_torch" }, "c.yaml"), /c\.yaml: unknown key "optim"; peft-ts calls it optimizer \(adamw, adamw8bit or sgd/);
    assert.throws(() => normaliseKeys({ warmup_ratio: 0.1 }, "c.yaml"), /peft-ts calls it warmup_steps \(a number of optimizer steps\)/);
    assert.throws(() => normaliseKeys({ max_step: 3 }, "c.yaml"), /unknown key "max_step"; did you mean max_steps\?/);
    assert.throws(() => normaliseKeys({ "batch-sise": 3 }, "c.yaml"), /did you mean batch-size\?/);
    assert.throws(() => normaliseKeys({ lr: 1, learning_rate: 2 }, "c.yaml"), /c\.yaml: lr and learning_rate are the same setting; give one/);
  });
  it("as flags too: --warmup-ratio points to --warmup-steps", async () => {
    const r = await runCli(["train", "--model", LLAMA, "--data", "d.jsonl", "--warmup-ratio", "0.1"]);
    assert.equal(r.stderr, 'peft-ts: train: unknown option "--warmup-ratio"; peft-ts calls it --warmup-steps (a number of optimizer steps)\n');
  });
  it("work as flags: --learning-rate, --lora-r, --per-device-train-batch-size", async () => {
    const dir = tempDir("msg-alias");
    const out = join(dir, "out");
    const r = await runCli(["train", "--model", LLAMA, "--data", writeTextData(dir, 4), "--learning-rate", "0.01", "--lora-r", "4", "--per-device-train-batch-size", "2", "--max-steps", "1", "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    const args = JSON.parse(readFileSync(join(out, "training_args.json"), "utf8"));
    assert.deepEqual([args.lr, args.loraR, args.batchSize], [0.01, 4, 2]);
  });
});

describe("folders", () => {
  it("a missing model folder is said to be missing, and no output folder is made", async () => {
    const dir = tempDir("msg-missing");
    const out = join(dir, "out");
    const r = await runCli(["train", "--model", join(dir, "nothere"), "--data", "d.jsonl", "--out", out]);
    assert.equal(r.stderr, `peft-ts: --model ${join(dir, "nothere")}: no such folder\n`);
    assert.ok(!existsSync(out));
    const e = await runCli(["eval", "--model", join(dir, "nothere"), "--data", "d.jsonl"]);
    assert.match(e.stderr, /--model .*nothere: no such folder/);
  });
  it("an adapter folder given as --model gets the base it names", async () => {
    const adapter = join(tempDir("msg-adapter"), "my-lora");
    mkdirSync(adapter);
    writeFileSync(join(adapter, "adapter_config.json"), JSON.stringify({ peft_type: "LORA", base_model_name_or_path: "Qwen/Qwen2.5-0.5B" }));
    const r = await runCli(["generate", "--model", adapter, "--prompt", "x"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `peft-ts: --model ${adapter} is a PEFT adapter folder, not a model: give its base model as --model (the adapter names Qwen/Qwen2.5-0.5B) and this folder as --adapter\n`);
    const m = await runCli(["eval", "--model", LLAMA, "--adapter", LLAMA, "--data", "d.jsonl"]);
    assert.match(m.stderr, /--adapter test\/fixtures\/models\/llama is a full model folder/);
  });
  it("a run that fails before writing removes the output folder it made, not one that was there", async () => {
    const dir = tempDir("msg-fail");
    const out = join(dir, "new");
    const r = await runCli(["train", "--model", LLAMA, "--data", join(dir, "missing.jsonl"), "--out", out]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /missing\.jsonl/);
    assert.ok(!existsSync(out), "the empty folder it made is gone");
    const kept = join(dir, "kept");
    mkdirSync(kept);
    await runCli(["train", "--model", LLAMA, "--data", join(dir, "missing.jsonl"), "--out", kept]);
    assert.ok(existsSync(kept), "a folder that existed before stays");
  });
  it("an output folder holds one result: a full run replaces an adapter left there", async () => {
    const dir = tempDir("msg-one");
    const data = writeTextData(dir, 4);
    const out = join(dir, "out");
    const common = ["--model", LLAMA, "--data", data, "--max-steps", "1", "--batch-size", "2", "--out", out];
    assert.equal((await runCli(["train", ...common, "--method", "lora"])).code, 0);
    assert.ok(existsSync(join(out, "adapter_model.safetensors")));
    const full = await runCli(["train", ...common, "--method", "full"]);
    assert.equal(full.code, 0, full.stderr);
    assert.match(full.stdout, /removed adapter_config\.json, adapter_model\.safetensors of an earlier run/);
    assert.ok(existsSync(join(out, "model.safetensors")));
    assert.deepEqual(readdirSync(out).filter((f) => f.startsWith("adapter_")), []);
    const back = await runCli(["train", ...common, "--method", "lora"]);
    assert.match(back.stdout, /removed config\.json, model\.safetensors of an earlier run/);
    assert.ok(!existsSync(join(out, "model.safetensors")) && existsSync(join(out, "adapter_model.safetensors")));
  });
  it("--out may not be the model folder", async () => {
    const r = await runCli(["train", "--model", LLAMA, "--data", "d.jsonl", "--out", LLAMA]);
    assert.match(r.stderr, /--out test\/fixtures\/models\/llama is the model folder itself/);
  });
});

describe("--resume with other settings", () => {
  it("says what changed and continues only with --allow-changed-args", async () => {
    const dir = tempDir("msg-resume");
    const out = join(dir, "out");
    const common = ["--model", LLAMA, "--data", writeTextData(dir, 4), "--max-steps", "2", "--batch-size", "2", "--save-every", "1", "--out", out];
    assert.equal((await runCli(["train", ...common, "--lr", "0.001"])).code, 0);
    const refused = await runCli(["train", ...common, "--lr", "0.002", "--resume"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /--resume: .*checkpoint-2 was trained with other settings \(lr 0\.001 → 0\.002\); pass --allow-changed-args/);
    assert.doesNotMatch(refused.stdout, /trainable params/, "refused before the model is loaded");
    const allowed = await runCli(["train", ...common, "--lr", "0.002", "--max-steps", "3", "--resume", "--allow-changed-args"]);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stdout, /resuming with changed settings \(lr 0\.001 → 0\.002, max-steps 2 → 3\)/);
  });
});

describe("permissions", () => {
  it("training, checkpoint, merged and quantized folders all get the user's umask", () => {
    const dir = tempDir("msg-umask");
    const data = writeTextData(dir, 4);
    const node = `"${process.execPath}" bin/peft-ts.js`;
    const script = [
      "umask 027",
      `${node} train --model ${LLAMA} --data ${data} --max-steps 1 --batch-size 2 --save-every 1 --out ${dir}/run`,
      `${node} merge --model ${LLAMA} --adapter ${dir}/run --out ${dir}/merged`,
      `${node} quantize --model ${LLAMA} --out ${dir}/nf4`,
    ].join(" && ");
    const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    for (const d of ["run", "run/checkpoint-1", "merged", "nf4"]) assert.equal((statSync(join(dir, d)).mode & 0o777).toString(8), "750", d);
    assert.equal((statSync(join(dir, "merged", "model.safetensors")).mode & 0o777).toString(8), "640");
  });
});

describe("help texts", () => {
  it("train --help groups the options, essentials first, each default once", async () => {
    const h = (await runCli(["train", "--help"])).stdout;
    const headings = h.split("\n").filter((l) => /^[A-Z][a-z ]+:$/.test(l));
    assert.deepEqual(headings, ["Model and method:", "Data:", "Schedule:", "Output and checkpoints:", "Optimizer:", "Memory and speed:", "Options:", "Example:"]);
    const firstGroup = h.slice(h.indexOf("Model and method:"), h.indexOf("Data:"));
    for (const flag of ["--model", "--method", "--r", "--target-modules"]) assert.ok(firstGroup.includes(`  ${flag} `), flag);
    assert.match(h.replace(/\s+/g, " "), /--target-modules <names> .*\(default: all-linear\)/);
    assert.doesNotMatch(h.replace(/\s+/g, " "), /\(default: [^)]*\) \(default:/);
    assert.match(h, /CSV and Parquet are not read/);
  });
  it("eval and estimate take train's defaults", async () => {
    const e = (await runCli(["eval", "--help"])).stdout.replace(/\s+/g, " ");
    assert.match(e, new RegExp(`--max-seq-len <n> .*\\(default: "${DEFAULT_ARGS.maxSeqLen}"\\)`));
    assert.doesNotMatch(e, /\(default: [^)]*\) \(default:/);
    const est = await runCli(["estimate", "--model", LLAMA]);
    assert.match(est.stdout, new RegExp(`batch ${DEFAULT_ARGS.batchSize} × ${DEFAULT_ARGS.maxSeqLen} tokens, LoRA r=${DEFAULT_ARGS.loraR}`));
  });
  it("the memory estimate before training has a heading and explains the margin", async () => {
    const dir = tempDir("msg-estimate");
    const r = await runCli(["train", "--model", LLAMA, "--data", writeTextData(dir, 4), "--max-steps", "1", "--out", join(dir, "out")]);
    assert.match(r.stdout, /^Memory estimate for this run \(lora, batch 4 × 512 tokens, LoRA r=8, adamw, frozen base float32\):$/m);
    assert.match(r.stdout, /^fits: .* available to this process \(free memory plus what it already holds\), less .* kept for the system \(5% of RAM, at least 256 MiB\)$/m);
  });
});
