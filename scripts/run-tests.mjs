// Runs every test file under test/ with Node's test runner through tsx (Node 20 has no glob for --test).
// Extra arguments filter files by substring: `npm test -- attention gemm`.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return find(p);
    return name.endsWith(".test.ts") ? [p] : [];
  });
}

const filters = process.argv.slice(2);
const files = find("test")
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
const res = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=2", ...files], {
  stdio: "inherit",
  env: { ...process.env, PEFT_TS_POISON: process.env.PEFT_TS_POISON ?? "1" },
});
process.exit(res.status ?? 1);
