// peft-ts eval: loss and perplexity of a model (optionally with a LoRA adapter) on a data file, the
// token-weighted mean cross-entropy over every target token in the file.

import { Option, type Command } from "commander";
import { Tokenizer } from "../../tokenizer/index.ts";
import { loadForInference } from "../../train/model.ts";
import { evaluate } from "../../train/evaluate.ts";
import { DATA_FORMATS, loadDataset, type DataFormat } from "../../train/data/index.ts";
import { DEFAULT_ARGS } from "../../train/args.ts";
import { checkAdapterFolder, checkModelFolder } from "../../models/folder-check.ts";
import { DATA_HELP } from "./data.ts";
import { parseNumberFlag } from "../numbers.ts";

export function register(program: Command): void {
  program
    .command("eval")
    .description("loss and perplexity of a model (and adapter) on a data file")
    .requiredOption("--model <dir>", "Hugging Face model folder")
    .option("--adapter <dir>", "PEFT adapter folder to apply")
    .requiredOption("--data <file>", `data file, as train reads it: ${DATA_HELP}`)
    .addOption(new Option("--format <name>", "record format; auto detects it per record").choices(["auto", ...DATA_FORMATS]).default("auto"))
    .option("--system <text>", "system message put first in chat records that have none, as train --system does")
    .option("--train-on-prompt", "score prompt tokens too")
    .option("--max-seq-len <n>", "truncate examples to this many tokens, as train does", String(DEFAULT_ARGS.maxSeqLen))
    .option("--batch-size <n>", "examples per batch", String(DEFAULT_ARGS.batchSize))
    .option("--json", 'print {"loss", "perplexity", "tokens", "examples"}')
    .action(async (f: { model: string; adapter?: string; data: string; format: string; system?: string; trainOnPrompt?: boolean; maxSeqLen: string; batchSize: string; json?: boolean }) => {
      const maxSeqLen = parseNumberFlag("eval: --max-seq-len", f.maxSeqLen, { integer: true, min: 2 });
      const batchSize = parseNumberFlag("eval: --batch-size", f.batchSize, { integer: true, min: 1 });
      checkModelFolder(f.model);
      if (f.adapter !== undefined) checkAdapterFolder(f.adapter);
      const tok = Tokenizer.fromDir(f.model);
      const examples = loadDataset(f.data, tok, { maxSeqLen, format: f.format as DataFormat | "auto", trainOnPrompt: f.trainOnPrompt ?? false, system: f.system ?? null, addEos: true });
      if (examples.length === 0) throw new Error(`eval: ${f.data} holds no examples`);
      const model = await loadForInference(f.model, f.adapter);
      const padId = tok.padTokenId ?? tok.eosTokenId ?? 0;
      const r = evaluate(model, examples, { batchSize, padId });
      const result = { loss: r.loss, perplexity: r.perplexity, tokens: r.targets, examples: examples.length };
      process.stdout.write(
        f.json ? `${JSON.stringify(result)}\n` : `loss ${r.loss.toFixed(4)}  perplexity ${r.perplexity.toFixed(3)}  (${r.targets} tokens, ${examples.length} examples)\n`,
      );
    });
}
