// HTML building blocks for the training reports. Every value from a run (titles, config keys and values,
// run names) goes through escapeHtml; chart data goes into a JSON <script> block escaped so that no
// string in it can close the block.

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON safe inside <script type="application/json">: no "<", ">", "&" or JS line separators survive raw. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * Numbers as a person reads them: integers with thousands separators (1,311,872), others to four
 * significant digits (904.4, 2.346, 0.0123), tiny ones in exponent form (2.00e-5); lists comma-joined.
 */
export function formatValue(v: unknown): string {
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return v.toLocaleString("en-US");
    if (Math.abs(v) < 1e-3) return v.toExponential(2);
    return Number(v.toPrecision(4)).toLocaleString("en-US", { maximumFractionDigits: 20 });
  }
  if (typeof v === "string") return v;
  if (v === null || v === undefined) return "—";
  if (Array.isArray(v) && v.every((x) => typeof x !== "object")) return v.join(", ");
  return JSON.stringify(v) ?? String(v);
}

/** A two-column key/value table. */
export function keyValueTable(entries: [string, unknown][]): string {
  const rows = entries.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(formatValue(v))}</td></tr>`);
  return `<table class="kv">${rows.join("")}</table>`;
}

/** A table with a header row; cells are escaped, missing ones left blank. */
export function gridTable(columns: string[], rows: unknown[][]): string {
  const head = `<tr>${columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("")}</tr>`;
  const body = rows.map((r) => `<tr>${r.map((v) => `<td>${v === undefined ? "" : escapeHtml(formatValue(v))}</td>`).join("")}</tr>`);
  return `<table class="grid">${head}${body.join("")}</table>`;
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.chart { position: relative; height: 320px; margin: 1rem 0; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
table.kv th { background: #f6f6f6; font-weight: 600; }
table.grid th { background: #f6f6f6; }
table.grid td:first-child { white-space: nowrap; }
td { font-variant-numeric: tabular-nums; white-space: pre-wrap; word-break: break-word; }
`;

export interface PageParts {
  title: string;
  /** Trusted HTML built from escaped pieces. */
  body: string;
  /** The charting library's source, inlined. */
  library: string;
  /** Chart specs, read by the inline script below. */
  charts: unknown;
}

/** The whole page: opens offline (library inlined), charts drawn on load from the JSON block. */
export function page(p: PageParts): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(p.title)}</title>
<style>${STYLE}</style>
<script>${p.library}</script>
</head>
<body>
<h1>${escapeHtml(p.title)}</h1>
${p.body}
<script type="application/json" id="chart-data">${jsonForScript(p.charts)}</script>
<script>
for (const spec of JSON.parse(document.getElementById("chart-data").textContent)) {
  new Chart(document.getElementById(spec.id), spec.config);
}
</script>
</body>
</html>
`;
}
