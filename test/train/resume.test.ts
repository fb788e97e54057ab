// Kill-and-resume: training subprocesses killed with SIGKILL (inside a checkpoint write, through the
// PEFT_TS_TEST_KILL_IN_SAVE hook, and from outside mid-step), then resumed with --resume, end with the same
// bits as an uninterrupted run, the same per-step metrics, and never lose a finished checkpoint.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { readMetrics } from "../../src/train/metrics.ts";
import { latestCheckpoint } from "../../src/train/checkpoints.ts";
import { LLAMA, maxDiffF32, runCli, tempDir, tensorBytes, writeTextData } from "./helpers.ts";

function assertSameTensors(a: string, b: string): void {
  const x = tensorBytes(a);
  const y = tensorBytes(b);
  assert.deepEqual([...x.keys()].sort(), [...y.keys()].sort());
  const diff = maxDiffF32(a, b);
  assert.ok(diff <= 1e-6, `max |Δ| ${diff} between ${a} and ${b}`);
  for (const [n, bytes] of x) assert.ok(bytes.equals(y.get(n)!), `${n}: not bit-identical (max |Δ| ${diff})`);
}

/** Metrics without timing and memory: what must be identical between runs. */
function trajectory(out: string): string[] {
  return readMetrics(join(out, "metrics.jsonl")).map((l) => JSON.stringify({ step: l.step, epoch: l.epoch, loss: l.loss, lr: l.lr, grad_norm: l.grad_norm, eval_loss: l.eval_loss }));
}

function checkpointSteps(out: string): number[] {
  return readdirSync(out)
    .map((n) => /^checkpoint-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

describe("kill and resume", () => {
  it("LoRA with dropout: killed inside a checkpoint write and mid-step, resumed twice, ends bit-identical", async () => {
    const dir = tempDir("resume-lora");
    const data = writeTextData(dir, 14);
    const evalData = writeTextData(dir, 3, "eval.jsonl");
    const common = [
      "train", "--model", LLAMA, "--data", data, "--eval-data", evalData, "--method", "lora", "--r", "4", "--alpha", "8", "--dropout", "0.1",
      "--lr", "2e-3", "--batch-size", "2", "--grad-accum", "2", "--max-steps", "12", "--warmup-steps", "2", "--scheduler", "cosine",
      "--weight-decay", "0.01", "--max-grad-norm", "0.5", "--save-every", "3", "--eval-every", "4", "--seed", "7", "--log-every", "1",
    ];
    const ref = join(dir, "ref");
    const r0 = await runCli([...common, "--out", ref]);
    assert.equal(r0.code, 0, r0.stderr);

    const out = join(dir, "run");
    // 1) SIGKILL while checkpoint-6 is being written (its optimizer state is in the temporary folder)
    const r1 = await runCli([...common, "--out", out], { env: { PEFT_TS_TEST_KILL_IN_SAVE: "6:optimizer" } });
    assert.equal(r1.signal, "SIGKILL", `expected a kill, got code ${r1.code}: ${r1.stderr}`);
    assert.deepEqual(checkpointSteps(out), [3], "checkpoint-3 survives, checkpoint-6 never appears half-written");
    assert.ok(readdirSync(out).some((n) => n.startsWith(".checkpoint-6.tmp-")), "the killed write left its temporary folder");
    assert.equal(latestCheckpoint(out)?.state.step, 3);

    // 2) resume; SIGKILL from outside once step 8 has been reported
    let killedAt = 0;
    const r2 = await runCli([...common, "--out", out, "--resume"], {
      onLine: (line, kill) => {
        const m = /^step (\d+)\/12/.exec(line);
        if (m && Number(m[1]) >= 8 && !killedAt) {
          killedAt = Number(m[1]);
          kill();
        }
      },
    });
    assert.equal(r2.signal, "SIGKILL", r2.stderr);
    assert.match(r2.stdout, /resuming from .*checkpoint-3 \(step 3\)/);
    assert.ok(!readdirSync(out).some((n) => n.startsWith(".checkpoint-6.tmp-")), "the stale temporary folder was removed");
    const latest = latestCheckpoint(out)!;
    assert.ok(latest.state.step >= 6, `a checkpoint from the resumed run exists (latest ${latest.state.step})`);

    // 3) resume to the end
    const r3 = await runCli([...common, "--out", out, "--resume"]);
    assert.equal(r3.code, 0, r3.stderr);
    assert.match(r3.stdout, new RegExp(`resuming from .*checkpoint-${latest.state.step} `));

    assertSameTensors(join(out, "adapter_model.safetensors"), join(ref, "adapter_model.safetensors"));
    assertSameTensors(join(out, `checkpoint-9`, "optimizer.safetensors"), join(ref, `checkpoint-9`, "optimizer.safetensors"));
    assert.deepEqual(trajectory(out), trajectory(ref), "metrics.jsonl: same steps, losses, lrs, norms and eval losses");
    assert.deepEqual(checkpointSteps(out), checkpointSteps(ref));
  });

  it("full fine-tuning: killed after the weights of a checkpoint are written, resumed, ends bit-identical", async () => {
    const dir = tempDir("resume-full");
    const data = writeTextData(dir, 8);
    const common = ["train", "--model", LLAMA, "--data", data, "--method", "full", "--lr", "1e-3", "--batch-size", "2", "--max-steps", "6", "--save-every", "2", "--save-total-limit", "1", "--seed", "1"];
    const ref = join(dir, "ref");
    assert.equal((await runCli([...common, "--out", ref])).code, 0);
    const out = join(dir, "run");
    const r1 = await runCli([...common, "--out", out], { env: { PEFT_TS_TEST_KILL_IN_SAVE: "4:weights" } });
    assert.equal(r1.signal, "SIGKILL");
    assert.deepEqual(checkpointSteps(out), [2], "the last finished checkpoint is kept");
    const r2 = await runCli([...common, "--out", out, "--resume"]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.deepEqual(checkpointSteps(out), [6], "--save-total-limit 1 keeps only the newest finished checkpoint, the last step's");
    assertSameTensors(join(out, "model.safetensors"), join(ref, "model.safetensors"));
    assert.ok(existsSync(join(out, "config.json")) && existsSync(join(out, "tokenizer.json")));
  });

  it("8-bit AdamW, full fine-tuning: killed inside a checkpoint write, resumed, ends bit-identical with its 8-bit state", async () => {
    const dir = tempDir("resume-adamw8bit");
    const data = writeTextData(dir, 8);
    // full fine-tuning of the fixture: the embedding and MLP weights get 8-bit states, the norms float32 ones
    const common = ["train", "--model", LLAMA, "--data", data, "--method", "full", "--optimizer", "adamw8bit", "--lr", "1e-3", "--weight-decay", "0.01",
      "--batch-size", "2", "--max-steps", "6", "--save-every", "2", "--seed", "3", "--log-every", "1"];
    const ref = join(dir, "ref");
    assert.equal((await runCli([...common, "--out", ref])).code, 0);
    const out = join(dir, "run");
    const r1 = await runCli([...common, "--out", out], { env: { PEFT_TS_TEST_KILL_IN_SAVE: "4:optimizer" } });
    assert.equal(r1.signal, "SIGKILL");
    assert.deepEqual(checkpointSteps(out), [2]);
    const r2 = await runCli([...common, "--out", out, "--resume"]);
    assert.equal(r2.code, 0, r2.stderr);
    assertSameTensors(join(out, "model.safetensors"), join(ref, "model.safetensors"));
    assertSameTensors(join(out, "checkpoint-6", "optimizer.safetensors"), join(ref, "checkpoint-6", "optimizer.safetensors"));
    const state = tensorBytes(join(out, "checkpoint-6", "optimizer.safetensors"));
    assert.ok(state.has("state1.model.embed_tokens.weight") && state.has("absmax2.model.layers.0.mlp.up_proj.weight"), "8-bit states were saved");
    assert.deepEqual(trajectory(out), trajectory(ref));
  });

  it("Ctrl-C stops after the current step with a checkpoint; --resume ends bit-identical", async () => {
    const dir = tempDir("resume-sigint");
    const data = writeTextData(dir, 8);
    const common = ["train", "--model", LLAMA, "--data", data, "--method", "lora", "--r", "4", "--dropout", "0.1", "--batch-size", "2", "--max-steps", "6", "--lr", "3e-3", "--log-every", "1"];
    const ref = join(dir, "ref");
    assert.equal((await runCli([...common, "--out", ref])).code, 0);
    const out = join(dir, "run");
    let sent = false;
    const r1 = await runCli([...common, "--out", out], {
      onLine: (line, kill) => {
        if (!sent && /^step 2\/6/.test(line)) {
          sent = true;
          kill("SIGINT");
        }
      },
    });
    assert.equal(r1.code, 1, r1.stderr);
    const m = /interrupted after step (\d+); checkpoint-\1 is in/.exec(r1.stderr);
    assert.ok(m, r1.stderr);
    assert.deepEqual(checkpointSteps(out), [Number(m[1])]);
    const r2 = await runCli([...common, "--out", out, "--resume"]);
    assert.equal(r2.code, 0, r2.stderr);
    assertSameTensors(join(out, "adapter_model.safetensors"), join(ref, "adapter_model.safetensors"));
    assert.deepEqual(trajectory(out), trajectory(ref));
  });

  it("refuses to start a fresh run over existing checkpoints", async () => {
    const dir = tempDir("resume-refuse");
    const data = writeTextData(dir, 4);
    const args = ["train", "--model", LLAMA, "--data", data, "--method", "full", "--batch-size", "2", "--max-steps", "2", "--save-every", "1", "--out", join(dir, "o")];
    assert.equal((await runCli(args)).code, 0);
    const r = await runCli(args);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already holds checkpoints: pass --resume/);
  });
});
