// Packing: several short examples concatenated into one sequence of at most maxSeqLen tokens, so a batch
// carries less padding. Best-fit decreasing: longest examples first, each into the open sequence with
// the least room that still fits it; an example is never split.
//
// This is the common naive packing: attention is NOT reset at example boundaries (a token may attend to
// the examples packed before it) and positions run on across them. Labels keep their masks; in addition
// each example's first label is set to −100, so no example is trained to predict its first token from
// the previous example's end (unpacked, position 0 is never a target either).

import { IGNORE_INDEX } from "../../ops/loss.ts";
import { DataError, type Example } from "./types.ts";

export function packExamples(examples: readonly Example[], maxSeqLen: number): Example[] {
  const order = examples.map((e, i) => {
    if (e.ids.length > maxSeqLen) throw new DataError(`packExamples: example ${i} has ${e.ids.length} tokens, more than maxSeqLen ${maxSeqLen}`);
    return i;
  });
  order.sort((a, b) => examples[b]!.ids.length - examples[a]!.ids.length || a - b);
  const bins: number[][] = [];
  const used: number[] = [];
  // byRoom[r]: open sequences with exactly r tokens of room left.
  const byRoom: number[][] = Array.from({ length: maxSeqLen + 1 }, () => []);
  for (const i of order) {
    const len = examples[i]!.ids.length;
    let room = len;
    while (room <= maxSeqLen && byRoom[room]!.length === 0) room++;
    let bin: number;
    if (room <= maxSeqLen) bin = byRoom[room]!.pop()!;
    else {
      bin = bins.length;
      bins.push([]);
      used.push(0);
    }
    bins[bin]!.push(i);
    used[bin]! += len;
    byRoom[maxSeqLen - used[bin]!]!.push(bin);
  }
  return bins.map((members, b) => concat(members.map((i) => examples[i]!), used[b]!));
}

function concat(parts: readonly Example[], length: number): Example {
  const ids = new Int32Array(length);
  const labels = new Int32Array(length);
  let at = 0;
  for (const e of parts) {
    ids.set(e.ids, at);
    labels.set(e.labels, at);
    labels[at] = IGNORE_INDEX;
    at += e.ids.length;
  }
  return { ids, labels };
}
