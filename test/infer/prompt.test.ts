// Generation speaks the training format: the prompt generate builds for --format alpaca / chat (with
// --system) is token for token the prompt part of the training example its record becomes, special
// tokens stay out of the text, and the run ends with mlx_lm.generate's numbers.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer } from "../../src/tokenizer/index.ts";
import { loadDataset, type Example } from "../../src/train/data/index.ts";
import { promptIds } from "../../src/infer/prompt.ts";
import { StreamDecoder } from "../../src/cli/commands/generate.ts";
import { IGNORE_INDEX } from "../../src/ops/loss.ts";
import { runCli, tempDir } from "../train/helpers.ts";

const DEMO = "assets/brown-llama";
const QWEN = "test/fixtures/models/qwen2";

/** The ids before the first one that takes the loss: what the model saw before its answer. */
function promptPart(e: Example): number[] {
  const first = e.labels.findIndex((l, i) => i > 0 && l !== IGNORE_INDEX);
  return Array.from(e.ids.subarray(0, first));
}

function trainingExample(tok: Tokenizer, record: object, system?: string): Example {
  const path = join(tempDir("prompt"), "data.jsonl");
  writeFileSync(path, JSON.stringify(record));
  return loadDataset(path, tok, { maxSeqLen: 512, system })[0]!;
}

describe("prompts in the training format", () => {
  it("alpaca, with and without an input", () => {
    const tok = Tokenizer.fromDir(DEMO);
    for (const input of ["", "mouse"]) {
      const e = trainingExample(tok, { instruction: "Give the plural of the word.", input, output: "Mice." });
      assert.deepEqual(promptIds(tok, "Give the plural of the word.", { format: "alpaca", input: input || null }), promptPart(e));
    }
  });
  it("chat, with a system turn", () => {
    const tok = Tokenizer.fromDir(QWEN);
    const e = trainingExample(tok, { messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello." }] }, "Be brief.");
    assert.deepEqual(promptIds(tok, "Hi", { format: "chat", system: "Be brief." }), promptPart(e));
  });
  it("prompt-completion: the prompt as training encodes it before its completion", () => {
    const tok = Tokenizer.fromDir(DEMO);
    const e = trainingExample(tok, { prompt: "Question: What do bees make?\nAnswer:", completion: " Honey." });
    assert.deepEqual(promptIds(tok, "Question: What do bees make?\nAnswer:", { format: "prompt-completion" }), promptPart(e));
  });
  it("a system message or an input where the format has none is an error", () => {
    const tok = Tokenizer.fromDir(DEMO);
    assert.throws(() => promptIds(tok, "x", { format: "alpaca", system: "s" }), /a system message needs the chat format \(alpaca prompts have no system turn\)/);
    assert.throws(() => promptIds(tok, "x", { format: "text", input: "i" }), /an input needs the alpaca format/);
  });
});

describe("generate", () => {
  it("--format alpaca --input builds that prompt; --json has the text and mlx_lm's numbers", async () => {
    const tok = Tokenizer.fromDir(DEMO);
    const r = await runCli(["generate", "--model", DEMO, "--format", "alpaca", "--prompt", "Give the plural of the word.", "--input", "mouse", "--max-new-tokens", "3", "--greedy", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    const prompt = promptIds(tok, "Give the plural of the word.", { format: "alpaca", input: "mouse" });
    assert.deepEqual(out.ids.slice(0, prompt.length), prompt);
    assert.equal(out.text, tok.decode(out.ids.slice(prompt.length), { skipSpecialTokens: true }));
    assert.equal(out.stats.prompt_tokens, prompt.length);
    assert.equal(out.stats.generation_tokens, out.ids.length - prompt.length);
    assert.ok(out.stats.prompt_tps > 0 && out.stats.generation_tps > 0 && out.stats.peak_memory_bytes > 50 * 2 ** 20, JSON.stringify(out.stats));
  });
  it("prints the text on stdout and the numbers on stderr, as mlx_lm.generate does", async () => {
    const r = await runCli(["generate", "--model", DEMO, "--prompt", "The old man", "--max-new-tokens", "4", "--greedy"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^==========\nPrompt: \d+ tokens, [\d.]+ tokens-per-sec\nGeneration: 4 tokens, [\d.]+ tokens-per-sec\nPeak memory: [\d.]+ MiB\n$/);
    const quiet = await runCli(["generate", "--model", DEMO, "--prompt", "The old man", "--max-new-tokens", "4", "--greedy", "--no-stats"]);
    assert.equal(quiet.stderr, "");
    assert.equal(quiet.stdout, r.stdout);
  });
  it("leaves special tokens out of the text unless asked, as skip_special_tokens=True does", () => {
    const tok = Tokenizer.fromDir(DEMO);
    const ids = [...tok.encode("Red, green and blue."), tok.eosTokenId!];
    const skip = new StreamDecoder(tok);
    const keep = new StreamDecoder(tok, [], false);
    const streamed = ids.map((id) => skip.push(id)).join("");
    assert.equal(streamed, "Red, green and blue.");
    assert.equal(skip.text, "Red, green and blue.");
    assert.equal(ids.map((id) => keep.push(id)).join(""), "Red, green and blue.<|endoftext|>");
  });
});
