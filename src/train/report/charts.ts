// Chart.js configurations (plain JSON: no functions, so they can be embedded as data) for metric curves
// over training steps. The x axis is linear in steps, so train and validation points line up.

export interface Series {
  label: string;
  points: { x: number; y: number }[];
  /** Validation series are drawn dashed with visible points. */
  dashed?: boolean;
}

export interface ChartSpec {
  id: string;
  config: Record<string, unknown>;
}

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

export function colorOf(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

function dataset(s: Series, color: string): Record<string, unknown> {
  const few = s.points.length <= 60;
  return {
    label: s.label,
    data: s.points,
    borderColor: color,
    backgroundColor: color,
    borderWidth: 2,
    borderDash: s.dashed ? [6, 4] : [],
    pointRadius: s.dashed || few ? 3 : 0,
    tension: 0,
  };
}

/** A line chart of `series` against steps; `colors` defaults to the palette in order. */
export function lineChart(id: string, yTitle: string, series: Series[], colors: string[] = series.map((_, i) => colorOf(i))): ChartSpec {
  return {
    id,
    config: {
      type: "line",
      data: { datasets: series.map((s, i) => dataset(s, colors[i]!)) },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "nearest", intersect: false },
        scales: {
          x: { type: "linear", title: { display: true, text: "step" } },
          y: { type: "linear", title: { display: true, text: yTitle } },
        },
        plugins: { legend: { display: true } },
      },
    },
  };
}
