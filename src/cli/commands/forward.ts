// peft-ts forward: one forward pass over token ids from a safetensors file, for comparing against other
// implementations. Input: input_ids [B, T] (I64 or I32), optional attention_mask and labels (-100 ignored).
// Output: logits (F32 [B, T, V]) and, with labels, loss (F32 [1], transformers' shifted mean).

import type { Command } from "commander";
import { SafetensorsReader, writeSafetensors } from "../../io/safetensors.ts";
import { Tensor, idsToInt32 } from "../../tensor/tensor.ts";
import { noGrad } from "../../autograd/engine.ts";
import { loadForInference } from "../../train/model.ts";

export function register(program: Command): void {
  program
    .command("forward")
    .description("run one forward pass on input_ids from a safetensors file and write the logits (and loss)")
    .requiredOption("--model <dir>", "Hugging Face model folder")
    .option("--adapter <dir>", "PEFT adapter folder to apply")
    .requiredOption("--input <file>", "safetensors with input_ids [B, T], optional attention_mask, labels")
    .requiredOption("--out <file>", "safetensors to write: logits [B, T, V], loss [1] with labels")
    .action(async (f: { model: string; adapter?: string; input: string; out: string }) => {
      const r = SafetensorsReader.open(f.input);
      let ids: Int32Array, B: number, T: number, mask: Uint8Array | null, labels: Int32Array | null;
      try {
        if (!r.has("input_ids")) throw new Error(`forward: ${f.input} has no "input_ids" tensor`);
        const t = r.read("input_ids");
        if (t.shape.length !== 2) throw new Error(`forward: input_ids must be [B, T], got [${t.shape.join(", ")}]`);
        [B, T] = t.shape as [number, number];
        ids = idsToInt32(t);
        mask = r.has("attention_mask") ? Uint8Array.from(idsToInt32(r.read("attention_mask"))) : null;
        labels = r.has("labels") ? idsToInt32(r.read("labels")) : null;
        if (mask && mask.length !== B * T) throw new Error(`forward: attention_mask must be [${B}, ${T}]`);
        if (labels && labels.length !== B * T) throw new Error(`forward: labels must be [${B}, ${T}]`);
      } finally {
        r.close();
      }
      const model = await loadForInference(f.model, f.adapter);
      const vocab = model.config.vocabSize;
      const bad = ids.findIndex((i) => i < 0 || i >= vocab);
      if (bad >= 0) throw new Error(`forward: input_ids[${bad}] = ${ids[bad]} is outside the vocabulary of ${vocab}`);
      const out = noGrad(() => model.forward({ ids, B, T, attentionMask: mask, labels, logits: "all" }));
      const tensors: [string, Tensor][] = [["logits", out.logits!]];
      if (out.loss) tensors.push(["loss", Tensor.fromArray([out.loss.item()], [1])]);
      writeSafetensors(f.out, tensors);
      const loss = out.loss ? `, loss ${out.loss.item().toFixed(6)}` : "";
      process.stdout.write(`wrote ${f.out}: logits [${B}, ${T}, ${vocab}]${loss}\n`);
    });
}
