// Builds the native kernel library (native/) with node-gyp at install time, saying so first: it takes a
// minute or two. A failed build must not fail the install: peft-ts then runs on the TypeScript backend
// and says so once.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { performance } from "node:perf_hooks";

const verbose = process.argv.includes("--verbose");
if (process.env.PEFT_TS_SKIP_NATIVE === "1") {
  console.log("peft-ts: PEFT_TS_SKIP_NATIVE=1, native kernels not built");
  process.exit(0);
}
if (!existsSync("binding.gyp")) process.exit(0);

console.log("peft-ts: building the native kernels (C++17 through node-gyp, a minute or two; PEFT_TS_SKIP_NATIVE=1 skips it)");
const t0 = performance.now();
const gyp = process.env.npm_config_node_gyp;
const [cmd, args] = gyp ? [process.execPath, [gyp]] : ["node-gyp", []];
const res = spawnSync(cmd, [...args, "rebuild", "--release", "-j", "max"], {
  stdio: verbose ? "inherit" : ["ignore", "pipe", "pipe"],
  encoding: "utf8",
});
if (res.status !== 0) {
  if (!verbose) process.stderr.write((res.stdout ?? "") + (res.stderr ?? ""));
  console.warn("peft-ts: native kernels failed to build; the TypeScript backend will be used (slow)");
} else {
  console.log(`peft-ts: native kernels built in ${Math.round((performance.now() - t0) / 1000)} s (build/Release/peft_ts_native.node)`);
}
process.exit(0);
