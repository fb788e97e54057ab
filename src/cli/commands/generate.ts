// peft-ts generate: text from a model folder (optionally with a LoRA adapter), streamed token by token.
// --chat applies the tokenizer's chat template with the generation prompt; generation stops at an
// end-of-sequence token (the tokenizer's and the config's) unless --ignore-eos.

import { Command, Option } from "commander";
import { generate } from "../../infer/generate.ts";
import { Tokenizer } from "../../tokenizer/index.ts";
import { loadForInference } from "../../train/model.ts";

interface GenerateFlags {
  model: string;
  adapter?: string;
  prompt?: string;
  chat?: string;
  promptIds?: string;
  maxNewTokens: string;
  greedy?: boolean;
  temperature?: string;
  topK?: string;
  topP?: string;
  seed?: string;
  repetitionPenalty?: string;
  ignoreEos?: boolean;
  json?: boolean;
}

function num(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`generate: ${flag} must be a number, got "${v}"`);
  return n;
}

function parseIds(text: string): number[] {
  const ids = text.split(",").map((s) => Number(s.trim()));
  if (ids.length === 0 || ids.some((i) => !Number.isInteger(i) || i < 0)) throw new Error(`generate: --prompt-ids must be comma-separated token ids, got "${text}"`);
  return ids;
}

/** Decodes growing id lists and returns only the new text, holding back an incomplete UTF-8 character. */
export class StreamDecoder {
  #emitted = "";
  constructor(
    private readonly tok: Tokenizer,
    private readonly ids: number[] = [],
  ) {}

  push(id: number): string {
    this.ids.push(id);
    const text = this.tok.decode(this.ids);
    if (text.endsWith("\uFFFD") || !text.startsWith(this.#emitted)) return "";
    const fresh = text.slice(this.#emitted.length);
    this.#emitted = text;
    return fresh;
  }

  get text(): string {
    return this.tok.decode(this.ids);
  }
}

function tryTokenizer(dir: string): Tokenizer | null {
  try {
    return Tokenizer.fromDir(dir);
  } catch {
    return null;
  }
}

export function register(program: Command): void {
  program
    .command("generate")
    .description("generate text from a model folder, optionally with a LoRA adapter, streaming tokens as they come")
    .requiredOption("--model <dir>", "Hugging Face model folder")
    .option("--adapter <dir>", "PEFT adapter folder to apply")
    .addOption(new Option("--prompt <text>", "prompt text").conflicts(["chat", "promptIds"]))
    .addOption(new Option("--chat <text>", "a user message, formatted with the chat template").conflicts(["promptIds"]))
    .option("--prompt-ids <ids>", "prompt as comma-separated token ids")
    .option("--max-new-tokens <n>", "tokens to generate at most", "128")
    .option("--greedy", "argmax decoding (the default without --temperature)")
    .option("--temperature <t>", "sampling temperature")
    .option("--top-k <k>", "sample among the k most likely tokens")
    .option("--top-p <p>", "nucleus sampling mass")
    .option("--seed <n>", "sampling seed", "0")
    .option("--repetition-penalty <r>", "penalise tokens already present (> 1)")
    .option("--ignore-eos", "do not stop at end-of-sequence tokens")
    .option("--json", 'print {"ids": [...prompt and new ids], "text": "..."} instead of streaming')
    .action(async (f: GenerateFlags) => {
      if (f.prompt === undefined && f.chat === undefined && f.promptIds === undefined) {
        throw new Error("generate: give one of --prompt, --chat or --prompt-ids");
      }
      if (f.greedy && f.temperature !== undefined) throw new Error("generate: --greedy and --temperature exclude each other");
      const maxNewTokens = num("--max-new-tokens", f.maxNewTokens)!;
      const model = await loadForInference(f.model, f.adapter);
      // ids alone need no tokenizer; one is still used, when the folder has it, for the text
      const tok = f.promptIds === undefined ? Tokenizer.fromDir(f.model) : tryTokenizer(f.model);
      const prompt =
        f.promptIds !== undefined
          ? parseIds(f.promptIds)
          : f.chat !== undefined
            ? tok!.encodeChat([{ role: "user", content: f.chat }], { addGenerationPrompt: true })
            : tok!.encode(f.prompt!);
      const eos = new Set<number>(model.config.eosTokenIds);
      if (tok?.eosTokenId != null) eos.add(tok.eosTokenId);
      const stream = tok && !f.json ? new StreamDecoder(tok) : null;
      const ids = generate(model, prompt, {
        maxNewTokens,
        greedy: f.greedy,
        temperature: num("--temperature", f.temperature),
        topK: num("--top-k", f.topK),
        topP: num("--top-p", f.topP),
        seed: num("--seed", f.seed),
        repetitionPenalty: num("--repetition-penalty", f.repetitionPenalty),
        eosTokenIds: f.ignoreEos ? [] : [...eos],
        onToken: stream ? (id) => process.stdout.write(stream.push(id)) : undefined,
      });
      if (f.json) {
        const newIds = ids.slice(prompt.length);
        process.stdout.write(`${JSON.stringify({ ids, text: tok ? tok.decode(newIds) : null })}\n`);
      } else {
        process.stdout.write("\n");
      }
    });
}
