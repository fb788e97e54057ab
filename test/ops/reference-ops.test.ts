// The ops Gemma 2/3, Phi-3 and the sliding window added, against PyTorch (scripts/reference/archs.py, cases in
// test/fixtures/ops): soft cap, (1 + w) RMSNorm, the GELU-tanh gated product, windowed attention with
// padding (with and without a soft cap), longrope tables and partial rotary. Forward and backward, on every
// backend.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SafetensorsReader } from "../../src/io/safetensors.ts";
import { Tensor, idsToInt32 } from "../../src/tensor/tensor.ts";
import * as ops from "../../src/ops/index.ts";
import { backward } from "../../src/autograd/engine.ts";
import { setBackend } from "../../src/backend/index.ts";
import { RopeTables } from "../../src/models/rope.ts";
import { assertClose, backendsUnderTest } from "../helpers.ts";

const DIR = "test/fixtures/ops";

function open(name: string) {
  const r = SafetensorsReader.open(join(DIR, `${name}.safetensors`));
  const get = (key: string, requiresGrad = false) => {
    const t = r.read(key);
    const out = Tensor.from("float32", t.toFloat32(), t.shape);
    out.requiresGrad = requiresGrad;
    return out;
  };
  return { r, get };
}

/** Forward within 1e-5 absolute of torch (values O(1)); gradients within 1e-5 relative to their largest. */
function close(actual: Tensor, expected: Tensor, what: string, tol = 1e-5): void {
  assertClose(actual.toFloat32(), expected.toFloat32(), tol, what, what.startsWith("d") ? "rel" : "abs");
}

for (const name of backendsUnderTest) {
  describe(`new ops against PyTorch (${name} backend)`, () => {
    it("soft cap c·tanh(x / c)", () => {
      setBackend(name);
      const { r, get } = open("softcap");
      const x = get("x", true);
      const y = ops.softcap(x, r.read("cap").item());
      close(y, get("y"), "y");
      backward(y, get("dy"));
      close(x.grad!, get("dx"), "dx");
    });

    it("Gemma RMSNorm: x·rsqrt(mean x² + eps)·(1 + w)", () => {
      setBackend(name);
      const { r, get } = open("rmsnorm-gemma");
      const x = get("x", true), w = get("w", true);
      const y = ops.rmsNorm(x, w, r.read("eps").item(), 1);
      close(y, get("y"), "y");
      backward(y, get("dy"));
      close(x.grad!, get("dx"), "dx");
      close(w.grad!, get("dw"), "dw");
    });

    it("GELU-tanh gated product", () => {
      setBackend(name);
      const { get } = open("geglu-tanh");
      const g = get("gate", true), u = get("up", true);
      const y = ops.geglu(g, u, "tanh");
      close(y, get("y"), "y");
      backward(y, get("dy"));
      close(g.grad!, get("dgate"), "dgate");
      close(u.grad!, get("dup"), "dup");
    });

    for (const fixture of ["attention-window", "attention-window-softcap"]) {
      it(`${fixture}: windowed attention with padded keys, forward and backward`, () => {
        setBackend(name);
        const { r, get } = open(fixture);
        const q = get("q", true), k = get("k", true), v = get("v", true);
        const [B, T, nh, hd] = q.shape as [number, number, number, number];
        const nkv = k.shape[2]!;
        const keyMask = Uint8Array.from(idsToInt32(r.read("attention_mask")));
        const window = idsToInt32(r.read("window"))[0]!;
        const softcap = r.names().includes("softcap") ? r.read("softcap").item() : null;
        const y = ops.attention(ops.reshape(q, [B * T, nh * hd]), ops.reshape(k, [B * T, nkv * hd]), ops.reshape(v, [B * T, nkv * hd]), {
          B, T, nh, nkv, hd, keyMask, window, softcap,
        });
        close(y, get("out"), "out");
        backward(y, ops.reshape(get("dy"), [B * T, nh * hd]));
        close(q.grad!, get("dq"), "dq");
        close(k.grad!, get("dk"), "dk");
        close(v.grad!, get("dv"), "dv");
      });
    }

    it("longrope: short and long tables with the attention factor; partial rotary forward and backward", () => {
      setBackend(name);
      const spec = JSON.parse(readFileSync(join(DIR, "longrope.json"), "utf8"));
      const tables = new RopeTables({
        dim: spec.rotary_dim,
        headDim: spec.head_dim,
        theta: spec.rope_theta,
        maxPositions: spec.max_position_embeddings,
        scaling: {
          type: "longrope", factor: spec.max_position_embeddings / spec.original_max_position_embeddings, lowFreqFactor: 1, highFreqFactor: 4,
          originalMaxPositions: spec.original_max_position_embeddings,
          shortFactor: spec.short_factor, longFactor: spec.long_factor, attentionFactor: spec.attention_factor,
        },
      });
      const { get } = open("longrope");
      for (const label of ["short", "long"]) {
        const q = get(`${label}.q`, true); // [T, heads, hd]
        const [T, heads] = q.shape as [number, number, number];
        const table = tables.get(T);
        const half = spec.rotary_dim / 2;
        assertClose(table.cos.subarray(0, T * half), get(`${label}.cos`).toFloat32(), 1e-6, `${label} cos`, "abs");
        assertClose(table.sin.subarray(0, T * half), get(`${label}.sin`).toFloat32(), 1e-6, `${label} sin`, "abs");
        const positions = Int32Array.from({ length: T }, (_, t) => t);
        const y = ops.rope(ops.reshape(q, [T, heads * spec.head_dim]), table, positions, heads);
        close(y, ops.reshape(get(`${label}.y`), [T, heads * spec.head_dim]), `${label} y`);
        backward(y, ops.reshape(get(`${label}.dy`), [T, heads * spec.head_dim]));
        close(q.grad!, get(`${label}.dq`), `d ${label}`);
      }
      assert.ok(tables.get(8).cos !== tables.get(20).cos, "crossing the original context switches the factors");
    });
  });
}
