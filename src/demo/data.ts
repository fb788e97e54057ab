// The demo's data: Brown corpus genres split into pretraining text (the non-fiction genres: news,
// editorials, reviews, religion, hobbies, lore, essays, government, learned writing) and the fine-tuning
// task, imaginative prose the base never saw (general fiction, mystery, science fiction, adventure,
// romance, humor), with some of those documents kept for validation.
// Each JSONL line is {"text": ...}: a run of paragraphs up to a character budget, so lines tokenize to
// about one training sequence.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readBrown, type BrownDocument } from "./brown.ts";

export const HELD_OUT_GENRES = ["fiction", "mystery", "science_fiction", "adventure", "romance", "humor"];

/** Every VALIDATION_EVERY-th held-out document is validation data, the rest fine-tuning data. */
const VALIDATION_EVERY = 8;

export interface DemoSplits {
  pretrain: BrownDocument[];
  finetune: BrownDocument[];
  validation: BrownDocument[];
}

export function demoSplits(docs: BrownDocument[] = readBrown()): DemoSplits {
  const heldOut = docs.filter((d) => HELD_OUT_GENRES.includes(d.genre));
  return {
    pretrain: docs.filter((d) => !HELD_OUT_GENRES.includes(d.genre)),
    finetune: heldOut.filter((_, i) => i % VALIDATION_EVERY !== VALIDATION_EVERY - 1),
    validation: heldOut.filter((_, i) => i % VALIDATION_EVERY === VALIDATION_EVERY - 1),
  };
}

/** A paragraph longer than maxChars split at sentence ends (a single longer sentence stays whole). */
function pieces(paragraph: string, maxChars: number): string[] {
  if (paragraph.length <= maxChars) return [paragraph];
  const out: string[] = [];
  let cur = "";
  for (const sentence of paragraph.split(/(?<=[.!?]"?)\s+/)) {
    if (cur && cur.length + 1 + sentence.length > maxChars) {
      out.push(cur);
      cur = "";
    }
    cur = cur ? `${cur} ${sentence}` : sentence;
  }
  if (cur) out.push(cur);
  return out;
}

/** Consecutive paragraphs of each document joined into chunks of at most `maxChars` characters. */
export function textChunks(docs: BrownDocument[], maxChars: number): string[] {
  const out: string[] = [];
  for (const d of docs) {
    let cur = "";
    for (const p of d.paragraphs.flatMap((para) => pieces(para, maxChars))) {
      if (cur && cur.length + 1 + p.length > maxChars) {
        out.push(cur);
        cur = "";
      }
      cur = cur ? `${cur}\n${p}` : p;
    }
    if (cur) out.push(cur);
  }
  return out;
}

export function writeJsonl(path: string, texts: string[]): string {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, texts.map((text) => JSON.stringify({ text })).join("\n") + "\n");
  return path;
}
