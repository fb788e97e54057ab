// Chart.js's UMD build, read from node_modules to be inlined into reports (they must open offline).

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

let source: string | null = null;

export function chartJsSource(): string {
  if (source === null) {
    // The package exports only its module entry points; the UMD build sits beside them in dist/.
    const dist = dirname(createRequire(import.meta.url).resolve("chart.js"));
    const text = readFileSync(join(dist, "chart.umd.min.js"), "utf8");
    if (/<\/script|<!--/i.test(text)) throw new Error(`${dist}/chart.umd.min.js contains text that would end an inline <script>`);
    source = text;
  }
  return source;
}
