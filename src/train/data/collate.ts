// Examples → one right-padded batch: ids padded with padId, labels with −100 (no loss), mask 0 on pads.

import { IGNORE_INDEX } from "../../ops/loss.ts";
import { DataError, type Batch, type Example } from "./types.ts";

export interface CollateOptions {
  padId: number;
  /** Round T up to a multiple of this (kernels that like aligned rows); default 1. */
  padToMultipleOf?: number;
}

export function collate(examples: readonly Example[], { padId, padToMultipleOf = 1 }: CollateOptions): Batch {
  if (examples.length === 0) throw new DataError("collate: no examples");
  if (!(Number.isInteger(padToMultipleOf) && padToMultipleOf > 0)) throw new DataError(`collate: padToMultipleOf must be a positive integer, got ${padToMultipleOf}`);
  const B = examples.length;
  const longest = Math.max(...examples.map((e) => e.ids.length));
  const T = Math.ceil(longest / padToMultipleOf) * padToMultipleOf;
  const ids = new Int32Array(B * T).fill(padId);
  const labels = new Int32Array(B * T).fill(IGNORE_INDEX);
  const attentionMask = new Uint8Array(B * T);
  let tokens = 0;
  examples.forEach((e, b) => {
    if (e.labels.length !== e.ids.length) throw new DataError(`collate: example ${b} has ${e.ids.length} ids but ${e.labels.length} labels`);
    ids.set(e.ids, b * T);
    labels.set(e.labels, b * T);
    attentionMask.fill(1, b * T, b * T + e.ids.length);
    for (let t = 1; t < e.labels.length; t++) if (e.labels[t] !== IGNORE_INDEX) tokens++;
  });
  return { ids, labels, attentionMask, B, T, tokens };
}
