// Compiles src/ into dist/ (ESM JavaScript, .d.ts types, source maps with the TypeScript inlined), the
// form an installed package runs and type-checks against; `npm pack` / `npm publish` run it (prepack).
// A clone needs no build: bin/peft-ts.js and the tests run src/ through tsx.
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { createRequire } from "node:module";

rmSync("dist", { recursive: true, force: true }); // no output of a deleted source file may ship
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const res = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { stdio: "inherit" });
process.exit(res.status ?? 1);
