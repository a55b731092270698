// A chart: an Observable Plot specification rendered into the page. Charts are declarative specs built
// from the data (console/charts.ts), never hand-drawn SVG; the figure carries a name for screen readers.
import * as Plot from '@observablehq/plot';
import { useEffect, useRef } from 'react';

export function PlotFigure({ spec, label, caption }: { spec: Plot.PlotOptions; label: string; caption?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const chart = Plot.plot({ ...spec, ariaLabel: label, ariaDescription: caption });
    // Plot names each mark's <g> ("dot", "rule"); aria-label is prohibited on a role-less <g> (axe:
    // aria-prohibited-attr, serious). The chart is named once, on its <svg>.
    chart.querySelectorAll('g[aria-label]').forEach((g) => g.removeAttribute('aria-label'));
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
