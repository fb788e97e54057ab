#!/usr/bin/env node
// Entry point. An installed package runs its compiled dist/; a clone, which has src/ and no build step,
// runs the TypeScript sources through tsx's loader (a devDependency).
import { existsSync } from "node:fs";

const source = new URL("../src/cli/main.ts", import.meta.url);
let entry = new URL("../dist/cli/main.js", import.meta.url);
if (existsSync(source)) {
  const { register } = await import("tsx/esm/api");
  register();
  entry = source;
}
const { main } = await import(entry.href);
await main(process.argv.slice(2));
