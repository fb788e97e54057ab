// Reverse-mode autograd with deterministic memory release.
//
// Ops call `record()` with what their backward needs. `backward()` walks the graph once in reverse
// topological order; after each node it releases the node's saved tensors and output (unless kept or still
// pinned) and every gradient buffer nothing will read again, so a training step's peak is the forward
// activations plus the gradients in flight. Leaves that require grad accumulate into `.grad`, allocated
// once and kept; frozen parameters never get a gradient buffer.

import { Tensor } from "../tensor/tensor.ts";
import type { Storage } from "../tensor/storage.ts";
import { backend } from "../backend/index.ts";
import type { GradFn, GraphNode } from "./node.ts";

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording: inference, evaluation, optimizer updates. */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

export function withGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = true;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** True when an op over these inputs must record a node. */
export function needsGrad(...inputs: readonly (Tensor | null | undefined)[]): boolean {
  return gradEnabled && inputs.some((t) => t?.requiresGrad);
}

/**
 * Attaches a backward to `output` when any input requires grad; `saved` are pinned until it runs.
 * Inputs given as null (e.g. an absent bias) get no gradient.
 */
export function record<T extends Tensor>(
  op: string,
  output: T,
  inputs: readonly (Tensor | null | undefined)[],
  saved: readonly Tensor[],
  backwardFn: GradFn,
): T {
  if (!needsGrad(...inputs)) return output;
  const live = inputs.map((t) => t ?? DETACHED);
  for (const t of saved) t.storage.pins++;
  output.requiresGrad = true;
  output.node = { op, inputs: live, saved, backward: backwardFn, output } satisfies GraphNode;
  return output;
}

const DETACHED = Tensor.zeros([0]);

/**
 * For an op whose input `t` is a leaf requiring grad: the leaf's `.grad` buffer (created zeroed on first
 * use) so the op can accumulate into it directly (e.g. GEMM with beta = 1) and return null for it.
 * Returns null when `t` is not such a leaf.
 */
export function leafGradTarget(t: Tensor): Tensor<"float32"> | null {
  if (t.node !== null || !t.requiresGrad) return null;
  if (!t.grad) t.grad = ensureLeafGrad(t);
  return t.grad;
}

function ensureLeafGrad(t: Tensor): Tensor<"float32"> {
  const g = Tensor.zeros(t.shape);
  g.storage.kept = true;
  return g;
}

function topoOrder(root: Tensor): GraphNode[] {
  const order: GraphNode[] = [];
  const visited = new Set<GraphNode>();
  const stack: [GraphNode, number][] = [];
  if (root.node) stack.push([root.node, 0]);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [node, i] = top;
    if (i === 0 && visited.has(node)) {
      stack.pop();
      continue;
    }
    visited.add(node);
    if (i < node.inputs.length) {
      top[1]++;
      const child = node.inputs[i]!.node;
      if (child && !visited.has(child)) stack.push([child, 0]);
    } else {
      stack.pop();
      order.push(node);
    }
  }
  return order.reverse();
}

/** Backpropagates from `root` (a scalar unless `dRoot` is given). The graph is consumed. */
export function backward(root: Tensor, dRoot?: Tensor<"float32">): void {
  if (!root.requiresGrad) throw new Error("backward: tensor does not require grad (nothing to differentiate)");
  if (!root.node) {
    if (root.grad === null && dRoot) accumulateLeaf(root, dRoot);
    return;
  }
  if (!dRoot) {
    if (root.size !== 1) throw new Error(`backward: root has ${root.size} elements; pass its gradient`);
    dRoot = Tensor.empty(root.shape);
    dRoot.data[0] = 1;
  }
  root.storage.kept = true;

  const pending = new Map<Tensor, Tensor<"float32">>();
  const refs = new Map<Storage, number>();
  const ref = (s: Storage, d: number) => refs.set(s, (refs.get(s) ?? 0) + d);
  pending.set(root, dRoot);
  ref(dRoot.storage, 1);

  for (const node of topoOrder(root)) {
    const out = node.output!;
    const dOut = pending.get(out);
    const fn = node.backward;
    node.backward = null;
    if (fn === null) throw new Error(`backward: graph through '${node.op}' was already used by a backward pass`);
    let grads: readonly (Tensor<"float32"> | null)[] = [];
    if (dOut) {
      pending.delete(out);
      ref(dOut.storage, -1);
      grads = fn(dOut);
      node.inputs.forEach((input, i) => {
        const g = grads[i];
        if (!g || input === DETACHED || !input.requiresGrad) return;
        if (input.node === null) accumulateLeaf(input, g);
        else addPending(pending, refs, input, g);
      });
    }
    for (const t of node.saved) {
      t.storage.pins--;
      t.storage.releaseIfUnused();
    }
    node.saved = [];
    node.output = null;
    if (out !== root) {
      out.node = null;
      out.storage.releaseIfUnused();
    }
    for (const g of dOut ? [dOut, ...grads] : grads) {
      if (g && (refs.get(g.storage) ?? 0) === 0) g.storage.releaseIfUnused();
    }
  }
  root.node = null;
}

function accumulateLeaf(leaf: Tensor, g: Tensor<"float32">): void {
  if (!leaf.grad) leaf.grad = ensureLeafGrad(leaf);
  backend().axpy(leaf.grad.data, g.data, 1, g.size);
}

function addPending(
  pending: Map<Tensor, Tensor<"float32">>,
  refs: Map<Storage, number>,
  input: Tensor,
  g: Tensor<"float32">,
): void {
  const prev = pending.get(input);
  if (!prev) {
    pending.set(input, g);
    refs.set(g.storage, (refs.get(g.storage) ?? 0) + 1);
    return;
  }
  if (refs.get(prev.storage) === 1 && prev.storage.releasable && prev.storage !== g.storage) {
    backend().axpy(prev.data, g.data, 1, g.size);
    return;
  }
  const sum = Tensor.empty(input.shape);
  backend().add(prev.data, g.data, sum.data, g.size);
  refs.set(prev.storage, refs.get(prev.storage)! - 1);
  if (refs.get(prev.storage) === 0) prev.storage.releaseIfUnused();
  pending.set(input, sum);
  refs.set(sum.storage, 1);
}
