// An SVG line chart of GPU allocation ratio against arrived demand, one line per policy: no
// dependencies, readable in any browser.

export interface Series {
  name: string;
  points: [number, number][];
}

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];

export function allocationChart(series: readonly Series[], title: string): string {
  const width = 720;
  const height = 440;
  const left = 60;
  const right = 160;
  const top = 40;
  const bottom = 50;
  const maxX = Math.max(100, ...series.flatMap((s) => s.points.map(([x]) => x)));
  const x = (v: number): number => left + (v / maxX) * (width - left - right);
  const y = (v: number): number => top + (1 - v / 100) * (height - top - bottom);
  const grid: string[] = [];
  for (let v = 0; v <= 100; v += 20) {
    grid.push(`<line x1="${left}" y1="${y(v)}" x2="${width - right}" y2="${y(v)}" stroke="#ddd"/>`);
    grid.push(`<text x="${left - 8}" y="${y(v) + 4}" text-anchor="end" font-size="12">${v}</text>`);
  }
  for (let v = 0; v <= maxX; v += 10) {
    grid.push(
      `<line x1="${x(v)}" y1="${top}" x2="${x(v)}" y2="${height - bottom}" stroke="#f0f0f0"/>`,
    );
    if (v % 20 === 0)
      grid.push(
        `<text x="${x(v)}" y="${height - bottom + 16}" text-anchor="middle" font-size="12">${v}</text>`,
      );
  }
  const lines = series.map((s, i) => {
    const color = COLORS[i % COLORS.length] ?? "#000";
    const path = s.points.map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(" ");
    const legendY = top + 20 * i;
    return [
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${path}"/>`,
      `<line x1="${width - right + 12}" y1="${legendY}" x2="${width - right + 32}" y2="${legendY}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${width - right + 38}" y="${legendY + 4}" font-size="13">${escape(s.name)}</text>`,
    ].join("");
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escape(title)}</text>`,
    ...grid,
    `<text x="${(left + width - right) / 2}" y="${height - 12}" text-anchor="middle" font-size="13">arrived GPU demand (% of cluster GPUs)</text>`,
    `<text x="16" y="${(top + height - bottom) / 2}" text-anchor="middle" font-size="13" transform="rotate(-90 16 ${(top + height - bottom) / 2})">GPU allocation ratio (%)</text>`,
    ...lines,
    `</svg>`,
  ].join("\n");
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
