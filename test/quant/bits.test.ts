// Bits per weight have one definition (quant/footprint.ts: codes and their scales as stored, per-layer
// tables apart): quantize prints it for what it wrote, inspect for what it reads, and both equal the
// bytes the loaded 4-bit layers hold for their codes and scales.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadModel } from "../../src/models/index.ts";
import { heldBytes } from "../../src/quant/index.ts";
import { QuantizedTensor } from "../../src/quant/types.ts";
import { bitsPerWeight } from "../../src/quant/footprint.ts";
import { LLAMA, runCli, tempDir } from "../train/helpers.ts";

describe("bits per weight", () => {
  it("quantize and inspect print the same figure, the loaded layers' codes and scales", async () => {
    const out = join(tempDir("bits"), "nf4");
    const q = await runCli(["quantize", "--model", LLAMA, "--out", out]);
    assert.equal(q.code, 0, q.stderr);
    const printed = /^([\d.]+) bits per weight: codes and their block or row scales/m.exec(q.stdout)?.[1];
    const inspected = JSON.parse((await runCli(["inspect", out, "--json"])).stdout);
    const text = (await runCli(["inspect", out])).stdout;
    assert.ok(printed, q.stdout);
    assert.equal(printed, inspected.quantized_bits_per_weight.toFixed(3));
    assert.match(text, new RegExp(`quantized layers +${printed} bits per weight`));
    const layers = loadModel(out).namedParameters().flatMap(([, p]) => (p instanceof QuantizedTensor ? [p] : []));
    const held = bitsPerWeight(layers.reduce((s, p) => s + heldBytes(p), 0), layers.reduce((s, p) => s + p.size, 0));
    assert.ok(Math.abs(held - inspected.quantized_bits_per_weight) < 1e-12, `${held} vs ${inspected.quantized_bits_per_weight}`);
    assert.ok(inspected.quantized_table_bytes > 0, "the code books and quant state are counted apart");
  });
});
