// The narrower instruction-set variants of the native kernels (AVX2, portable scalar) run on the same
// checks as the widest: native-kernels.test.ts again, in a child process with PEFT_TS_ISA set (the
// variant is chosen once per process).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { loadNativeBackend, nativeAddon } from "../../src/backend/native/index.ts";

const loaded = loadNativeBackend();
const best = loaded instanceof Error ? null : nativeAddon()!.info().isa;
const order = ["scalar", "avx2", "avx512", "avx512bf16"] as const;
const suite = fileURLToPath(new URL("./native-kernels.test.ts", import.meta.url));

describe("native kernels on narrower instruction sets", () => {
  for (const isa of ["avx2", "scalar"] as const) {
    const skip =
      best === null ? `native library unavailable: ${(loaded as Error).message}`
      : process.env.PEFT_TS_ISA ? "already running under PEFT_TS_ISA"
      : order.indexOf(isa) >= order.indexOf(best) ? `${isa} is this machine's widest variant, tested directly`
      : false;
    it(`PEFT_TS_ISA=${isa} passes native-kernels.test.ts`, { skip }, () => {
      // Without NODE_TEST_CONTEXT: the child is a test run of its own, not a file of this one.
      const { NODE_TEST_CONTEXT: _, ...env } = process.env;
      const res = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=tap", suite], {
        env: { ...env, PEFT_TS_ISA: isa },
        encoding: "utf8",
        timeout: 600_000,
      });
      assert.equal(res.status, 0, `${isa} variant failed:\n${res.stdout}\n${res.stderr}`);
      const passed = Number(/^# pass (\d+)/m.exec(res.stdout)?.[1] ?? 0);
      assert.ok(passed > 50, `${isa} variant ran only ${passed} tests:\n${res.stdout}`);
    });
  }
});
