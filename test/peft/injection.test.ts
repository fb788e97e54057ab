// Which modules get an adapter, as a table of (name, config, expected) rows over tiny models, in the style
// of PEFT's TEST_CASES (tests/test_custom_models.py): target lists, suffix matching, regex, all-linear,
// layers_to_transform / layers_pattern, rank and alpha patterns, exclude_modules, modules_to_save.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { getPeftModel, isTargetModule, layerIndexOf, InjectionError, LoraLinear, ModulesToSaveWrapper, type LoraConfig } from "../../src/peft/index.ts";
import { tinyModel } from "./fixture-helpers.ts";

const ATTN = ["q_proj", "k_proj", "v_proj", "o_proj"];
const MLP = ["gate_proj", "up_proj", "down_proj"];
const path = (layer: number, name: string) => `model.layers.${layer}.${ATTN.includes(name) ? "self_attn" : "mlp"}.${name}`;
const all = (names: string[], layers = [0, 1]) => layers.flatMap((l) => names.map((n) => path(l, n)));

interface Row {
  name: string;
  config: Partial<LoraConfig>;
  /** Wrapped module paths (sorted compare), or the error message expected. */
  expect: string[] | RegExp;
  arch?: "llama" | "gpt2";
  /** path → [r, alpha] for a few modules. */
  ranks?: Record<string, [number, number]>;
  saved?: string[];
}

const ROWS: Row[] = [
  { name: "list of names", config: { target_modules: ["q_proj", "v_proj"] }, expect: all(["q_proj", "v_proj"]) },
  { name: "dotted suffix", config: { target_modules: ["self_attn.q_proj"] }, expect: all(["q_proj"]) },
  { name: "suffix must start at a dot", config: { target_modules: ["proj"] }, expect: /not found in the base model/ },
  { name: "exact full path", config: { target_modules: ["model.layers.1.mlp.up_proj"] }, expect: [path(1, "up_proj")] },
  { name: "regex, full match", config: { target_modules: String.raw`.*\.(q|k)_proj` }, expect: all(["q_proj", "k_proj"]) },
  { name: "regex must match the whole path", config: { target_modules: "q_proj" }, expect: /not found in the base model/ },
  { name: "regex on layer 1's MLP", config: { target_modules: String.raw`model\.layers\.1\.mlp\..*` }, expect: all(MLP, [1]) },
  { name: "all-linear: every projection, not lm_head", config: { target_modules: "all-linear" }, expect: all([...ATTN, ...MLP]) },
  { name: "ALL-LINEAR in capitals", config: { target_modules: "ALL-LINEAR" }, expect: all([...ATTN, ...MLP]) },
  { name: "default targets for llama", config: {}, expect: all(["q_proj", "v_proj"]) },
  { name: "default targets for gpt2", config: {}, arch: "gpt2", expect: ["transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"] },
  { name: "gpt2 all-linear (Conv1D)", config: { target_modules: "all-linear" }, arch: "gpt2", expect: [0, 1].flatMap((l) => [`transformer.h.${l}.attn.c_attn`, `transformer.h.${l}.attn.c_proj`, `transformer.h.${l}.mlp.c_fc`, `transformer.h.${l}.mlp.c_proj`]) },
  { name: "layers_to_transform list", config: { target_modules: ["q_proj"], layers_to_transform: [1] }, expect: [path(1, "q_proj")] },
  { name: "layers_to_transform int + layers_pattern", config: { target_modules: ["o_proj"], layers_to_transform: 0, layers_pattern: "layers" }, expect: [path(0, "o_proj")] },
  { name: "layers_pattern that names no layer list", config: { target_modules: ["q_proj"], layers_to_transform: [0], layers_pattern: ["h"] }, expect: /not found/ },
  { name: "gpt2 layers_pattern h", config: { target_modules: ["c_fc"], layers_to_transform: [1], layers_pattern: "h" }, arch: "gpt2", expect: ["transformer.h.1.mlp.c_fc"] },
  {
    name: "rank_pattern and alpha_pattern",
    config: { target_modules: ["q_proj", "v_proj"], r: 4, lora_alpha: 8, rank_pattern: { q_proj: 2, [String.raw`layers\.1\.self_attn\.v_proj`]: 6 }, alpha_pattern: { "layers.0.self_attn.v_proj": 32 } },
    expect: all(["q_proj", "v_proj"]),
    ranks: { [path(0, "q_proj")]: [2, 8], [path(1, "q_proj")]: [2, 8], [path(0, "v_proj")]: [4, 32], [path(1, "v_proj")]: [6, 8] },
  },
  { name: "exclude_modules list", config: { target_modules: "all-linear", exclude_modules: ["mlp.down_proj", "layers.0.self_attn.k_proj"] }, expect: all([...ATTN, "gate_proj", "up_proj"]).filter((p) => p !== path(0, "k_proj")) },
  { name: "exclude_modules regex", config: { target_modules: ["q_proj", "k_proj"], exclude_modules: String.raw`.*layers\.0\..*` }, expect: all(["q_proj", "k_proj"], [1]) },
  { name: "modules_to_save wraps lm_head, no LoRA in it", config: { target_modules: "all-linear", modules_to_save: ["lm_head"] }, expect: all([...ATTN, ...MLP]), saved: ["lm_head"] },
  { name: "a non-linear target is refused", config: { target_modules: ["mlp"] }, expect: /not supported: LoRA wraps linear layers/ },
];

describe("LoRA injection table", () => {
  for (const row of ROWS) {
    it(row.name, () => {
      const model = tinyModel({ arch: row.arch });
      if (row.expect instanceof RegExp) {
        assert.throws(() => getPeftModel(model, row.config), (e: Error) => e instanceof InjectionError && (row.expect as RegExp).test(e.message));
        assert.ok(!model.namedModules().some(([, m]) => m instanceof LoraLinear), "a refused config leaves the model untouched");
        return;
      }
      const peft = getPeftModel(model, row.config);
      const wrapped = peft.loraLayers().map(([p]) => p);
      assert.deepEqual([...wrapped].sort(), [...row.expect].sort());
      for (const [p, [r, alpha]] of Object.entries(row.ranks ?? {})) {
        const layer = model.getModule(p) as LoraLinear;
        assert.equal(layer.settings("default").r, r, `r of ${p}`);
        assert.equal(layer.settings("default").lora_alpha, alpha, `alpha of ${p}`);
        assert.deepEqual(layer.A("default").shape, [r, layer.inFeatures]);
        assert.equal(layer.scaling("default"), alpha / r);
      }
      const saved = model.namedModules().filter(([, m]) => m instanceof ModulesToSaveWrapper).map(([p]) => p);
      assert.deepEqual(saved, row.saved ?? []);
    });
  }

  it("the predicate alone: exact name, dotted suffix, regex, excludes, layer indices", () => {
    const base = { exclude_modules: null, layers_to_transform: null, layers_pattern: null, modules_to_save: null };
    assert.equal(isTargetModule({ ...base, target_modules: ["q_proj"] }, "model.layers.0.self_attn.q_proj"), true);
    assert.equal(isTargetModule({ ...base, target_modules: ["q_proj"] }, "q_proj"), true);
    assert.equal(isTargetModule({ ...base, target_modules: ["q_proj"] }, "model.layers.0.self_attn.xq_proj"), false);
    assert.equal(isTargetModule({ ...base, target_modules: "q_proj" }, "model.q_proj"), false);
    assert.equal(isTargetModule({ ...base, target_modules: ["q_proj"], exclude_modules: ["q_proj"] }, "a.q_proj"), false);
    assert.equal(isTargetModule({ ...base, target_modules: ["q_proj"], modules_to_save: ["self_attn"] }, "a.self_attn.q_proj"), false);
    assert.equal(isTargetModule({ ...base, target_modules: ["q_proj"], layers_to_transform: [3] }, "model.layers.3.self_attn.q_proj"), true);
    assert.equal(isTargetModule({ ...base, target_modules: ["q_proj"], layers_to_transform: [3] }, "model.layers.2.self_attn.q_proj"), false);
    assert.equal(layerIndexOf("model.decoder.blocks.12.attn.q", null), 12);
    assert.equal(layerIndexOf("model.decoder.blocks.12.attn.q", "layers"), null);
  });

  it("a second adapter extends the existing LoRA layers instead of wrapping them again", () => {
    const model = tinyModel();
    const peft = getPeftModel(model, { target_modules: ["q_proj"] });
    peft.addAdapter("other", { target_modules: ["q_proj", "v_proj"], r: 2 });
    const q = model.getModule(path(0, "q_proj")) as LoraLinear;
    assert.deepEqual(q.adapterNames, ["default", "other"]);
    assert.ok(q.base_layer.constructor.name === "Linear", "wrapped once");
    assert.deepEqual((model.getModule(path(0, "v_proj")) as LoraLinear).adapterNames, ["other"]);
    assert.deepEqual(peft.activeAdapters, ["default"]);
    assert.ok(peft.trainableParameters().every(([n]) => n.includes(".default.")), "an added adapter is not trainable until activated");
  });
});
