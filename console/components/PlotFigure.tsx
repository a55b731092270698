// A chart: an Observable Plot specification rendered into the page. Charts are declarative specs built
// from the data (console/charts.ts), never hand-drawn SVG; the figure carries a name for screen readers.
import * as Plot from '@observablehq/plot';
import { useEffect, useRef } from 'react';

export function PlotFigure({ spec, label, caption }: { spec: Plot.PlotOptions; label: string; caption?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const chart = Plot.plot({ ...spec, ariaLabel: label, ariaDescription: caption });
    // Plot names each mark's <g> ("dot", "rule", "x-axis tick"), which ARIA forbids on an element
    // without a role (axe: aria-prohibited-attr); the chart's own label and caption carry its meaning.
    for (const g of chart.querySelectorAll('g[aria-label], g[aria-description]')) {
      g.removeAttribute('aria-label');
      g.removeAttribute('aria-description');
    }
    ref.current?.replaceChildren(chart);
    return () => chart.remove();
  }, [spec, label, caption]);
  return (
    <figure className="chart">
      <div ref={ref} />
      {caption && <figcaption>{caption}</figcaption>}
    </figure>
  );
}
