// Chart.js configurations (plain JSON: no functions, so they can be embedded as data) for metric curves
// over training steps. The x axis is linear in steps, so train and validation points line up. Each run of
// a comparison has its own colour, dash pattern and marker shape, so curves that coincide (LoRA and QLoRA
// often do) still show as two.

export interface Series {
  label: string;
  points: { x: number; y: number }[];
  /** Validation series: markers at every point, thinner line. */
  dashed?: boolean;
  /** Which run's style (colour, dash, marker) it takes; default its position in the chart. */
  run?: number;
  /** A reference level (the base model's): grey, dotted, no markers. */
  reference?: boolean;
}

export interface ChartSpec {
  id: string;
  config: Record<string, unknown>;
}

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
/** Per run: solid, then ever sparser dashes (a later run's gaps show the run beneath). */
const DASHES = [[], [10, 5], [3, 7], [12, 3, 2, 3], [2, 10], [6, 12]];
const MARKERS = ["circle", "triangle", "rect", "rectRot", "star", "crossRot", "cross", "dash"];

export function colorOf(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

function dataset(s: Series, i: number): Record<string, unknown> {
  const run = s.run ?? i;
  if (s.reference) {
    return { label: s.label, data: s.points, borderColor: "#777", backgroundColor: "#777", borderWidth: 1.5, borderDash: [3, 3], pointRadius: 0, tension: 0 };
  }
  // Later runs are drawn on top with sparser dashes, so an earlier run's identical curve shows through
  // the gaps; markers are hollow and grow with the run, so a later shape rings an earlier one.
  return {
    label: s.label,
    data: s.points,
    borderColor: colorOf(run),
    backgroundColor: "#ffffff",
    borderWidth: s.dashed ? 1.5 : 2.5,
    borderDash: DASHES[run % DASHES.length],
    pointStyle: MARKERS[run % MARKERS.length],
    pointBorderWidth: 1.5,
    pointRadius: s.dashed ? 4 + run : s.points.length <= 60 ? 2 + run : 0,
    tension: 0,
  };
}

/** A line chart of `series` against steps; series without points are left out (no empty legend entry). */
export function lineChart(id: string, yTitle: string, series: Series[]): ChartSpec {
  const drawn = series.map((s, i) => [s, i] as const).filter(([s]) => s.points.length > 0);
  return {
    id,
    config: {
      type: "line",
      data: { datasets: drawn.map(([s, i]) => dataset(s, i)) },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "nearest", intersect: false },
        scales: {
          x: { type: "linear", title: { display: true, text: "step" } },
          y: { type: "linear", title: { display: true, text: yTitle } },
        },
        plugins: { legend: { display: true, labels: { usePointStyle: true } } },
      },
    },
  };
}
