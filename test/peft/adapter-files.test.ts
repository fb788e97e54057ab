// adapter_config.json parsing and adapter folders that do not fit the model: every problem is an error
// naming the key or tensor and the file, found before the model is changed.

import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tensor } from "../../src/tensor/tensor.ts";
import { SafetensorsReader, writeSafetensors } from "../../src/io/safetensors.ts";
import { loadModel } from "../../src/models/index.ts";
import {
  applyAdapterFromDir,
  AdapterFileError,
  InjectionError,
  LoraConfigError,
  LoraLinear,
  defaultLoraConfig,
  loadPeftModel,
  parseLoraConfig,
  readLoraConfig,
  serializeLoraConfig,
} from "../../src/peft/index.ts";
import { ADAPTERS, adapterFixture, logitsOf } from "./fixture-helpers.ts";
import { maxAbsDiff } from "../helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "peft-ts-adapter-files-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** A writable copy of a fixture adapter folder, with its tensors and config edited. */
function editedAdapter(
  name: string,
  edit: { tensors?: (t: Map<string, Tensor>) => void; config?: (c: Record<string, unknown>) => void },
): string {
  const src = join("test/fixtures/adapters", name);
  const dir = join(tmp, `a${n++}`);
  mkdirSync(dir);
  const reader = SafetensorsReader.open(join(src, "adapter_model.safetensors"));
  const tensors = new Map(reader.names().map((k) => [k, reader.read(k)]));
  reader.close();
  edit.tensors?.(tensors);
  writeSafetensors(join(dir, "adapter_model.safetensors"), tensors, { format: "pt" });
  const config = JSON.parse(readFileSync(join(src, "adapter_config.json"), "utf8"));
  edit.config?.(config);
  writeFileSync(join(dir, "adapter_config.json"), JSON.stringify(config));
  return dir;
}

const Q0 = "base_model.model.model.layers.0.self_attn.q_proj";

describe("adapter_config.json", () => {
  for (const name of ADAPTERS) {
    it(`${name}: parses, and serialises back to PEFT's key set and values`, () => {
      const file = join("test/fixtures/adapters", name, "adapter_config.json");
      const raw = JSON.parse(readFileSync(file, "utf8"));
      const notes: string[] = [];
      const config = readLoraConfig(join("test/fixtures/adapters", name), (m) => notes.push(m));
      assert.deepEqual(notes, [], "PEFT's defaults produce no notes");
      assert.equal(config.r, 4);
      assert.equal(config.lora_alpha, 8);
      assert.equal(config.use_dora, name === "llama-dora");
      assert.equal(config.use_rslora, name === "llama-rslora");
      assert.equal(config.fan_in_fan_out, name === "gpt2-lora");
      assert.deepEqual(JSON.parse(serializeLoraConfig(config)), raw, "written back exactly as PEFT wrote it");
      assert.deepEqual(parseLoraConfig(JSON.parse(serializeLoraConfig(config))).config, config);
    });
  }

  it("our defaults write every key PEFT 0.21 writes", () => {
    const fixture = JSON.parse(readFileSync("test/fixtures/adapters/llama-lora/adapter_config.json", "utf8"));
    assert.deepEqual(Object.keys(JSON.parse(serializeLoraConfig(defaultLoraConfig()))).sort(), Object.keys(fixture).sort());
  });

  it("keys PEFT writes but we ignore are accepted with a note when set; unknown keys too", () => {
    const { config, notes } = parseLoraConfig({ r: 2, corda_config: { x: 1 }, use_qalora: true, megatron_core: "megatron.core", brand_new_key: 3 }, "cfg.json");
    assert.equal(config.r, 2);
    assert.deepEqual(config.corda_config, { x: 1 }, "kept so a save writes it back");
    assert.equal(notes.length, 3, notes.join("\n"));
    assert.ok(notes.some((m) => m.includes('"corda_config"') && m.includes("cfg.json")));
    assert.ok(notes.some((m) => m.includes('"use_qalora"')));
    assert.ok(notes.some((m) => m.includes('unknown key "brand_new_key"')));
  });

  const BAD: [string, Record<string, unknown>, RegExp][] = [
    ["r = 0", { r: 0 }, /"r" must be a positive integer, got 0/],
    ["fractional r", { r: 2.5 }, /"r" must be a positive integer/],
    ["dropout 1", { lora_dropout: 1 }, /"lora_dropout" must be a number in \[0, 1\)/],
    ["bias", { bias: "some" }, /"bias" must be "none", "all" or "lora_only"/],
    ["peft_type", { peft_type: "IA3" }, /"peft_type" must be "LORA"/],
    ["target_modules", { target_modules: [1, 2] }, /"target_modules" must be a string or a list of strings/],
    ["rank_pattern", { rank_pattern: { q_proj: -1 } }, /"rank_pattern" entry "q_proj" must be a positive integer/],
    ["layers_to_transform with a regex", { target_modules: ".*q", layers_to_transform: [0] }, /"layers_to_transform" cannot be used when "target_modules" is a regex/],
    ["layers_pattern alone", { target_modules: ["q"], layers_pattern: "layers" }, /"layers_pattern" is set but "layers_to_transform" is not/],
    ["use_dora type", { use_dora: "yes" }, /"use_dora" must be true or false/],
  ];
  for (const [what, raw, re] of BAD) {
    it(`invalid ${what} is an error naming the key and the file`, () => {
      const dir = editedAdapter("llama-lora", { config: (c) => Object.assign(c, raw) });
      assert.throws(
        () => readLoraConfig(dir),
        (e: Error) => e instanceof LoraConfigError && re.test(e.message) && e.message.includes(join(dir, "adapter_config.json")),
      );
    });
  }
});

describe("adapter folders that do not fit the model", () => {
  const { baseDir } = adapterFixture("llama-lora");

  function assertRefused(dir: string, re: RegExp, kind: new (...a: never[]) => Error = AdapterFileError): void {
    const model = loadModel(baseDir);
    assert.throws(
      () => loadPeftModel(model, dir),
      (e: Error) => e instanceof kind && re.test(e.message),
    );
    assert.ok(!model.namedModules().some(([, m]) => m instanceof LoraLinear), "the model is unchanged after a refused load");
  }

  it("an extra tensor names the tensor and the file", () => {
    const dir = editedAdapter("llama-lora", {
      tensors: (t) => t.set("base_model.model.model.layers.0.self_attn.q_norm.lora_A.weight", Tensor.zeros([4, 64])),
    });
    assertRefused(dir, /adapter_model\.safetensors: tensor "base_model\.model\.model\.layers\.0\.self_attn\.q_norm\.lora_A\.weight" has no place/);
  });

  it("a wrong shape names the tensor, the file and both shapes", () => {
    const dir = editedAdapter("llama-lora", { tensors: (t) => t.set(`${Q0}.lora_A.weight`, Tensor.zeros([4, 63])) });
    assertRefused(dir, /tensor "base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight" has shape \[4, 63\], the model needs \[4, 64\]/);
  });

  it("a rank that disagrees with the config is a shape error", () => {
    const dir = editedAdapter("llama-lora", { config: (c) => (c.r = 8) });
    assertRefused(dir, /has shape \[4, \d+\], the model needs \[8, \d+\] \(r from the config is 8\)/);
  });

  it("a missing tensor is named", () => {
    const dir = editedAdapter("llama-lora", { tensors: (t) => t.delete(`${Q0}.lora_B.weight`) });
    assertRefused(dir, /missing 1 tensor\(s\) the config implies: base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_B\.weight/);
  });

  it("target modules missing from the model", () => {
    const dir = editedAdapter("llama-lora", { config: (c) => (c.target_modules = ["c_attn"]) });
    assertRefused(dir, /target modules \["c_attn"\] not found in the base model/, InjectionError);
  });

  it("an adapter for another architecture (GPT-2 onto Llama)", () => {
    const dir = editedAdapter("gpt2-lora", { config: (c) => (c.target_modules = ["q_proj"]) });
    assertRefused(dir, /tensor "base_model\.model\.transformer\.h\.0\.attn\.c_attn\.lora_A\.weight" has no place in this model/);
  });

  it("DoRA tensors in a config without use_dora", () => {
    const dir = editedAdapter("llama-dora", { config: (c) => (c.use_dora = false) });
    assertRefused(dir, /lora_magnitude_vector" has no place.*use_dora is false/);
  });

  it("no weights file; a pickle is named but not read", () => {
    const dir = join(tmp, "pickle");
    mkdirSync(dir);
    cpSync("test/fixtures/adapters/llama-lora/adapter_config.json", join(dir, "adapter_config.json"));
    writeFileSync(join(dir, "adapter_model.bin"), "not read");
    assertRefused(dir, /adapter_model\.safetensors: not found \(adapter_model\.bin, a pickle, is not read/);
  });

  it("keys that still carry an adapter name load like PEFT's set_peft_model_state_dict", () => {
    const { dir: src, batch } = adapterFixture("llama-dora");
    const dir = editedAdapter("llama-dora", {
      tensors: (t) => {
        for (const [k, v] of [...t]) {
          t.delete(k);
          t.set(k.replace(/\.lora_([AB])\.weight$/, ".lora_$1.default.weight").replace(/\.lora_magnitude_vector$/, ".lora_magnitude_vector.default.weight"), v);
        }
      },
    });
    const expected = logitsOf(loadPeftModel(loadModel(baseDir), src), batch);
    assert.deepEqual(logitsOf(loadPeftModel(loadModel(baseDir), dir), batch), expected);
  });

  it("applyAdapterFromDir (for --adapter on generate / forward): active, frozen, PEFT's logits", () => {
    const { dir: src, ref, batch } = adapterFixture("llama-lora");
    const peft = applyAdapterFromDir(loadModel(baseDir), src);
    assert.equal(peft.parameterReport().trainable, 0);
    assert.deepEqual(peft.activeAdapters, ["default"]);
    assert.ok(maxAbsDiff(logitsOf(peft.base, batch), ref.read("logits").toFloat32()) <= 1e-4);
    ref.close();
  });

  it("saving into a folder with other files replaces only the adapter files", () => {
    const { dir: src } = adapterFixture("llama-lora");
    const out = join(tmp, "run");
    mkdirSync(out);
    writeFileSync(join(out, "trainer_state.json"), "{}");
    loadPeftModel(loadModel(baseDir), src).saveAdapter(out, { baseModelNameOrPath: "HuggingFaceTB/SmolLM2-135M" });
    assert.equal(readFileSync(join(out, "trainer_state.json"), "utf8"), "{}");
    assert.equal(readLoraConfig(out).base_model_name_or_path, "HuggingFaceTB/SmolLM2-135M");
    assert.equal(readLoraConfig(out).inference_mode, true);
  });

  it("a failed save leaves the previous adapter folder intact", { skip: process.getuid?.() === 0 ? "root ignores permissions" : false }, () => {
    const { dir: src } = adapterFixture("llama-lora");
    const parent = join(tmp, "ro");
    const out = join(parent, "adapter");
    mkdirSync(parent);
    const peft = loadPeftModel(loadModel(baseDir), src);
    peft.saveAdapter(out);
    const before = readFileSync(join(out, "adapter_model.safetensors"));
    chmodSync(parent, 0o555);
    try {
      assert.throws(() => peft.saveAdapter(out));
    } finally {
      chmodSync(parent, 0o755);
    }
    assert.deepEqual(readFileSync(join(out, "adapter_model.safetensors")), before);
  });
});
