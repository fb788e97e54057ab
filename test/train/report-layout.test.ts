// What a reader of report.html sees, checked in headless Chromium with a screenshot of each page kept
// (the folder is printed; PEFT_TS_SCREENSHOTS=DIR keeps them there): the summary and settings come
// before the charts, settings are keyed as the flags spell them and numbers are formatted, the title
// names the model folder rather than its absolute path, no legend entry stands for a curve that is not
// there, a comparison shows each method's model state, the shared settings and the base model's
// validation perplexity at step 0, and two runs with identical curves both stay visible.

import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { BrowserContext, Page } from "playwright-core";
import { launchBrowser } from "../browser.ts";
import { writeReport, writeComparisonReport, summarizeMetrics, type MetricRow } from "../../src/train/report.ts";
import { colorOf } from "../../src/train/report/charts.ts";
import { runSettings, runTitle } from "../../src/train/report/settings.ts";
import { resolveArgs } from "../../src/train/args.ts";

const tmp = fs.mkdtempSync(join(tmpdir(), "peft-ts-report-layout-"));
const shots = process.env.PEFT_TS_SCREENSHOTS ?? join(tmp, "screenshots");
fs.mkdirSync(shots, { recursive: true });
let context: BrowserContext | null = null;
after(async () => {
  await context?.close();
  if (!process.env.PEFT_TS_SCREENSHOTS) fs.rmSync(tmp, { recursive: true, force: true });
});

async function open(path: string, shot: string): Promise<Page> {
  context ??= await launchBrowser(tmp);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.route("**/*", (route) => (route.request().url().startsWith("file:") ? route.continue() : route.abort()));
  await page.goto(pathToFileURL(path).href);
  await page.waitForFunction(() => [...document.querySelectorAll("canvas")].every((c) => (globalThis as any).Chart?.getChart(c)));
  const png = join(shots, shot);
  await page.screenshot({ path: png, fullPage: true });
  assert.ok(fs.statSync(png).size > 10_000, `screenshot ${png}`);
  assert.deepEqual(errors, []);
  return page;
}

/** The datasets of a chart as drawn: label, style, and the data points. */
async function datasets(page: Page, id: string): Promise<{ label: string; dash: number[]; point: string; data: { x: number; y: number }[] }[]> {
  return page.evaluate((chartId) => {
    const chart = (globalThis as any).Chart.getChart(document.getElementById(chartId));
    return chart.data.datasets.map((d: any) => ({ label: d.label, dash: d.borderDash, point: d.pointStyle, data: d.data }));
  }, id);
}

/** Pixels of the canvas close to each colour. */
async function colourCounts(page: Page, id: string, colours: string[]): Promise<number[]> {
  return page.evaluate(
    ([chartId, hexes]) => {
      const canvas = document.getElementById(chartId as string) as HTMLCanvasElement;
      const image = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
      const rgb = (hexes as string[]).map((h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)));
      const counts = rgb.map(() => 0);
      for (let p = 0; p < image.length; p += 4) {
        if (image[p + 3]! < 200) continue;
        rgb.forEach(([r, g, b], k) => {
          if (Math.abs(image[p]! - r!) + Math.abs(image[p + 1]! - g!) + Math.abs(image[p + 2]! - b!) < 40) counts[k]!++;
        });
      }
      return counts;
    },
    [id, colours] as const,
  );
}

function curve(steps: number, start: number, evalEvery = 0): MetricRow[] {
  return Array.from({ length: steps }, (_, i) => {
    const step = i + 1;
    const row: MetricRow = { step, epoch: (7.5 * step) / steps, loss: start * Math.exp(-step / 30) + 3, lr: 3e-3, tokensPerSecond: 3456.789, rssMb: 281.6 };
    if (evalEvery > 0 && step % evalEvery === 0) row.evalLoss = start * Math.exp(-step / 30) + 3.2;
    return row;
  });
}

describe("report.html of one run", () => {
  it("summary and settings first, flag-style keys, formatted numbers, folder name as title, no empty legend entry", async () => {
    const args = resolveArgs({ model: "/home/someone/models/brown-llama", data: "d.jsonl", method: "lora", maxSteps: 150, lr: 3e-3 });
    const path = writeReport(join(tmp, "run"), { title: runTitle(args), config: runSettings(args), metrics: curve(150, 2) });
    const page = await open(path, "run.png");
    assert.equal(await page.title(), "lora fine-tuning of brown-llama");
    assert.deepEqual(await page.locator("h2").allInnerTexts(), ["Summary", "Settings", "Loss", "Learning rate", "Tokens / s", "RSS (MB)"]);
    const settings = Object.fromEntries((await page.locator("table.kv").nth(1).locator("tr").allInnerTexts()).map((r) => r.split("\t")));
    assert.equal(settings["max-seq-len"], "512");
    assert.equal(settings["target-modules"], "all-linear");
    assert.equal(settings.lr, "0.003");
    assert.equal(settings["adam-eps"], "1.00e-8");
    assert.equal(settings.epochs, "not used (max-steps 150 sets the length)");
    assert.ok(!("maxSeqLen" in settings) && !("momentum" in settings) && !("resume" in settings), Object.keys(settings).join(" "));
    const summary = Object.fromEntries((await page.locator("table.kv").first().locator("tr").allInnerTexts()).map((r) => r.split("\t")));
    assert.equal(summary["epochs done"], "7.5");
    assert.equal(summary["mean tokens / s"], "3,457");
    assert.deepEqual((await datasets(page, "chart-loss")).map((d) => d.label), ["train"], "no validation entry without validation");
    await page.close();
  });
});

describe("the comparison report", () => {
  it("summary with model state, shared settings, base perplexity at step 0, identical curves both visible", async () => {
    const same = curve(60, 2, 15);
    const runs = [
      { name: "full", metrics: curve(60, 3, 15), summary: { "trainable params": 1_311_872, "model state": "22.0 MiB", "train time (s)": 27.4 } },
      { name: "lora", metrics: same, summary: { "trainable params": 155_648, "model state": "7.4 MiB", "train time (s)": 32.1 } },
      { name: "qlora", metrics: same.map((m) => ({ ...m })), summary: { "trainable params": 155_648, "model state": "4.8 MiB", "train time (s)": 32.2 } },
    ];
    const path = writeComparisonReport(join(tmp, "compare.html"), { title: "full vs LoRA vs QLoRA", runs, settings: { steps: 60, seed: 0 }, baseline: { name: "base model", evalLoss: Math.log(110.6) } });
    const page = await open(path, "comparison.png");
    assert.deepEqual(await page.locator("h2").allInnerTexts(), ["Summary", "Settings", "Loss", "Validation perplexity"]);
    const rows = await page.locator("table.grid tr").allInnerTexts();
    assert.equal(rows[0], "run\ttrainable params\tmodel state\ttrain time (s)");
    assert.equal(rows[1], "full\t1,311,872\t22.0 MiB\t27.4");
    const loss = await datasets(page, "chart-loss");
    const [lora, qlora] = [loss.find((d) => d.label === "lora train")!, loss.find((d) => d.label === "qlora train")!];
    assert.notDeepEqual(lora.dash, qlora.dash, "different dash patterns");
    assert.notEqual(lora.point, qlora.point, "different markers");
    const [fullInk, loraInk, qloraInk] = await colourCounts(page, "chart-loss", [colorOf(0), colorOf(1), colorOf(2)]);
    assert.ok(fullInk! > 200 && loraInk! > 200 && qloraInk! > 200, `each run's colour is on the canvas: ${fullInk} ${loraInk} ${qloraInk}`);
    const ppl = await datasets(page, "chart-perplexity");
    assert.deepEqual(ppl.map((d) => d.label), ["full validation", "lora validation", "qlora validation", "base model"]);
    for (const d of ppl.slice(0, 3)) {
      assert.deepEqual(d.data[0], { x: 0, y: 110.6 }, `${d.label} starts at the base model`);
      assert.equal(d.data.length, 5);
    }
    assert.ok(Math.abs(ppl[1]!.data[4]!.y - Math.exp(same[59]!.evalLoss!)) < 1e-9);
    await page.close();
  });
  it("summarizeMetrics keys read as words", () => {
    assert.deepEqual(Object.keys(summarizeMetrics(curve(20, 2, 10))), ["steps", "epochs done", "final train loss", "final validation loss", "best validation loss", "mean tokens / s", "peak RSS (MB)"]);
  });
});
