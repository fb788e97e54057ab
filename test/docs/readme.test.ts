// The README's examples, run as written so they cannot rot: every ```sh block in order as one bash script
// (from the repository root, with this test's node; `runs/` points into a temporary folder), then every
// ```ts block through tsx, importing "peft-ts" as a user would. A ```text block right after a ```sh block
// is what that block prints: its lines must appear in the block's output. The first command is also
// timed alone: after `npm ci` it must answer in seconds, building nothing.

import { test } from "node:test";
import { performance } from "node:perf_hooks";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function blocks(markdown: string, lang: string): string[] {
  return shBlocks(markdown, lang).map((b) => b.code);
}

/** The ```lang blocks in order, each with the ```text block that directly follows it, if any. */
function shBlocks(markdown: string, lang: string): { code: string; output: string | null }[] {
  const found: { code: string; output: string | null }[] = [];
  const re = new RegExp("^```" + lang + "\\n([\\s\\S]*?)^```\\n(?:\\n```text\\n([\\s\\S]*?)^```$)?", "gm");
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) found.push({ code: m[1]!, output: m[2] ?? null });
  return found;
}

function localise(code: string, runs: string): string {
  return code.replace(/^node bin\/peft-ts\.js/gm, `"${process.execPath}" bin/peft-ts.js`).replace(/(?<![\w/.-])runs\//g, `${runs}/`);
}

const MARK = "@@readme-block@@";

const readme = readFileSync(join(ROOT, "README.md"), "utf8");

test("README: the first command answers in seconds, building nothing", () => {
  const first = blocks(readme, "sh")[0]!.split("\n")[0]!;
  assert.match(first, /^node bin\/peft-ts\.js /, "the README's commands run the clone's own bin");
  const t0 = performance.now();
  const r = spawnSync("bash", ["-c", localise(first, tmpdir())], { cwd: ROOT, encoding: "utf8" });
  const seconds = (performance.now() - t0) / 1000;
  assert.equal(r.status, 0, r.stderr);
  assert.ok(seconds < 20, `${first} took ${seconds.toFixed(1)} s`);
  assert.doesNotMatch(r.stdout + r.stderr, /node-gyp|building the native kernels/);
});

test("README: the shell examples run and print what the README shows", { timeout: 600_000 }, () => {
  const sh = shBlocks(readme, "sh");
  assert.ok(sh.length >= 3, "the README has its shell examples");
  assert.ok(sh.some((b) => b.output !== null), "the README shows some output");
  const runs = mkdtempSync(join(tmpdir(), "peft-ts-readme-"));
  try {
    const script = `set -euo pipefail\n${sh.map((b) => `${localise(b.code, runs)}echo ${MARK}`).join("\n")}`;
    const r = spawnSync("bash", ["-c", script], { cwd: ROOT, encoding: "utf8", env: { ...process.env, PEFT_TS_POISON: "0" } });
    assert.equal(r.status, 0, `README shell examples failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    const outputs = r.stdout.split(`${MARK}\n`);
    sh.forEach((b, i) => {
      for (const line of b.output?.split("\n").filter(Boolean) ?? []) {
        assert.ok(outputs[i]!.split("\n").includes(line), `README block ${i + 1} shows "${line}"; it printed:\n${outputs[i]}`);
      }
    });
  } finally {
    rmSync(runs, { recursive: true, force: true });
  }
});

test("README: the TypeScript example runs", { timeout: 300_000 }, () => {
  const ts = blocks(readme, "ts");
  assert.ok(ts.length >= 1, "the README has a TypeScript example");
  const runs = mkdtempSync(join(tmpdir(), "peft-ts-readme-"));
  // Inside the repository, so that `import … from "peft-ts"` resolves to this package as it would for a user;
  // the peft-ts-source condition points it at src/ (an installed package resolves to dist/, see test/package).
  const file = join(ROOT, `.readme-example-${process.pid}.ts`);
  try {
    for (const code of ts) {
      writeFileSync(file, localise(code, runs));
      const r = spawnSync(process.execPath, ["--conditions=peft-ts-source", "--import", "tsx", file], { cwd: ROOT, encoding: "utf8", env: { ...process.env, PEFT_TS_POISON: "0" } });
      assert.equal(r.status, 0, `README TypeScript example failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    }
  } finally {
    rmSync(file, { force: true });
    rmSync(runs, { recursive: true, force: true });
  }
});
