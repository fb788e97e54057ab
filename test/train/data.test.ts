// The data pipeline on the fixture tokenizers: every format's ids and labels against expectations built
// here from tokenizer.encode of the parts, chat masking on both template locations (qwen2:
// chat_template.jinja, llama: tokenizer_config.json), truncation, eos handling, malformed lines, and the
// batching helpers.

import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tokenizer } from "../../src/tokenizer/index.ts";
import { loadDataset, collate, epochOrder, splitValidation, packExamples, DataError, type Example, type LoadDatasetOptions } from "../../src/train/data/index.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;
const tmp = fs.mkdtempSync(join(tmpdir(), "peft-ts-data-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const I = -100;
const qwen = Tokenizer.fromDir(join(FIXTURES, "models/qwen2"));
const llama = Tokenizer.fromDir(join(FIXTURES, "models/llama"));
const EOS = qwen.eosTokenId!; // <|im_end|>

/** A tokenizer folder: the fixture vocabulary with our own tokenizer_config.json. */
function tokenizerWith(name: string, config: Record<string, unknown>): Tokenizer {
  const dir = join(tmp, name);
  fs.mkdirSync(dir);
  fs.copyFileSync(join(FIXTURES, "tokenizer/tokenizer.json"), join(dir, "tokenizer.json"));
  const specials = { bos_token: "<|endoftext|>", eos_token: "<|im_end|>", pad_token: "<|endoftext|>" };
  fs.writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ ...specials, ...config }));
  return Tokenizer.fromDir(dir);
}

let files = 0;
function jsonl(lines: (object | string)[]): string {
  const path = join(tmp, `data-${files++}.jsonl`);
  fs.writeFileSync(path, lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n") + "\n");
  return path;
}

function load(tok: Tokenizer, lines: (object | string)[], opts: Partial<LoadDatasetOptions> = {}): Example[] {
  return loadDataset(jsonl(lines), tok, { maxSeqLen: 512, onInfo: () => {}, ...opts });
}

function assertExample(e: Example, ids: number[], labels: number[]): void {
  assert.deepEqual([...e.ids], ids, "ids");
  assert.deepEqual([...e.labels], labels, "labels");
}

const enc = (tok: Tokenizer, s: string) => tok.encode(s, { addSpecialTokens: false });
const masked = (ids: number[]) => ids.map(() => I);

describe("plain text", () => {
  it("trains on every token and appends eos", () => {
    const ids = [...enc(qwen, "Hello world, this is text."), EOS];
    assertExample(load(qwen, [{ text: "Hello world, this is text." }])[0]!, ids, ids);
  });

  it("keeps the bos the tokenizer adds", () => {
    const tok = tokenizerWith("bos", { add_bos_token: true });
    const ids = [tok.bosTokenId!, ...enc(tok, "Hello world"), EOS];
    assert.deepEqual(tok.encode("Hello world"), ids.slice(0, -1), "the tokenizer adds bos");
    assertExample(load(tok, [{ text: "Hello world" }])[0]!, ids, ids);
  });

  it("does not append eos twice, or at all with addEos false", () => {
    const ids = enc(qwen, "Hello<|im_end|>");
    assert.equal(ids.at(-1), EOS);
    assertExample(load(qwen, [{ text: "Hello<|im_end|>" }])[0]!, ids, ids);
    const plain = enc(qwen, "Hello world");
    assertExample(load(qwen, [{ text: "Hello world" }], { addEos: false })[0]!, plain, plain);
  });
});

describe("prompt-completion and alpaca", () => {
  const prompt = "Question: what is two plus two?\nAnswer:";
  const completion = " four";

  it("takes the loss on the completion and eos only", () => {
    const p = enc(qwen, prompt);
    const c = enc(qwen, completion);
    assert.deepEqual(enc(qwen, prompt + completion), [...p, ...c], "the boundary does not merge tokens");
    assertExample(load(qwen, [{ prompt, completion }])[0]!, [...p, ...c, EOS], [...masked(p), ...c, EOS]);
  });

  it("trainOnPrompt takes the loss everywhere", () => {
    const ids = [...enc(qwen, prompt + completion), EOS];
    assertExample(load(qwen, [{ prompt, completion }], { trainOnPrompt: true })[0]!, ids, ids);
  });

  it("builds Stanford Alpaca's prompt, with and without an input", () => {
    const withInput =
      "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n" +
      "### Instruction:\nTranslate to French.\n\n### Input:\ncat\n\n### Response:\n";
    const noInput =
      "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n" +
      "### Instruction:\nName a colour.\n\n### Response:\n";
    const [a, b] = load(qwen, [
      { instruction: "Translate to French.", input: "cat", output: "chat" },
      { instruction: "Name a colour.", input: "", output: "Blue." },
    ]);
    for (const [e, p, out] of [[a!, withInput, "chat"], [b!, noInput, "Blue."]] as const) {
      const pIds = enc(qwen, p);
      const oIds = enc(qwen, out);
      assert.deepEqual(enc(qwen, p + out), [...pIds, ...oIds]);
      assertExample(e, [...pIds, ...oIds, EOS], [...masked(pIds), ...oIds, EOS]);
    }
  });
});

describe("chat: loss on assistant turns only", () => {
  const messages = [
    { role: "system", content: "You are terse." },
    { role: "user", content: "Hi there" },
    { role: "assistant", content: "Hello! How can I help?" },
    { role: "user", content: "Say a number." },
    { role: "assistant", content: "Seven." },
  ];

  for (const [name, tok] of [["qwen2 (chat_template.jinja)", qwen], ["llama (tokenizer_config.json)", llama]] as const) {
    it(`masks everything but assistant content and its end-of-turn on ${name}`, () => {
      // ChatML, built by hand: the header "<|im_start|>assistant\n" is prompt; content, <|im_end|> and
      // the newline after it are target. <|im_end|> is the eos token, so none is appended.
      const ids: number[] = [];
      const labels: number[] = [];
      for (const m of messages) {
        const header = enc(tok, `<|im_start|>${m.role}\n`);
        const rest = enc(tok, `${m.content}<|im_end|>\n`);
        assert.deepEqual(enc(tok, `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`), [...header, ...rest]);
        ids.push(...header, ...rest);
        labels.push(...masked(header), ...(m.role === "assistant" ? rest : masked(rest)));
      }
      assert.deepEqual(tok.encodeChat(messages), ids, "the template renders ChatML");
      assertExample(load(tok, [{ messages }])[0]!, ids, labels);
    });
  }

  it("appends and trains eos when the template's turns do not contain it", () => {
    const tok = tokenizerWith("plainchat", {
      chat_template: "{% for m in messages %}### {{ m.role }}:\n{{ m.content }}\n\n{% endfor %}{% if add_generation_prompt %}### assistant:\n{% endif %}",
    });
    const convo = [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello there." }];
    const full = tok.encodeChat(convo);
    const promptLen = enc(tok, "### user:\nHi\n\n### assistant:\n").length;
    assert.deepEqual(full.slice(0, promptLen), enc(tok, "### user:\nHi\n\n### assistant:\n"));
    assertExample(load(tok, [{ messages: convo }])[0]!, [...full, EOS], [...masked(full.slice(0, promptLen)), ...full.slice(promptLen), EOS]);
  });

  it("finds earlier turns of a template that renders the last turn differently (Qwen3's think block)", () => {
    const tok = tokenizerWith("thinking", {
      chat_template:
        "{% for m in messages %}{% if m.role == 'assistant' and loop.last %}<|im_start|>assistant\n<think>\n\n</think>\n\n{{ m.content }}<|im_end|>\n" +
        "{% else %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
    });
    const convo = messages.slice(1);
    const parts = [
      { ids: enc(tok, "<|im_start|>user\nHi there<|im_end|>\n"), train: false },
      { ids: enc(tok, "<|im_start|>assistant\n"), train: false },
      { ids: enc(tok, "Hello! How can I help?<|im_end|>"), train: true }, // the earlier turn: content + eos
      { ids: enc(tok, "\n<|im_start|>user\nSay a number.<|im_end|>\n<|im_start|>assistant\n"), train: false },
      { ids: enc(tok, "<think>\n\n</think>\n\nSeven.<|im_end|>\n"), train: true }, // the last turn, as rendered
    ];
    const ids = parts.flatMap((p) => p.ids);
    assert.deepEqual(tok.encodeChat(convo), ids);
    assertExample(load(tok, [{ messages: convo }])[0]!, ids, parts.flatMap((p) => (p.train ? p.ids : masked(p.ids))));
  });
});

describe("truncation", () => {
  it("keeps the start, reports how many were cut, drops examples left without a target", () => {
    const messages: string[] = [];
    const text = "one two three four five six seven eight nine ten";
    const [cut, short] = load(qwen, [{ prompt: "", completion: text }, { prompt: "Q:", completion: " hi" }, { prompt: text, completion: " eleven" }], {
      maxSeqLen: 5,
      onInfo: (m) => messages.push(m),
    });
    assertExample(cut!, enc(qwen, text).slice(0, 5), enc(qwen, text).slice(0, 5));
    assertExample(short!, [...enc(qwen, "Q:"), ...enc(qwen, " hi"), EOS], [...masked(enc(qwen, "Q:")), ...enc(qwen, " hi"), EOS]);
    assert.equal(messages.length, 1);
    assert.match(messages[0]!, /2 of 3 examples truncated to 5 tokens; 1 dropped/);
  });
});

describe("malformed lines name the file and line", () => {
  const cases: [string, (object | string)[], RegExp][] = [
    ["bad JSON", [{ text: "ok" }, "{not json"], /:2: not valid JSON/],
    ["not an object", [{ text: "ok" }, [1, 2]], /:2: not a JSON object/],
    ["unknown shape", [{ question: "q", answer: "a" }], /:1: no known shape/],
    ["ambiguous shape", [{ prompt: "p", completion: "c", messages: [] }], /:1: ambiguous shape/],
    ["wrong field type", [{ prompt: "p", completion: 3 }], /:1: prompt-completion: "completion" must be a string/],
    ["missing field", [{ prompt: "p" }], /:1: prompt-completion: "completion" must be a string, got nothing/],
    ["empty completion", [{ prompt: "p", completion: "" }], /:1: prompt-completion: "completion" is empty/],
    ["unknown role", [{ messages: [{ role: "user", content: "a" }, { role: "bot", content: "b" }] }], /:1: chat: messages\[1\] has unknown role "bot"/],
    ["no assistant", [{ messages: [{ role: "user", content: "a" }] }], /:1: chat: no assistant message/],
    ["non-string content", [{ messages: [{ role: "assistant", content: null }] }], /:1: chat: messages\[0\]\.content must be a string/],
    ["mixed kinds", [{ prompt: "p", completion: "c" }, "", { text: "t" }], /:3: text line \(loss on every token\) mixed with prompt-completion lines such as line 1/],
  ];
  for (const [what, lines, pattern] of cases) {
    it(what, () => {
      const path = jsonl(lines);
      assert.throws(() => loadDataset(path, qwen, { maxSeqLen: 64 }), (e: unknown) => {
        assert.ok(e instanceof DataError, String(e));
        assert.ok(e.message.startsWith(path + ":"), e.message);
        assert.match(e.message, pattern);
        return true;
      });
    });
  }

  it("an explicit format checks every line against it", () => {
    assert.throws(() => load(qwen, [{ text: "hello" }], { format: "chat" }), /:1: chat: "messages" must be a non-empty list/);
  });

  it("chat needs a chat template", () => {
    const tok = tokenizerWith("notemplate", {});
    assert.throws(() => load(tok, [{ messages: [{ role: "assistant", content: "a" }] }]), /:1: chat line, but the tokenizer has no chat template/);
  });

  it("mixes answer-only formats, skips blank lines", () => {
    const out = load(qwen, ["", { prompt: "p", completion: " c" }, "   ", { instruction: "i", output: "o" }, { messages: [{ role: "user", content: "u" }, { role: "assistant", content: "a" }] }]);
    assert.equal(out.length, 3);
  });
});

describe("order, split, collate, pack", () => {
  it("epochOrder is a permutation that depends only on seed and epoch", () => {
    const a = epochOrder(100, 42, 3);
    assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
    assert.deepEqual(a, epochOrder(100, 42, 3));
    assert.notDeepEqual(a, epochOrder(100, 42, 4));
    assert.notDeepEqual(a, epochOrder(100, 43, 3));
    assert.equal(epochOrder(0, 1, 0).length, 0);
  });

  it("splitValidation is deterministic and disjoint, keeping file order", () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    const s = splitValidation(items, 0.1, 7);
    assert.equal(s.eval.length, 5);
    assert.equal(s.train.length, 45);
    assert.deepEqual([...s.train, ...s.eval].sort((x, y) => x - y), items);
    assert.deepEqual(s.train, [...s.train].sort((x, y) => x - y));
    assert.deepEqual(splitValidation(items, 0.1, 7), s);
    assert.notDeepEqual(splitValidation(items, 0.1, 8).eval, s.eval);
    assert.equal(splitValidation(items, 0.001, 7).eval.length, 1, "at least one held out");
    assert.deepEqual(splitValidation(items, 0, 7), { train: items, eval: [] });
    assert.throws(() => splitValidation([1], 0.5, 0), /leaves none to train on/);
  });

  const ex = (ids: number[], labels: number[]): Example => ({ ids: Int32Array.from(ids), labels: Int32Array.from(labels) });

  it("collate right-pads ids, labels and mask and counts target tokens after the shift", () => {
    const b = collate([ex([5, 6, 7], [I, 6, 7]), ex([8, 9], [8, 9])], { padId: 0, padToMultipleOf: 4 });
    assert.equal(b.B, 2);
    assert.equal(b.T, 4);
    assert.deepEqual([...b.ids], [5, 6, 7, 0, 8, 9, 0, 0]);
    assert.deepEqual([...b.labels], [I, 6, 7, I, 8, 9, I, I]);
    assert.deepEqual([...b.attentionMask], [1, 1, 1, 0, 1, 1, 0, 0]);
    assert.equal(b.tokens, 3, "6, 7 and 9: position 0 (label 8) is never predicted");
    assert.equal(collate([ex([1, 2, 3], [1, 2, 3])], { padId: 0 }).T, 3);
  });

  it("packExamples fills sequences best-fit-decreasing, keeping masks and cutting cross-example targets", () => {
    const lens = [5, 3, 2, 4, 6];
    const examples = lens.map((n, k) => ex(Array.from({ length: n }, (_, i) => 10 * k + i), Array.from({ length: n }, (_, i) => (i === 1 ? I : 10 * k + i))));
    const packed = packExamples(examples, 8);
    assert.deepEqual(packed.map((p) => [...p.ids]), [
      [40, 41, 42, 43, 44, 45, 20, 21],
      [0, 1, 2, 3, 4, 10, 11, 12],
      [30, 31, 32, 33],
    ]);
    assert.deepEqual([...packed[0]!.labels], [I, I, 42, 43, 44, 45, I, I]);
    assert.deepEqual([...packed[1]!.labels], [I, I, 2, 3, 4, I, I, 12]);
    assert.throws(() => packExamples(examples, 4), /example 0 has 5 tokens, more than maxSeqLen 4/);
  });
});
