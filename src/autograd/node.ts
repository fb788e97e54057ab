// A recorded op in the autograd graph.

import type { Tensor } from "../tensor/tensor.ts";

export type GradFn = (dOut: Tensor<"float32">) => readonly (Tensor<"float32"> | null)[];

export interface GraphNode {
  /** Op name, for errors and profiles. */
  readonly op: string;
  /** The op's inputs, in the order `backward` returns their gradients. */
  readonly inputs: readonly Tensor[];
  /** Tensors backward reads; their storages are pinned until it has run. */
  saved: readonly Tensor[];
  /**
   * Returns the gradient for each input (null: none, or already accumulated into a leaf's `.grad` via
   * `leafGradTarget`). Cleared once run: a graph is used by one backward pass.
   */
  backward: GradFn | null;
  output: Tensor | null;
}
