// The data pipeline's records: a tokenized example and a padded batch.

/** Token ids and their labels; a label of −100 (IGNORE_INDEX) takes no loss. Not yet shifted. */
export interface Example {
  ids: Int32Array;
  labels: Int32Array;
}

/** B rows of T tokens, right-padded, row-major [B, T]. */
export interface Batch {
  ids: Int32Array;
  labels: Int32Array;
  /** 1 = real token, 0 = padding. */
  attentionMask: Uint8Array;
  B: number;
  T: number;
  /** Labels that take a loss after the model's shift by one (position 0 of a row predicts nothing). */
  tokens: number;
}

/** A malformed data file or line; the message starts with `file:line:` where a line is at fault. */
export class DataError extends Error {}
