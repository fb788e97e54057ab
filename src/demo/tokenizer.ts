// The demo model's tokenizer: GPT-2's byte-level BPE, cut to its first merges.
//
// BPE learns merges in order, and GPT-2's token ids follow that order (id 256 + i is the result of merge
// i), so keeping the 256 byte tokens and the first V − 257 merges gives exactly the tokenizer GPT-2's
// training would have produced had it stopped at V − 1 tokens. A small vocabulary keeps the demo model to
// a few megabytes; the tokenizer stays a real one, run by the same library as any Hugging Face tokenizer.

type Json = Record<string, any>;

export function truncateByteLevelBpe(tokenizerJson: Json, vocabSize: number): Json {
  const model = tokenizerJson.model as Json;
  if (model.type !== "BPE") throw new Error(`expected a BPE tokenizer, got ${model.type}`);
  const merges = (model.merges as (string | [string, string])[]).slice(0, vocabSize - 257);
  const vocab: Record<string, number> = {};
  for (const [token, id] of Object.entries(model.vocab as Record<string, number>)) {
    if (id < 256 + merges.length) vocab[token] = id;
  }
  merges.forEach((m, i) => {
    const [a, b] = typeof m === "string" ? m.split(" ") : m;
    if (vocab[a! + b!] !== 256 + i) throw new Error(`merge ${i} (${a} ${b}) does not produce token ${256 + i}`);
  });
  const eosId = 256 + merges.length;
  const added: Json[] = (tokenizerJson.added_tokens as Json[]).map((t) => ({ ...t, id: eosId }));
  vocab[added[0]!.content] = eosId;
  return { ...tokenizerJson, added_tokens: added, model: { ...model, vocab, merges } };
}
