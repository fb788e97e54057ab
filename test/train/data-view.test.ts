// What training sees of a data file: JSON array files (alpaca_data.json style) read as their JSONL
// twin is read, --system put into chat records, and `peft-ts data` showing exactly the ids, labels and
// loss tokens loadDataset produces.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer } from "../../src/tokenizer/index.ts";
import { loadDataset, DataError } from "../../src/train/data/index.ts";
import { alpacaPrompt } from "../../src/train/data/formats.ts";
import { IGNORE_INDEX } from "../../src/ops/loss.ts";
import { lossRuns, lossTokens } from "../../src/cli/commands/data.ts";
import { runCli, tempDir } from "./helpers.ts";

const DEMO = "assets/brown-llama";
const QWEN = "test/fixtures/models/qwen2";
const records = [
  { instruction: "List three colors.", input: "", output: "Red, green and blue." },
  { instruction: "Give the plural of the word.", input: "mouse", output: "Mice." },
];

describe("JSON array data files", () => {
  it("read as the same records in JSONL (pretty-printed, BOM and all)", () => {
    const dir = tempDir("json-array");
    const tok = Tokenizer.fromDir(DEMO);
    const array = join(dir, "alpaca_data.json");
    writeFileSync(array, `\uFEFF${JSON.stringify(records, null, 2)}\n`);
    const lines = join(dir, "alpaca_data.jsonl");
    writeFileSync(lines, records.map((r) => JSON.stringify(r)).join("\n"));
    assert.deepEqual(loadDataset(array, tok, { maxSeqLen: 512 }), loadDataset(lines, tok, { maxSeqLen: 512 }));
  });
  it("a bad element is named by its position; a broken array says so", () => {
    const dir = tempDir("json-array-bad");
    const tok = Tokenizer.fromDir(DEMO);
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify([records[0], { instruction: "x" }]));
    assert.throws(() => loadDataset(bad, tok, { maxSeqLen: 512 }), (e: Error) => e instanceof DataError && e.message === `${bad}: record 2 of the array: alpaca: "output" must be a string, got nothing`);
    writeFileSync(bad, '[\n  {"text": "a"},\n');
    assert.throws(() => loadDataset(bad, tok, { maxSeqLen: 512 }), /bad\.json: starts with "\[" but is not a valid JSON array/);
  });
});

describe("--system", () => {
  it("puts a system turn first in chat records that have none, and only there", () => {
    const dir = tempDir("system");
    const tok = Tokenizer.fromDir(QWEN);
    const path = join(dir, "chat.jsonl");
    const chat = [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello." }];
    writeFileSync(path, [JSON.stringify({ messages: chat }), JSON.stringify({ messages: [{ role: "system", content: "Own." }, ...chat] })].join("\n"));
    const [a, b] = loadDataset(path, tok, { maxSeqLen: 512, system: "Be brief." });
    const expected = (system: string) => tok.encodeChat([{ role: "system", content: system }, ...chat]);
    assert.deepEqual(Array.from(a!.ids), expected("Be brief."));
    assert.deepEqual(Array.from(b!.ids), expected("Own."));
  });
});

describe("peft-ts data", () => {
  it("shows the records as training renders them, the loss tokens marked, counts that match loadDataset", async () => {
    const dir = tempDir("data-cmd");
    const path = join(dir, "alpaca.json");
    writeFileSync(path, JSON.stringify(records));
    const tok = Tokenizer.fromDir(DEMO);
    const examples = loadDataset(path, tok, { maxSeqLen: 512 });
    const r = await runCli(["data", "--model", DEMO, "--data", path, "--no-color"]);
    assert.equal(r.code, 0, r.stderr);
    const tokens = examples.reduce((n, e) => n + e.ids.length, 0);
    const loss = examples.reduce((n, e) => n + lossTokens(e), 0);
    assert.ok(r.stdout.startsWith(`${path}: 2 examples (alpaca), ${tokens} tokens, ${loss} of them carry the loss`), r.stdout);
    // the marked part of each record is its output and the eos token: what the loss is taken on
    assert.ok(r.stdout.includes(`${alpacaPrompt("List three colors.", "")}⟦Red, green and blue.<|endoftext|>⟧`), r.stdout);
    assert.ok(r.stdout.includes(`── ${path}: record 2 of the array (alpaca): ${examples[1]!.ids.length} tokens, ${lossTokens(examples[1]!)} carry the loss`));

    const json = JSON.parse((await runCli(["data", "--model", DEMO, "--data", path, "--json", "--train-on-prompt", "-n", "1"])).stdout);
    const onPrompt = loadDataset(path, tok, { maxSeqLen: 512, trainOnPrompt: true });
    assert.deepEqual(json.examples.map((e: { ids: number[]; labels: number[] }) => [e.ids, e.labels]), [[Array.from(onPrompt[0]!.ids), Array.from(onPrompt[0]!.labels)]]);
  });
  it("loss runs: position 0 never carries the loss; the rest follows the labels", () => {
    const e = { ids: Int32Array.of(5, 6, 7, 8, 9), labels: Int32Array.of(5, IGNORE_INDEX, 7, 8, IGNORE_INDEX) };
    assert.deepEqual(lossRuns(e), [[0, 2, false], [2, 4, true], [4, 5, false]]);
    assert.equal(lossTokens(e), 2);
  });
});
