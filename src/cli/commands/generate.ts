// peft-ts generate: text from a model folder (optionally with a LoRA adapter), streamed token by token.
// --format renders the prompt as the training data was rendered (infer/prompt.ts: the Alpaca template,
// the chat template with an optional --system turn); --chat is --prompt with --format chat. Generation
// stops at an end-of-sequence token (the tokenizer's and the config's) unless --ignore-eos. Special
// tokens are left out of the text, as transformers' decode(skip_special_tokens=True) does, and the
// numbers mlx_lm.generate prints (throughput, peak memory) follow on stderr.

import { Command, Option } from "commander";
import { generate } from "../../infer/generate.ts";
import { Tokenizer } from "../../tokenizer/index.ts";
import { loadForInference } from "../../train/model.ts";
import { checkAdapterFolder, checkModelFolder } from "../../models/folder-check.ts";
import { promptIds, PROMPT_FORMATS, type PromptFormat } from "../../infer/prompt.ts";
import { formatStats, generationTimer } from "../../infer/stats.ts";

interface GenerateFlags {
  model: string;
  adapter?: string;
  prompt?: string;
  chat?: string;
  promptIds?: string;
  format: PromptFormat;
  system?: string;
  input?: string;
  maxNewTokens: string;
  greedy?: boolean;
  temperature?: string;
  topK?: string;
  topP?: string;
  seed?: string;
  repetitionPenalty?: string;
  ignoreEos?: boolean;
  keepSpecialTokens?: boolean;
  stats: boolean;
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
    private readonly skipSpecialTokens = true,
  ) {}

  push(id: number): string {
    this.ids.push(id);
    const text = this.tok.decode(this.ids, { skipSpecialTokens: this.skipSpecialTokens });
    if (text.endsWith("\uFFFD") || !text.startsWith(this.#emitted)) return "";
    const fresh = text.slice(this.#emitted.length);
    this.#emitted = text;
    return fresh;
  }

  get text(): string {
    return this.tok.decode(this.ids, { skipSpecialTokens: this.skipSpecialTokens });
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
    .addOption(new Option("--prompt <text>", "prompt text (the instruction, with --format alpaca)").conflicts(["chat", "promptIds"]))
    .addOption(new Option("--format <name>", "render the prompt as training rendered this data format: alpaca wraps it in the Alpaca template, chat in the chat template").choices(PROMPT_FORMATS).default("text"))
    .option("--system <text>", "system message before the prompt (chat format)")
    .option("--input <text>", "the Alpaca record's input field (alpaca format)")
    .addOption(new Option("--chat <text>", "a user message in the chat template: --prompt TEXT --format chat").conflicts(["promptIds"]))
    .option("--prompt-ids <ids>", "prompt as comma-separated token ids")
    .option("--max-new-tokens <n>", "tokens to generate at most", "128")
    .option("--greedy", "argmax decoding (the default without --temperature)")
    .option("--temperature <t>", "sampling temperature")
    .option("--top-k <k>", "sample among the k most likely tokens")
    .option("--top-p <p>", "nucleus sampling mass")
    .option("--seed <n>", "sampling seed", "0")
    .option("--repetition-penalty <r>", "penalise tokens already present (> 1)")
    .option("--ignore-eos", "do not stop at end-of-sequence tokens")
    .option("--keep-special-tokens", "print special tokens such as <|endoftext|> in the text")
    .option("--no-stats", "leave out the throughput and peak memory printed on stderr")
    .option("--json", 'print {"ids": [...prompt and new ids], "text": "...", "stats": {...}} instead of streaming')
    .action(async (f: GenerateFlags) => {
      if (f.prompt === undefined && f.chat === undefined && f.promptIds === undefined) {
        throw new Error("generate: give one of --prompt, --chat or --prompt-ids");
      }
      if (f.greedy && f.temperature !== undefined) throw new Error("generate: --greedy and --temperature exclude each other");
      const maxNewTokens = num("--max-new-tokens", f.maxNewTokens)!;
      checkModelFolder(f.model);
      if (f.adapter !== undefined) checkAdapterFolder(f.adapter);
      const model = await loadForInference(f.model, f.adapter);
      // ids alone need no tokenizer; one is still used, when the folder has it, for the text
      const tok = f.promptIds === undefined ? Tokenizer.fromDir(f.model) : tryTokenizer(f.model);
      const format = f.chat !== undefined ? "chat" : f.format;
      const prompt =
        f.promptIds !== undefined
          ? parseIds(f.promptIds)
          : promptIds(tok!, f.chat ?? f.prompt!, { format, system: f.system, input: f.input });
      const eos = new Set<number>(model.config.eosTokenIds);
      if (tok?.eosTokenId != null) eos.add(tok.eosTokenId);
      const skipSpecialTokens = !f.keepSpecialTokens;
      const stream = tok && !f.json ? new StreamDecoder(tok, [], skipSpecialTokens) : null;
      const timer = generationTimer(prompt.length);
      const ids = generate(model, prompt, {
        maxNewTokens,
        greedy: f.greedy,
        temperature: num("--temperature", f.temperature),
        topK: num("--top-k", f.topK),
        topP: num("--top-p", f.topP),
        seed: num("--seed", f.seed),
        repetitionPenalty: num("--repetition-penalty", f.repetitionPenalty),
        eosTokenIds: f.ignoreEos ? [] : [...eos],
        onToken: (id) => {
          timer.token();
          if (stream) process.stdout.write(stream.push(id));
        },
      });
      const stats = timer.finish();
      const newIds = ids.slice(prompt.length);
      const text = tok ? tok.decode(newIds, { skipSpecialTokens }) : null;
      if (f.json) {
        const round = (x: number) => (Number.isFinite(x) ? Math.round(x * 10) / 10 : null);
        const s = { prompt_tokens: stats.promptTokens, prompt_tps: round(stats.promptTps), generation_tokens: stats.generationTokens, generation_tps: round(stats.generationTps), peak_memory_bytes: stats.peakMemoryBytes };
        process.stdout.write(`${JSON.stringify({ ids, text, stats: s })}\n`);
        return;
      }
      process.stdout.write("\n");
      if (text === "" && newIds.length > 0 && eos.has(newIds[0]!) && format === "text" && f.promptIds === undefined) {
        process.stderr.write("(the model ended at once; if it was fine-tuned on Alpaca or chat records, ask it the same way: --format alpaca or --format chat)\n");
      }
      if (f.stats) process.stderr.write(`${formatStats(stats)}\n`);
    });
}
