// The README's examples, run as written so they cannot rot: every ```sh block in order as one bash script
// (from the repository root; `npx peft-ts` runs bin/peft-ts.js and `runs/` points into a temporary
// folder), then every ```ts block through tsx, importing "peft-ts" as a user would.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function blocks(markdown: string, lang: string): string[] {
  const found: string[] = [];
  const re = new RegExp("^```" + lang + "\\n([\\s\\S]*?)^```$", "gm");
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) found.push(m[1]!);
  return found;
}

function localise(code: string, runs: string): string {
  return code.replaceAll("npx peft-ts", `"${process.execPath}" bin/peft-ts.js`).replace(/(?<![\w/.-])runs\//g, `${runs}/`);
}

const readme = readFileSync(join(ROOT, "README.md"), "utf8");

test("README: the shell examples run", { timeout: 600_000 }, () => {
  const sh = blocks(readme, "sh");
  assert.ok(sh.length >= 3, "the README has its shell examples");
  const runs = mkdtempSync(join(tmpdir(), "peft-ts-readme-"));
  try {
    const script = `set -euo pipefail\n${sh.map((b) => localise(b, runs)).join("\n")}`;
    const r = spawnSync("bash", ["-c", script], { cwd: ROOT, encoding: "utf8", env: { ...process.env, PEFT_TS_POISON: "0" } });
    assert.equal(r.status, 0, `README shell examples failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
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
