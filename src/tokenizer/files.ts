// Reading a tokenizer folder the way transformers' from_pretrained reads it, before any tokenizing:
// tokenizer.json, tokenizer_config.json, special_tokens_map.json (which overrides the config's special
// tokens), and the chat template (chat_template.jinja beside the config wins over the config's own).
// Two transformers behaviours are applied to the tokenizer.json object here, because the tokenizer library
// knows nothing of tokenizer_config.json:
// - named special tokens that are not added tokens yet become special added tokens (new ids at the end
//   when they are not in the vocabulary at all), as TokenizersBackend.__init__ does;
// - add_bos_token / add_eos_token replace the post-processor with "[bos] $A [eos]" (update_post_processor)
//   when the config sets either flag, or always for the Llama/Gemma tokenizer classes, whose
//   add_bos_token defaults to true.

import * as fs from "node:fs";
import { join } from "node:path";
import { ChatTemplate, TokenizerError } from "./chat-template.ts";

type Json = Record<string, unknown>;

interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
  [key: string]: unknown;
}

export const SPECIAL_TOKEN_KEYS = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"] as const;
export type SpecialTokenKey = (typeof SPECIAL_TOKEN_KEYS)[number];

/** Classes whose transformers implementation always rewrites the post-processor, adding bos by default. */
const BOS_BY_DEFAULT = new Set([
  "LlamaTokenizer", "LlamaTokenizerFast", "CodeLlamaTokenizer", "CodeLlamaTokenizerFast", "GemmaTokenizer", "GemmaTokenizerFast",
]);

export interface TokenizerFiles {
  /** tokenizer.json, with the adjustments above applied. */
  tokenizerJson: Json;
  /** tokenizer_config.json merged with special_tokens_map.json; {} when neither exists. */
  config: Json;
  /** Number of ids, added tokens included (transformers' len(tokenizer)). */
  vocabSize: number;
  specialTokens: Record<SpecialTokenKey, string | null>;
  /** Extra special tokens (additional_special_tokens / extra_special_tokens), as strings. */
  extraSpecialTokens: string[];
  /** Chat templates by name ("default" for a single one). */
  chatTemplates: Map<string, ChatTemplate>;
  /** Every place a chat template was looked for, for the "no chat template" error. */
  chatTemplateSearched: string[];
}

function readJson(path: string): Json {
  let text: string;
  try {
    text = fs.readFileSync(path, "utf8");
  } catch (e) {
    throw new TokenizerError(`${path}: cannot read: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TokenizerError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new TokenizerError(`${path}: not a JSON object`);
  return json as Json;
}

function readOptionalJson(path: string): Json {
  return fs.existsSync(path) ? readJson(path) : {};
}

/** A special token as the config writes it: a string, {"content": ...} (an AddedToken), or null. */
function tokenString(file: string, key: string, v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return v;
  if (typeof v === "object" && typeof (v as { content?: unknown }).content === "string") return (v as { content: string }).content;
  throw new TokenizerError(`${file}: ${key} is ${JSON.stringify(v)}, expected a string or {"content": ...}`);
}

function tokenList(file: string, key: string, v: unknown): string[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) throw new TokenizerError(`${file}: ${key} is not a list`);
  return v.map((t, i) => tokenString(file, `${key}[${i}]`, t)).filter((t): t is string => t !== null);
}

function loadChatTemplates(dir: string, configPath: string, config: Json): { templates: Map<string, ChatTemplate>; searched: string[] } {
  const jinjaPath = join(dir, "chat_template.jinja");
  const searched = [jinjaPath, `${configPath} ("chat_template")`];
  const templates = new Map<string, ChatTemplate>();
  if (fs.existsSync(jinjaPath)) {
    templates.set("default", new ChatTemplate(fs.readFileSync(jinjaPath, "utf8"), jinjaPath));
    return { templates, searched };
  }
  const raw = config.chat_template;
  const source = `${configPath} ("chat_template")`;
  if (typeof raw === "string") templates.set("default", new ChatTemplate(raw, source));
  else if (Array.isArray(raw)) {
    for (const t of raw as { name?: unknown; template?: unknown }[]) {
      if (typeof t?.name !== "string" || typeof t.template !== "string") {
        throw new TokenizerError(`${source}: a list entry is not {"name": string, "template": string}`);
      }
      templates.set(t.name, new ChatTemplate(t.template, `${source}, "${t.name}"`));
    }
  } else if (raw !== undefined && raw !== null) throw new TokenizerError(`${source}: neither a string nor a list of {name, template}`);
  return { templates, searched };
}

/** The vocabulary's token → id (BPE/WordPiece/WordLevel: an object; Unigram: a list of [token, score]). */
function modelVocab(path: string, json: Json): Map<string, number> {
  const vocab = (json.model as { vocab?: unknown } | undefined)?.vocab;
  if (Array.isArray(vocab)) return new Map(vocab.map((entry, i) => [String((entry as unknown[])[0]), i]));
  if (typeof vocab === "object" && vocab !== null) return new Map(Object.entries(vocab as Record<string, number>));
  throw new TokenizerError(`${path}: model.vocab is missing`);
}

/**
 * Makes every named special token an added special token, as transformers does on load; returns the
 * number of ids (largest id + 1) afterwards.
 */
function addMissingSpecialTokens(path: string, json: Json, tokens: string[]): number {
  if (!Array.isArray(json.added_tokens)) json.added_tokens = [];
  const added = json.added_tokens as AddedTokenJson[];
  const vocab = modelVocab(path, json);
  let size = vocab.size;
  for (const id of vocab.values()) size = Math.max(size, id + 1);
  for (const t of added) size = Math.max(size, t.id + 1);
  for (const content of new Set(tokens)) {
    if (added.some((t) => t.content === content)) continue;
    const id = vocab.get(content) ?? size++;
    added.push({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  }
  return size;
}

/** The id of a special token (all of them are added tokens by now). */
function addedId(json: Json, token: string): number {
  return (json.added_tokens as AddedTokenJson[]).find((t) => t.content === token)!.id;
}

/** transformers' update_post_processor: "[bos:0] $A:0 [eos:0]" and the pair form with type id 1. */
function bosEosPostProcessor(json: Json, bos: string | null, eos: string | null): Json {
  const special = (token: string, typeId: number) => ({ SpecialToken: { id: token, type_id: typeId } });
  const seq = (id: "A" | "B", typeId: number) => ({ Sequence: { id, type_id: typeId } });
  const wrap = (id: "A" | "B", typeId: number) => [
    ...(bos === null ? [] : [special(bos, typeId)]),
    seq(id, typeId),
    ...(eos === null ? [] : [special(eos, typeId)]),
  ];
  const specialTokens: Json = {};
  for (const t of [bos, eos]) if (t !== null) specialTokens[t] = { id: t, ids: [addedId(json, t)], tokens: [t] };
  return { type: "TemplateProcessing", single: wrap("A", 0), pair: [...wrap("A", 0), ...wrap("B", 1)], special_tokens: specialTokens };
}

export function readTokenizerFiles(dir: string): TokenizerFiles {
  const jsonPath = join(dir, "tokenizer.json");
  if (!fs.existsSync(jsonPath)) {
    const spm = fs.existsSync(join(dir, "tokenizer.model")) ? " (only a sentencepiece tokenizer.model is there, which is not supported)" : "";
    throw new TokenizerError(`${dir}: no tokenizer.json${spm}`);
  }
  const tokenizerJson = readJson(jsonPath);
  const configPath = join(dir, "tokenizer_config.json");
  const mapPath = join(dir, "special_tokens_map.json");
  const config = { ...readOptionalJson(configPath), ...readOptionalJson(mapPath) };
  const file = fs.existsSync(mapPath) ? `${configPath} / ${mapPath}` : configPath;
  const specialTokens = Object.fromEntries(SPECIAL_TOKEN_KEYS.map((k) => [k, tokenString(file, k, config[k])])) as Record<SpecialTokenKey, string | null>;
  const extraSpecialTokens = [
    ...tokenList(file, "additional_special_tokens", config.additional_special_tokens),
    ...(Array.isArray(config.extra_special_tokens) ? tokenList(file, "extra_special_tokens", config.extra_special_tokens) : []),
  ];
  const named = Object.values(specialTokens).filter((t): t is string => t !== null);
  const vocabSize = addMissingSpecialTokens(jsonPath, tokenizerJson, [...named, ...extraSpecialTokens]);

  const bosByDefault = BOS_BY_DEFAULT.has(String(config.tokenizer_class));
  if (bosByDefault || "add_bos_token" in config || "add_eos_token" in config) {
    const addBos = "add_bos_token" in config ? Boolean(config.add_bos_token) : bosByDefault;
    const addEos = Boolean(config.add_eos_token);
    tokenizerJson.post_processor = bosEosPostProcessor(
      tokenizerJson,
      addBos ? specialTokens.bos_token : null,
      addEos ? specialTokens.eos_token : null,
    );
  }
  const { templates, searched } = loadChatTemplates(dir, configPath, config);
  return { tokenizerJson, config, vocabSize, specialTokens, extraSpecialTokens, chatTemplates: templates, chatTemplateSearched: searched };
}
