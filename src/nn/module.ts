// Modules: a tree of named children and parameters, discovered from properties the way PyTorch's
// nn.Module registers them. Property names are the checkpoint keys (`self_attn`, `q_proj`), so a module
// path such as `model.layers.3.self_attn.q_proj` is both the state-dict prefix and where LoRA attaches.

import { Tensor } from "../tensor/tensor.ts";
import { QuantizedTensor } from "../quant/types.ts";

export type Parameter = Tensor | QuantizedTensor;

export abstract class Module {
  /** Training mode (dropout active). */
  training = false;

  /** Direct children: properties that are modules, and arrays of modules as numbered children. */
  children(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [key, value] of Object.entries(this)) {
      if (value instanceof Module) out.push([key, value]);
      else if (Array.isArray(value) && value.length > 0 && value[0] instanceof Module) {
        (value as Module[]).forEach((m, i) => out.push([`${key}.${i}`, m]));
      }
    }
    return out;
  }

  /** Parameters held directly by this module (tensors and quantized weights as properties). */
  ownParameters(): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const [key, value] of Object.entries(this)) {
      if (value instanceof Tensor || value instanceof QuantizedTensor) out.push([key, value]);
    }
    return out;
  }

  /** Every module in the tree with its dotted path, this one first (path ""). */
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.children()) out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  /** Every parameter with its state-dict name; a shared (tied) tensor is listed once, under its first name. */
  namedParameters(): [string, Parameter][] {
    const seen = new Set<Parameter>();
    const out: [string, Parameter][] = [];
    for (const [path, m] of this.namedModules()) {
      for (const [key, p] of m.ownParameters()) {
        if (seen.has(p)) continue;
        seen.add(p);
        out.push([path ? `${path}.${key}` : key, p]);
      }
    }
    return out;
  }

  /** Float parameters that receive gradients. */
  trainableParameters(): [string, Tensor][] {
    return this.namedParameters().filter((e): e is [string, Tensor] => e[1] instanceof Tensor && e[1].requiresGrad);
  }

  getModule(path: string): Module {
    for (const [p, m] of this.namedModules()) if (p === path) return m;
    throw new Error(`no module named '${path}'`);
  }

  /** Replaces the child at a dotted path (used by adapters to wrap a layer). */
  setModule(path: string, replacement: Module): void {
    const dot = path.lastIndexOf(".");
    const parent = dot < 0 ? this : this.getModule(path.slice(0, dot));
    const key = path.slice(dot + 1);
    const holder = parent as unknown as Record<string, unknown>;
    const prev = parent.children().find(([n]) => n === key);
    if (!prev) throw new Error(`no module named '${path}'`);
    const listDot = key.lastIndexOf(".");
    if (listDot >= 0) (holder[key.slice(0, listDot)] as Module[])[Number(key.slice(listDot + 1))] = replacement;
    else holder[key] = replacement;
  }

  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Freezes (or unfreezes) every float parameter. */
  requiresGrad(on: boolean): this {
    for (const [, p] of this.namedParameters()) {
      if (p instanceof Tensor) {
        p.requiresGrad = on && p.dtype === "float32";
        if (!p.requiresGrad) p.grad = null;
      }
    }
    return this;
  }

  zeroGrad(): void {
    for (const [, p] of this.namedParameters()) if (p instanceof Tensor && p.grad) p.grad.data.fill(0);
  }
}
