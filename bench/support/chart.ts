/**
 * A small self-contained SVG of line charts (no dependencies): one panel per curve, logarithmic
 * x axis, linear y axis from 0, the median of each point joined by lines, min–max whiskers, and
 * each median written next to its point. Used by the runner's `--chart` (bench/run.ts).
 */

export interface ChartPoint {
  readonly x: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export interface ChartSeries {
  readonly name: string;
  readonly points: readonly ChartPoint[];
}

export interface ChartPanel {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly ChartSeries[];
}

const PANEL_WIDTH = 500;
const PANEL_HEIGHT = 340;
const COLUMNS = 2;
const HEADER_HEIGHT = 64;
const MARGIN = { left: 72, right: 24, top: 76, bottom: 52 };
/** Legend entries under the panel title: two per row. */
const LEGEND = { top: 44, rowHeight: 14, columnWidth: 200 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/** The whole SVG document: a title, a subtitle line, then the panels in rows of two. */
export function renderChart(panels: readonly ChartPanel[], heading: { title: string; subtitle: string }): string {
  const rows = Math.max(1, Math.ceil(panels.length / COLUMNS));
  const width = COLUMNS * PANEL_WIDTH;
  const height = HEADER_HEIGHT + rows * PANEL_HEIGHT;
  const body = panels.map((panel, i) => renderPanel(panel, (i % COLUMNS) * PANEL_WIDTH, HEADER_HEIGHT + Math.floor(i / COLUMNS) * PANEL_HEIGHT));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    text(width / 2, 26, heading.title, { size: 17, anchor: 'middle', weight: 'bold' }),
    text(width / 2, 46, heading.subtitle, { size: 11, anchor: 'middle', fill: '#555555' }),
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

function renderPanel(panel: ChartPanel, left: number, top: number): string {
  const plot = {
    x0: left + MARGIN.left,
    x1: left + PANEL_WIDTH - MARGIN.right,
    y0: top + PANEL_HEIGHT - MARGIN.bottom,
    y1: top + MARGIN.top,
  };
  const points = panel.series.flatMap((series) => series.points);
  const out = [
    `<g>`,
    `<rect x="${left + 4}" y="${top + 4}" width="${PANEL_WIDTH - 8}" height="${PANEL_HEIGHT - 8}" fill="none" stroke="#dddddd"/>`,
    text(left + PANEL_WIDTH / 2, top + 24, panel.title, { size: 13, anchor: 'middle', weight: 'bold' }),
  ];
  if (points.length === 0) {
    out.push(text((plot.x0 + plot.x1) / 2, (plot.y0 + plot.y1) / 2, 'no data', { anchor: 'middle', fill: '#999999' }), '</g>');
    return out.join('\n');
  }
  const xs = [...new Set(points.map((p) => p.x))].sort((a, b) => a - b);
  const logMin = Math.log10(xs[0]!) - 0.25;
  const logMax = Math.log10(xs[xs.length - 1]!) + 0.25;
  const sx = (x: number): number => plot.x0 + ((Math.log10(x) - logMin) / (logMax - logMin)) * (plot.x1 - plot.x0);
  const yTop = niceCeiling(Math.max(...points.map((p) => Math.max(p.max, p.median))) * 1.15);
  const sy = (y: number): number => plot.y0 - (y / yTop) * (plot.y0 - plot.y1);

  for (let i = 0; i <= 4; i++) {
    const value = (yTop * i) / 4;
    const y = sy(value);
    out.push(line(plot.x0, y, plot.x1, y, i === 0 ? '#333333' : '#eeeeee'));
    out.push(text(plot.x0 - 6, y + 4, compact(value), { anchor: 'end' }));
  }
  for (const x of xs) {
    out.push(line(sx(x), plot.y0, sx(x), plot.y0 + 5, '#333333'));
    out.push(text(sx(x), plot.y0 + 18, compact(x), { anchor: 'middle' }));
  }
  out.push(line(plot.x0, plot.y0, plot.x0, plot.y1, '#333333'));
  out.push(text((plot.x0 + plot.x1) / 2, plot.y0 + 38, `${panel.xLabel} (log scale)`, { anchor: 'middle', fill: '#333333' }));
  const yMid = (plot.y0 + plot.y1) / 2;
  out.push(text(left + 16, yMid, panel.yLabel, { anchor: 'middle', fill: '#333333', rotate: { x: left + 16, y: yMid } }));

  const labels = new LabelPlacer();
  panel.series.forEach((series, i) => {
    const color = COLORS[i % COLORS.length]!;
    const sorted = [...series.points].sort((a, b) => a.x - b.x);
    if (sorted.length > 1) {
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${sorted.map((p) => `${r(sx(p.x))},${r(sy(p.median))}`).join(' ')}"/>`);
    }
    for (const p of sorted) {
      if (p.max > p.min) out.push(line(sx(p.x), sy(p.min), sx(p.x), sy(p.max), color));
      out.push(`<circle cx="${r(sx(p.x))}" cy="${r(sy(p.median))}" r="3.5" fill="${color}"/>`);
      const at = labels.place(sx(p.x) + 5, sy(p.median) - 8);
      out.push(text(at.x, at.y, compact(p.median), { fill: color }));
    }
    const lx = plot.x0 + (i % 2) * LEGEND.columnWidth;
    const ly = top + LEGEND.top + Math.floor(i / 2) * LEGEND.rowHeight;
    out.push(line(lx, ly - 4, lx + 16, ly - 4, color, 2));
    out.push(text(lx + 20, ly, series.name, { fill: '#333333' }));
  });
  out.push('</g>');
  return out.join('\n');
}

/** Moves value labels down until they clear the labels already placed (series with equal values). */
class LabelPlacer {
  private readonly placed: Array<{ x: number; y: number }> = [];

  place(x: number, y: number): { x: number; y: number } {
    let at = y;
    while (this.placed.some((p) => Math.abs(p.x - x) < 36 && Math.abs(p.y - at) < 12)) at += 12;
    this.placed.push({ x, y: at });
    return { x, y: at };
  }
}

/** The smallest of 1, 2, 2.5, 5 × 10^k at or above `value` (0 → 1). */
function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/** 1234567 → "1.23M", 12345 → "12.3k", 548.4 → "548", 0.4921 → "0.492". */
export function compact(value: number): string {
  const magnitude = Math.abs(value);
  if (magnitude >= 1e6) return `${trim((value / 1e6).toPrecision(3))}M`;
  if (magnitude >= 1e3) return `${trim((value / 1e3).toPrecision(3))}k`;
  if (magnitude === 0) return '0';
  return trim(value.toPrecision(3));
}

function trim(digits: string): string {
  return digits.includes('.') ? digits.replace(/0+$/, '').replace(/\.$/, '') : digits;
}

function r(n: number): string {
  return n.toFixed(1);
}

function line(x1: number, y1: number, x2: number, y2: number, stroke: string, width = 1): string {
  return `<line x1="${r(x1)}" y1="${r(y1)}" x2="${r(x2)}" y2="${r(y2)}" stroke="${stroke}" stroke-width="${width}"/>`;
}

interface TextStyle {
  readonly size?: number;
  readonly anchor?: 'start' | 'middle' | 'end';
  readonly weight?: 'bold';
  readonly fill?: string;
  readonly rotate?: { x: number; y: number };
}

function text(x: number, y: number, content: string, style: TextStyle = {}): string {
  const attributes = [
    `x="${r(x)}"`,
    `y="${r(y)}"`,
    style.size === undefined ? '' : `font-size="${style.size}"`,
    style.anchor === undefined ? '' : `text-anchor="${style.anchor}"`,
    style.weight === undefined ? '' : `font-weight="${style.weight}"`,
    `fill="${style.fill ?? '#000000'}"`,
    style.rotate === undefined ? '' : `transform="rotate(-90 ${r(style.rotate.x)} ${r(style.rotate.y)})"`,
  ].filter((a) => a !== '');
  return `<text ${attributes.join(' ')}>${escapeXml(content)}</text>`;
}

function escapeXml(content: string): string {
  return content.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}
