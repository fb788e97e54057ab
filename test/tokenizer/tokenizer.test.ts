// Tokenizer folders against transformers' golden outputs (test/fixtures/tokenizer/cases.json), the model
// fixtures' tokenizer files, the add_bos_token / add_eos_token rules, special-token forms, and errors.

import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChatTemplateError, Tokenizer, TokenizerError } from "../../src/tokenizer/index.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;
const TOKENIZER_DIR = join(FIXTURES, "tokenizer");
const cases = JSON.parse(fs.readFileSync(join(TOKENIZER_DIR, "cases.json"), "utf8")) as {
  encode: { text: string; ids: number[]; decoded: string }[];
  chat: { messages: { role: string; content: string }[]; rendered: string; rendered_with_generation_prompt: string };
  chat_ids: number[];
};
const tmp = fs.mkdtempSync(join(tmpdir(), "peft-ts-tokenizer-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const tok = Tokenizer.fromDir(TOKENIZER_DIR);
const HELLO = cases.encode[0]!.ids; // "Hello world", no special tokens

describe("golden cases from transformers", () => {
  for (const c of cases.encode) {
    it(`encode / decode ${JSON.stringify(c.text)}`, () => {
      assert.deepEqual(tok.encode(c.text), c.ids);
      assert.equal(tok.decode(c.ids), c.decoded);
    });
  }

  it("renders the chat template with and without the generation prompt", () => {
    const { messages, rendered, rendered_with_generation_prompt: withPrompt } = cases.chat;
    assert.equal(tok.applyChatTemplate(messages), rendered);
    // transformers rendered the prompt variant from the conversation without its final assistant turn.
    assert.equal(tok.applyChatTemplate(messages.slice(0, -1), { addGenerationPrompt: true }), withPrompt);
    assert.deepEqual(tok.encodeChat(messages), cases.chat_ids);
  });

  it("special tokens, vocabulary and skipping special tokens on decode", () => {
    assert.equal(tok.bosTokenId, 0);
    assert.equal(tok.eosTokenId, 2);
    assert.equal(tok.padTokenId, 0);
    assert.equal(tok.unkTokenId, null);
    assert.equal(tok.vocabSize, 512);
    assert.equal(tok.tokenToId("<|im_start|>"), 1);
    assert.equal(tok.idToToken(2), "<|im_end|>");
    assert.equal(tok.tokenToId("no such token"), undefined);
    assert.equal(tok.decode([1, 87, 85, 262, 201, 74, 75, 2], { skipSpecialTokens: true }), "user\nhi");
    assert.equal(tok.decode([]), "");
    // Ids without a token (a model's padded embedding rows) are skipped, as the Rust tokenizer does.
    assert.equal(tok.decode([...HELLO, 100000]), "Hello world");
  });
});

describe("the model fixtures' tokenizer folders", () => {
  for (const model of ["llama", "llama-bf16", "llama-sharded", "llama3-rope", "gpt2", "qwen2", "qwen3"]) {
    it(`${model}: special token ids as in config.json, and its chat template`, () => {
      const dir = join(FIXTURES, "models", model);
      const t = Tokenizer.fromDir(dir);
      const config = JSON.parse(fs.readFileSync(join(dir, "config.json"), "utf8"));
      assert.equal(t.bosTokenId, config.bos_token_id ?? 0);
      assert.equal(t.eosTokenId, config.eos_token_id);
      if (config.pad_token_id !== undefined && config.pad_token_id !== null) assert.equal(t.padTokenId, config.pad_token_id);
      assert.equal(t.vocabSize, config.vocab_size);
      assert.equal(t.hasChatTemplate, true);
      assert.equal(t.applyChatTemplate(cases.chat.messages), cases.chat.rendered);
      assert.deepEqual(t.encode(cases.encode[1]!.text), cases.encode[1]!.ids);
    });
  }
  it("qwen-style folders keep the template in chat_template.jinja, llama-style in tokenizer_config.json", () => {
    assert.ok(fs.existsSync(join(FIXTURES, "models/qwen3/chat_template.jinja")));
    assert.equal(JSON.parse(fs.readFileSync(join(FIXTURES, "models/qwen3/tokenizer_config.json"), "utf8")).chat_template, undefined);
    assert.ok(!fs.existsSync(join(FIXTURES, "models/llama/chat_template.jinja")));
  });
});

/** A copy of the fixture tokenizer with its tokenizer_config.json replaced (and extra files). */
let variant = 0;
function tokenizerWith(config: Record<string, unknown> | string, extraFiles: Record<string, string> = {}): string {
  const dir = join(tmp, `v${variant++}`);
  fs.mkdirSync(dir);
  fs.copyFileSync(join(TOKENIZER_DIR, "tokenizer.json"), join(dir, "tokenizer.json"));
  fs.writeFileSync(join(dir, "tokenizer_config.json"), typeof config === "string" ? config : JSON.stringify(config));
  for (const [name, text] of Object.entries(extraFiles)) fs.writeFileSync(join(dir, name), text);
  return dir;
}
const CHATML = fs.readFileSync(join(TOKENIZER_DIR, "chat_template.jinja"), "utf8");
const base = { bos_token: "<|endoftext|>", eos_token: "<|im_end|>", pad_token: "<|endoftext|>" };

describe("add_bos_token / add_eos_token as transformers applies them", () => {
  const cases2: [string, Record<string, unknown>, number[]][] = [
    ["generic class, no flags: tokenizer.json's post-processor (nothing added)", { ...base, tokenizer_class: "PreTrainedTokenizerFast" }, HELLO],
    ["Llama class: bos by default", { ...base, tokenizer_class: "LlamaTokenizerFast" }, [0, ...HELLO]],
    ["Llama class with add_eos_token", { ...base, tokenizer_class: "LlamaTokenizer", add_eos_token: true }, [0, ...HELLO, 2]],
    ["Llama class with add_bos_token false", { ...base, tokenizer_class: "LlamaTokenizerFast", add_bos_token: false }, HELLO],
    ["generic class with add_bos_token", { ...base, add_bos_token: true }, [0, ...HELLO]],
    ["generic class with add_eos_token only", { ...base, add_eos_token: true }, [...HELLO, 2]],
    ["add_bos_token without a bos token", { eos_token: "<|im_end|>", add_bos_token: true }, HELLO],
  ];
  for (const [what, config, ids] of cases2) {
    it(what, () => {
      const t = Tokenizer.fromDir(tokenizerWith(config, { "chat_template.jinja": CHATML }));
      assert.deepEqual(t.encode("Hello world"), ids);
      assert.deepEqual(t.encode("Hello world", { addSpecialTokens: false }), HELLO);
      // Chat encoding never adds them: the template writes its own.
      assert.deepEqual(t.encodeChat([{ role: "user", content: "hi" }]).slice(0, 1), [1]);
    });
  }
});

describe("special tokens in their various spellings", () => {
  it('{"content": ...} objects (AddedToken) in tokenizer_config.json', () => {
    const t = Tokenizer.fromDir(tokenizerWith({ bos_token: { __type: "AddedToken", content: "<|im_start|>" }, eos_token: { content: "<|im_end|>" } }));
    assert.equal(t.bosToken, "<|im_start|>");
    assert.equal(t.bosTokenId, 1);
    assert.equal(t.eosTokenId, 2);
    assert.equal(t.padTokenId, null);
  });

  it("special_tokens_map.json overrides tokenizer_config.json", () => {
    const t = Tokenizer.fromDir(tokenizerWith(base, { "special_tokens_map.json": JSON.stringify({ eos_token: "<|endoftext|>" }) }));
    assert.equal(t.eosTokenId, 0);
  });

  it("a special token missing from the vocabulary is added at the end, as transformers adds it", () => {
    const t = Tokenizer.fromDir(tokenizerWith({ ...base, pad_token: "<pad>", additional_special_tokens: ["<tool>"] }));
    assert.equal(t.padTokenId, 512);
    assert.equal(t.tokenToId("<tool>"), 513);
    assert.equal(t.vocabSize, 514);
    assert.deepEqual(t.encode("<pad>Hello world<tool>"), [512, ...HELLO, 513]);
    assert.equal(t.decode([512, ...HELLO, 513], { skipSpecialTokens: true }), "Hello world");
  });

  it("a malformed special token names the file and key", () => {
    const dir = tokenizerWith({ eos_token: 42 });
    assert.throws(() => Tokenizer.fromDir(dir), (e: unknown) => e instanceof TokenizerError && e.message.includes(join(dir, "tokenizer_config.json")) && /eos_token is 42/.test(e.message));
  });
});

describe("chat templates", () => {
  const echo = "{{ bos_token }}|{{ eos_token }}|{{ pad_token }}|{{ add_generation_prompt }}|{{ tools is none }}|{{ messages | length }}|{{ custom }}";

  it("passes transformers' variables and extra ones", () => {
    const t = Tokenizer.fromDir(tokenizerWith({ ...base, chat_template: echo }));
    const msgs = [{ role: "user", content: "x" }];
    assert.equal(t.applyChatTemplate(msgs, { addGenerationPrompt: true, extra: { custom: "ok" } }), "<|endoftext|>|<|im_end|>|<|endoftext|>|true|true|1|ok");
  });

  it("chat_template.jinja wins over tokenizer_config.json", () => {
    const t = Tokenizer.fromDir(tokenizerWith({ ...base, chat_template: "from config" }, { "chat_template.jinja": "from file" }));
    assert.equal(t.applyChatTemplate([]), "from file");
  });

  it('a list of {name, template} uses "default", others by name', () => {
    const dir = tokenizerWith({ ...base, chat_template: [{ name: "tool_use", template: "tools" }, { name: "default", template: "plain" }] });
    const t = Tokenizer.fromDir(dir);
    assert.equal(t.applyChatTemplate([]), "plain");
    assert.equal(t.applyChatTemplate([], { templateName: "tool_use" }), "tools");
    const noDefault = Tokenizer.fromDir(tokenizerWith({ ...base, chat_template: [{ name: "tool_use", template: "tools" }] }));
    assert.throws(() => noDefault.applyChatTemplate([]), (e: unknown) => e instanceof ChatTemplateError && /no chat template named "default" \(there are: tool_use\)/.test(e.message));
  });

  it("no chat template: says so and where it looked", () => {
    const dir = tokenizerWith(base);
    const t = Tokenizer.fromDir(dir);
    assert.equal(t.hasChatTemplate, false);
    assert.throws(
      () => t.encodeChat([{ role: "user", content: "hi" }]),
      (e: unknown) =>
        e instanceof ChatTemplateError && /has no chat template/.test(e.message) && e.message.includes(join(dir, "chat_template.jinja")) && e.message.includes(join(dir, "tokenizer_config.json")),
    );
  });

  it("raise_exception and template syntax errors name the template's source", () => {
    const strict = Tokenizer.fromDir(tokenizerWith(base, { "chat_template.jinja": "{% if messages[0].role != 'user' %}{{ raise_exception('first message must be from the user') }}{% endif %}ok" }));
    assert.equal(strict.applyChatTemplate([{ role: "user", content: "" }]), "ok");
    assert.throws(
      () => strict.applyChatTemplate([{ role: "system", content: "" }]),
      (e: unknown) => e instanceof ChatTemplateError && e.message.includes("chat_template.jinja") && /first message must be from the user/.test(e.message),
    );
    const dir = tokenizerWith({ ...base, chat_template: "{% for m in messages %}" });
    assert.throws(() => Tokenizer.fromDir(dir), (e: unknown) => e instanceof ChatTemplateError && e.message.includes(join(dir, "tokenizer_config.json")) && /cannot parse/.test(e.message));
  });
});

describe("folder errors name the file", () => {
  it("missing tokenizer.json", () => {
    const dir = fs.mkdtempSync(join(tmp, "empty-"));
    assert.throws(() => Tokenizer.fromDir(dir), (e: unknown) => e instanceof TokenizerError && e.message.includes(dir) && /no tokenizer\.json/.test(e.message));
  });

  it("malformed tokenizer.json and tokenizer_config.json", () => {
    const badConfig = tokenizerWith("{ not json");
    assert.throws(() => Tokenizer.fromDir(badConfig), (e: unknown) => e instanceof TokenizerError && e.message.includes(join(badConfig, "tokenizer_config.json")) && /not valid JSON/.test(e.message));
    const badJson = tokenizerWith(base);
    fs.writeFileSync(join(badJson, "tokenizer.json"), "[1, 2]");
    assert.throws(() => Tokenizer.fromDir(badJson), (e: unknown) => e instanceof TokenizerError && e.message.includes(join(badJson, "tokenizer.json")) && /not a JSON object/.test(e.message));
  });

  it("a folder without tokenizer_config.json still loads (no special tokens, no template)", () => {
    const dir = join(tmp, "noconfig");
    fs.mkdirSync(dir);
    fs.copyFileSync(join(TOKENIZER_DIR, "tokenizer.json"), join(dir, "tokenizer.json"));
    const t = Tokenizer.fromDir(dir);
    assert.deepEqual(t.encode("Hello world"), HELLO);
    assert.equal(t.eosTokenId, null);
    assert.equal(t.hasChatTemplate, false);
  });
});
