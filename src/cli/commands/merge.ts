// `peft-ts merge`: fold a PEFT LoRA adapter into its base model and write a Hugging Face checkpoint folder
// (safetensors, config.json, tokenizer files) that loadModel and transformers load as a plain model.
// The base is read as stored (bf16 stays bf16 in memory); each merged weight is computed in float32 and
// rounded once to the output dtype. Merge into the original (unquantized) base model: a QLoRA adapter
// trained on an NF4 copy merges into the float weights, as PEFT recommends.

import { Command, Option } from "commander";
import { loadModel } from "../../models/load.ts";
import { loadPeftModel, saveMergedModel, type ExportDtype } from "../../peft/index.ts";
import { checkAdapterFolder, checkModelFolder } from "../../models/folder-check.ts";

interface MergeCliOptions {
  model: string;
  adapter: string;
  out: string;
  dtype?: ExportDtype;
}

export function runMerge(o: MergeCliOptions): void {
  checkModelFolder(o.model);
  checkAdapterFolder(o.adapter);
  const model = loadModel(o.model, { dtype: "auto" });
  const dtype: ExportDtype = o.dtype ?? (model.config.dtype === "bfloat16" ? "bfloat16" : "float32");
  const peft = loadPeftModel(model, o.adapter, { isTrainable: false });
  saveMergedModel(peft, o.model, o.out, { dtype });
  process.stdout.write(`merged ${o.adapter} (${peft.loraLayers().length} LoRA layers) into ${o.model}; wrote ${o.out} (${dtype})\n`);
}

export function register(program: Command): void {
  program
    .command("merge")
    .description("merge a LoRA adapter (PEFT format) into its base model and save a Hugging Face checkpoint")
    .requiredOption("--model <dir>", "the base model folder (Hugging Face format)")
    .requiredOption("--adapter <dir>", "the adapter folder (adapter_config.json + adapter_model.safetensors)")
    .requiredOption("--out <dir>", "where to write the merged model folder")
    .addOption(new Option("--dtype <dtype>", "weight dtype of the output (default: the base model's)").choices(["float32", "bfloat16"]))
    .action((opts: MergeCliOptions) => runMerge(opts));
}
