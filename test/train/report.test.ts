// The training reports, opened in headless Chromium: the charts exist with the expected datasets and
// point counts, the curves are actually drawn (canvas pixels at the plotted points are inked), the page
// opens offline without errors, and run-supplied text is escaped. The browser comes from a dev
// dependency (test/browser.ts), so these checks run wherever `npm ci` ran.

import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { BrowserContext, Page } from "playwright-core";
import { launchBrowser } from "../browser.ts";
import { writeReport, writeComparisonReport, summarizeMetrics, type MetricRow } from "../../src/train/report.ts";

const tmp = fs.mkdtempSync(join(tmpdir(), "peft-ts-report-"));
let context: BrowserContext | null = null;
after(async () => {
  await context?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function browser(): Promise<BrowserContext> {
  context ??= await launchBrowser(tmp);
  return context;
}

interface DatasetInfo {
  label: string;
  points: number;
  elements: number;
  /** Plotted points whose pixel neighbourhood on the canvas is not empty. */
  inked: number;
}

interface ChartInfo {
  id: string;
  datasets: DatasetInfo[];
  /** Fraction of the canvas's pixels that are not transparent. */
  coverage: number;
}

/** Opens a report with every non-file request blocked; returns its charts as drawn, and any failures. */
async function open(path: string): Promise<{ page: Page; charts: ChartInfo[]; errors: string[]; external: string[] }> {
  const ctx = await browser();
  const page = await ctx.newPage();
  const errors: string[] = [];
  const external: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => void (m.type() === "error" && errors.push(m.text())));
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("file:")) return route.continue();
    external.push(url);
    return route.abort();
  });
  await page.goto(pathToFileURL(path).href);
  await page.waitForFunction(() => [...document.querySelectorAll("canvas")].every((c) => (globalThis as any).Chart?.getChart(c)));
  const charts = await page.evaluate(() => {
    const Chart = (globalThis as any).Chart;
    return [...document.querySelectorAll("canvas")].map((canvas) => {
      const chart = Chart.getChart(canvas);
      const ctx = canvas.getContext("2d")!;
      const image = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      const scale = canvas.width / canvas.getBoundingClientRect().width;
      const inkAt = (x: number, y: number) => {
        for (let dy = -2; dy <= 2; dy++) {
          for (let dx = -2; dx <= 2; dx++) {
            const px = Math.round(x * scale) + dx;
            const py = Math.round(y * scale) + dy;
            if (px >= 0 && py >= 0 && px < canvas.width && py < canvas.height && image[(py * canvas.width + px) * 4 + 3]! > 0) return true;
          }
        }
        return false;
      };
      let opaque = 0;
      for (let i = 3; i < image.length; i += 4) if (image[i]! > 0) opaque++;
      return {
        id: canvas.id,
        datasets: chart.data.datasets.map((d: { label: string; data: unknown[] }, i: number) => {
          const elements = chart.getDatasetMeta(i).data as { x: number; y: number }[];
          return { label: d.label, points: d.data.length, elements: elements.length, inked: elements.filter((e) => inkAt(e.x, e.y)).length };
        }),
        coverage: opaque / (image.length / 4),
      };
    });
  });
  return { page, charts, errors, external };
}

function assertDrawn(chart: ChartInfo, expected: Record<string, number>): void {
  assert.deepEqual(Object.fromEntries(chart.datasets.map((d) => [d.label, d.points])), expected, `${chart.id}: datasets and point counts`);
  for (const d of chart.datasets) {
    assert.equal(d.elements, d.points, `${chart.id} / ${d.label}: every point laid out`);
    assert.equal(d.inked, d.points, `${chart.id} / ${d.label}: ink on the canvas at every plotted point`);
  }
  assert.ok(chart.coverage > 0.005 && chart.coverage < 0.5, `${chart.id}: ${(chart.coverage * 100).toFixed(2)}% of the canvas inked (drawn, not blank or filled)`);
}

function fakeRun(steps: number, evalEvery: number, start: number): MetricRow[] {
  return Array.from({ length: steps }, (_, i) => {
    const step = i + 1;
    const row: MetricRow = {
      step,
      epoch: Math.floor(i / 20),
      loss: start * Math.exp(-step / 15) + 1 + 0.05 * Math.sin(step),
      lr: step <= 5 ? (2e-4 * step) / 5 : 1e-4 * (1 + Math.cos((Math.PI * (step - 5)) / (steps - 5))),
      gradNorm: 2 / Math.sqrt(step),
      tokensPerSecond: 1000 + 10 * (step % 3),
      rssMb: 300 + step,
    };
    if (step % evalEvery === 0) row.evalLoss = start * Math.exp(-step / 15) + 1.1;
    return row;
  });
}

describe("report.html", () => {
  it("draws loss (train and validation), learning rate and the other logged curves, offline", async () => {
    const metrics = fakeRun(40, 10, 3);
    const path = writeReport(join(tmp, "run"), { title: "LoRA on qwen2", config: { method: "lora", r: 16, lr: 2e-4 }, metrics });
    assert.equal(path, join(tmp, "run", "report.html"));
    const { page, charts, errors, external } = await open(path);
    assert.deepEqual(errors, []);
    assert.deepEqual(external, [], "no network requests");
    assert.deepEqual(charts.map((c) => c.id), ["chart-loss", "chart-lr", "chart-gradNorm", "chart-tokensPerSecond", "chart-rssMb"]);
    assertDrawn(charts[0]!, { train: 40, validation: 4 });
    assertDrawn(charts[1]!, { "learning rate": 40 });
    const text = await page.locator("body").innerText();
    assert.match(text, /final validation loss/);
    assert.match(text, /method\s+lora/);
    await page.close();
  });

  it("escapes run-supplied text in the page and in the chart data", async () => {
    const evil = `</script><img src=x onerror="document.title='pwned'">&<b>`;
    const metrics: MetricRow[] = [{ step: 1, epoch: 0, loss: 2 }, { step: 2, epoch: 0, loss: 1.5 }];
    const path = writeReport(join(tmp, "evil"), { title: evil, config: { [evil]: evil, nested: { note: evil } }, metrics });
    const { page, charts, errors } = await open(path);
    assert.deepEqual(errors, []);
    assert.equal(await page.title(), evil);
    assert.equal(await page.locator("img").count(), 0);
    assert.equal(await page.locator("b").count(), 0);
    assert.equal(await page.locator("script").count(), 3, "the library, the chart data and the drawing script only");
    assert.ok((await page.locator("table.kv").last().innerText()).includes(evil));
    assert.deepEqual(charts.map((c) => c.id), ["chart-loss"]);
    await page.close();

    const cmp = writeComparisonReport(join(tmp, "evil-cmp.html"), { title: "t", runs: [{ name: evil, metrics, summary: { note: evil } }] });
    const opened = await open(cmp);
    assert.deepEqual(opened.errors, []);
    assert.deepEqual(opened.charts[0]!.datasets.map((d) => d.label), [`${evil} train`]);
    assert.equal(await opened.page.locator("img").count(), 0);
    await opened.page.close();
  });
});

describe("comparison report", () => {
  it("puts several runs' losses on one chart with a summary table", async () => {
    const runs = [["full", 3.2], ["lora", 3.0], ["qlora", 2.8]].map(([name, start]) => {
      const metrics = fakeRun(30, 10, start as number);
      return { name: name as string, metrics, summary: { ...summarizeMetrics(metrics), "peak RSS (MB)": 100 } };
    });
    const path = writeComparisonReport(join(tmp, "compare", "comparison.html"), { title: "full vs LoRA vs QLoRA", runs });
    const { page, charts, errors, external } = await open(path);
    assert.deepEqual(errors, []);
    assert.deepEqual(external, []);
    assert.deepEqual(charts.map((c) => c.id), ["chart-loss", "chart-perplexity"]);
    assertDrawn(charts[0]!, {
      "full train": 30, "full validation": 3,
      "lora train": 30, "lora validation": 3,
      "qlora train": 30, "qlora validation": 3,
    });
    const rows = await page.locator("table.grid tr").allInnerTexts();
    assert.equal(rows.length, 4);
    assert.match(rows[0]!, /^run\tsteps\tepochs done\tfinal train loss/);
    assert.match(rows[3]!, /^qlora\t30\t1\t/);
    await page.close();
  });
});
