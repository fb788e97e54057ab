// The package as a user gets it: `npm pack` (which compiles dist/ through prepack), the tarball installed
// offline into a fresh project, then imported from plain JavaScript (its greedy generation must match
// the sources') and type-checked from TypeScript against the shipped .d.ts files, the README's
// TypeScript example included. The native build is skipped there (PEFT_TS_SKIP_NATIVE=1): it takes
// minutes and the rest of the suite covers it; the installed package runs on its TypeScript backend.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generate, loadModel, Tokenizer } from "../../src/index.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DEMO = join(ROOT, "assets", "brown-llama");

function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", env: { ...process.env, ...env } });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")} failed in ${cwd}:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  return r;
}

function readmeTypeScript(): string {
  const m = /^```ts\n([\s\S]*?)^```$/m.exec(readFileSync(join(ROOT, "README.md"), "utf8"));
  assert.ok(m, "the README has a TypeScript example");
  return m[1]!;
}

interface LockEntry {
  dev?: boolean;
  [key: string]: unknown;
}

/**
 * The app's lock file: the tarball, and peft-ts's runtime dependencies pinned as this repository's lock
 * pins them. `npm ci` then installs from npm's cache alone (`npm install` would need registry metadata,
 * and the suite runs offline).
 */
function appLock(packed: { filename: string; integrity: string }): unknown {
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, LockEntry> };
  const self = lock.packages[""]!;
  const runtime = Object.entries(lock.packages).filter(([path, entry]) => path !== "" && !entry.dev);
  return {
    name: "app",
    version: "1.0.0",
    lockfileVersion: 3,
    requires: true,
    packages: {
      "": { name: "app", version: "1.0.0", dependencies: { "peft-ts": `file:${packed.filename}` } },
      "node_modules/peft-ts": {
        version: self.version,
        resolved: `file:${packed.filename}`,
        integrity: packed.integrity,
        hasInstallScript: true,
        license: self.license,
        dependencies: self.dependencies,
        bin: self.bin,
        engines: self.engines,
      },
      ...Object.fromEntries(runtime),
    },
  };
}

const APP_JS = `import { fileURLToPath } from "node:url";
import { backend, generate, loadModel, Tokenizer } from "peft-ts";

const dir = fileURLToPath(new URL("./node_modules/peft-ts/assets/brown-llama", import.meta.url));
const tokenizer = Tokenizer.fromDir(dir);
const ids = generate(loadModel(dir), tokenizer.encode("The old man"), { maxNewTokens: 8, greedy: true });
console.log(JSON.stringify({ backend: backend().name, ids }));
`;

const APP_TS = `import { loadModel, Tokenizer, train, type TrainingArgs, type TrainResult } from "peft-ts";

const tokenizer: Tokenizer = Tokenizer.fromDir("model");
const ids: number[] = tokenizer.encode("hello");
const args: Partial<TrainingArgs> & Pick<TrainingArgs, "model" | "data"> = { model: "model", data: "data.jsonl", maxSteps: 10 };
const pending: Promise<TrainResult> = train(args);
// @ts-expect-error: the types are real, not any: maxSteps is a number
const wrong: Partial<TrainingArgs> = { maxSteps: "ten" };
console.log(ids, pending, wrong, loadModel);
`;

test("npm pack → install in a fresh project → import from JavaScript and type-check from TypeScript", { timeout: 600_000 }, () => {
  const tmp = mkdtempSync(join(tmpdir(), "peft-ts-pack-"));
  try {
    const packed = JSON.parse(run("npm", ["pack", "--json", "--silent", "--pack-destination", tmp], ROOT).stdout) as { filename: string; integrity: string; files: { path: string }[] }[];
    const files = packed[0]!.files.map((f) => f.path);
    for (const f of ["dist/index.js", "dist/index.d.ts", "dist/index.js.map", "dist/cli/main.js", "bin/peft-ts.js", "binding.gyp", "native/gemm_driver.cc", "assets/brown-llama/config.json"]) {
      assert.ok(files.includes(f), `the tarball holds ${f}`);
    }
    assert.deepEqual(files.filter((f) => /^(src|test|bench)\//.test(f)), [], "no sources or tests in the tarball");

    const app = join(tmp, "app");
    mkdirSync(app);
    renameSync(join(tmp, packed[0]!.filename), join(app, packed[0]!.filename));
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", private: true, dependencies: { "peft-ts": `file:${packed[0]!.filename}` } }));
    writeFileSync(join(app, "package-lock.json"), JSON.stringify(appLock(packed[0]!)));
    run("npm", ["ci", "--offline", "--no-audit", "--no-fund"], app, { PEFT_TS_SKIP_NATIVE: "1" });
    assert.ok(!existsSync(join(app, "node_modules", "tsx")), "the installed package needs no TypeScript loader");

    // plain JavaScript: the same greedy ids as the sources give
    writeFileSync(join(app, "app.mjs"), APP_JS);
    const got = JSON.parse(run(process.execPath, ["app.mjs"], app).stdout) as { backend: string; ids: number[] };
    const tokenizer = Tokenizer.fromDir(DEMO);
    assert.deepEqual(got.ids, generate(loadModel(DEMO), tokenizer.encode("The old man"), { maxNewTokens: 8, greedy: true }));
    assert.equal(got.backend, "js", "installed with PEFT_TS_SKIP_NATIVE=1: the TypeScript backend");
    assert.equal(run(join(app, "node_modules", ".bin", "peft-ts"), ["--version"], app).stdout.trim(), "0.1.0");

    // TypeScript: strict, NodeNext, no skipLibCheck, so the shipped declarations are checked too
    writeFileSync(join(app, "app.mts"), APP_TS);
    writeFileSync(join(app, "readme.mts"), readmeTypeScript());
    const tsconfig = {
      compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, types: ["node"], typeRoots: [join(ROOT, "node_modules", "@types")] },
      files: ["app.mts", "readme.mts"],
    };
    writeFileSync(join(app, "tsconfig.json"), JSON.stringify(tsconfig));
    run(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", app], app);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
