// The data position: micro-batches in a fixed order that is a pure function of (seed, epoch), so a
// resumed run sees exactly the batches the uninterrupted run would have seen. One optimizer step takes
// up to gradAccum micro-batches and never crosses an epoch's end (the last step of an epoch may take fewer,
// as transformers' Trainer does).

import type { Batch, Example } from "./data/index.ts";

interface DataOrder {
  epochOrder(n: number, seed: number, epoch: number): ArrayLike<number>;
  collate(examples: Example[], o: { padId: number }): Batch;
}

export interface DataPosition {
  epoch: number;
  /** Index of the next micro-batch in the epoch's order. */
  batchInEpoch: number;
}

export class BatchStream {
  readonly batchesPerEpoch: number;
  #order: { epoch: number; order: ArrayLike<number> } | null = null;

  constructor(
    private readonly data: DataOrder,
    private readonly examples: readonly Example[],
    private readonly batchSize: number,
    private readonly seed: number,
    private readonly padId: number,
    public position: DataPosition = { epoch: 0, batchInEpoch: 0 },
  ) {
    if (examples.length === 0) throw new Error("training data: no examples");
    this.batchesPerEpoch = Math.ceil(examples.length / batchSize);
  }

  /** Optimizer steps per epoch for a given accumulation. */
  stepsPerEpoch(gradAccum: number): number {
    return Math.ceil(this.batchesPerEpoch / gradAccum);
  }

  /** The micro-batches of the next optimizer step; advances the position. */
  nextWindow(gradAccum: number): Batch[] {
    const out: Batch[] = [];
    const { epoch } = this.position;
    while (out.length < gradAccum && this.position.batchInEpoch < this.batchesPerEpoch) {
      out.push(this.#batch(epoch, this.position.batchInEpoch++));
    }
    if (this.position.batchInEpoch >= this.batchesPerEpoch) this.position = { epoch: epoch + 1, batchInEpoch: 0 };
    return out;
  }

  /** Fractional epochs completed (for logs). */
  get epochProgress(): number {
    return this.position.epoch + this.position.batchInEpoch / this.batchesPerEpoch;
  }

  #batch(epoch: number, index: number): Batch {
    if (this.#order?.epoch !== epoch) this.#order = { epoch, order: this.data.epochOrder(this.examples.length, this.seed, epoch) };
    const order = this.#order.order;
    const picked: Example[] = [];
    for (let i = index * this.batchSize; i < Math.min((index + 1) * this.batchSize, order.length); i++) picked.push(this.examples[order[i]!]!);
    return this.data.collate(picked, { padId: this.padId });
  }
}
