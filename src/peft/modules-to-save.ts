// modules_to_save: a module trained in full next to the adapters (a new head, the embeddings), as PEFT's
// ModulesToSaveWrapper (utils/other.py) holds it: the untouched `original_module` and one trainable float32
// copy per adapter under `modules_to_save.<adapter>`. Forward goes through the active adapter's copy, or
// the original when adapters are disabled or the active adapter has no copy. Parameter names are PEFT's
// (`lm_head.modules_to_save.default.weight`); saved keys drop `modules_to_save.<adapter>.`.

import { Tensor } from "../tensor/tensor.ts";
import { QuantizedTensor } from "../quant/types.ts";
import { Module } from "../nn/index.ts";
import { ModuleDict } from "./lora-layer.ts";
import { toFloat32Tensor } from "./weight-rows.ts";

export class ModulesToSaveWrapper extends Module {
  original_module: Module;
  modules_to_save = new ModuleDict<Module>();
  #active: string | null = null;
  #disabled = false;

  constructor(original: Module) {
    super();
    this.original_module = original;
  }

  get activeAdapter(): string | null {
    return this.#active;
  }

  get adapterNames(): string[] {
    return this.modules_to_save.keys();
  }

  /** Adds a trainable float32 copy of the original module for adapter `name`. */
  addAdapter(name: string): void {
    if (!this.modules_to_save.has(name)) this.modules_to_save.set(name, cloneAsFloat32(this.original_module));
  }

  deleteAdapter(name: string): void {
    this.modules_to_save.delete(name);
    if (this.#active === name) this.#active = null;
  }

  /** The copy forward uses: null means the original module. */
  setActive(name: string | null): void {
    this.#active = name;
  }

  setDisabled(disabled: boolean): void {
    this.#disabled = disabled;
  }

  setTrainable(name: string, on: boolean): void {
    this.modules_to_save.get(name)?.requiresGrad(on);
  }

  /** The module forward runs now. */
  current(): Module {
    const copy = this.#active === null || this.#disabled ? undefined : this.modules_to_save.get(this.#active);
    return copy ?? this.original_module;
  }

  /** Delegates with whatever arguments the wrapped module takes (Linear: x; Embedding: ids, shape). */
  forward(...args: unknown[]): Tensor {
    return (this.current() as unknown as { forward(...a: unknown[]): Tensor }).forward(...args);
  }

  /** The wrapped module's weight, for code that reads `.weight` (tying at build time, fused losses). */
  get weight(): unknown {
    return (this.current() as unknown as { weight?: unknown }).weight;
  }
}

/** A copy of a module whose tensors are fresh float32 copies (frozen weights of any dtype become trainable-ready). */
export function cloneAsFloat32<T extends Module>(m: T): T {
  const copy = Object.create(Object.getPrototypeOf(m)) as Record<string, unknown>;
  for (const [key, value] of Object.entries(m)) copy[key] = cloneValue(value);
  return copy as unknown as T;
}

function cloneValue(value: unknown): unknown {
  if (value instanceof Tensor) return value.dtype === "float32" || value.dtype === "bfloat16" || value.dtype === "float16" ? toFloat32Tensor(value) : value;
  if (value instanceof QuantizedTensor) return toFloat32Tensor(value);
  if (value instanceof Module) return cloneAsFloat32(value);
  if (Array.isArray(value) && value.length > 0 && value[0] instanceof Module) return value.map((m: Module) => cloneAsFloat32(m));
  return value;
}
