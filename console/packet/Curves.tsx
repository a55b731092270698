// The packet's curves: precision-recall (overall and per slice) with the operating threshold, the
// constrained choice and the abstain band marked; the learning curve of the run's saturation check.
import { useId, useMemo, useState } from 'react';
import { PlotFigure } from '../components/PlotFigure';
import { fmt, interval, pct } from '../format';
import type { Outputs } from '../trpc';
import { curvePoints, pointAt, type Packet } from './model';
import { boundedIntervalSpec, learningCurveSpec, prCurveSpec, thresholdSpec } from './specs';

export function PrSection({ packet }: { packet: Packet }) {
  const id = useId();
  const ev = packet.candidateEvaluation;
  const [slice, setSlice] = useState('overall');
  const operating = ev.settings.threshold;
  const chosen = packet.thresholds.find((t) => t.choice.chosen)?.choice.chosen ?? null;
  const band = packet.abstain ? { lower: packet.abstain.lower, upper: packet.abstain.upper } : null;
  const points = useMemo(() => {
    const curve = slice === 'overall' ? ev.prCurve : ev.slicePrCurves.find((c) => `${c.attribute}=${c.value}` === slice)?.curve;
    return curve ? curvePoints(curve) : [];
  }, [ev, slice]);
  const specs = useMemo(() => {
    const marks: Parameters<typeof prCurveSpec>[1] = [];
    const at = pointAt(points, operating);
    if (at) marks.push({ label: `operating ${fmt(operating)}`, recall: at.recall, precision: at.precision, colour: 'operating' });
    // The constrained choice was made on the whole held-out set: its own recall and precision, overall only.
    if (chosen && slice === 'overall' && chosen.precision !== null) marks.push({ label: `chosen ${fmt(chosen.threshold)}`, recall: chosen.recall, precision: chosen.precision, colour: 'chosen' });
    // The band's two ends, named once (at the upper end, the one with the lower recall).
    for (const end of band ? [band.upper, band.lower] : []) {
      const p = pointAt(points, end);
      if (p) marks.push({ label: end === band?.upper ? `abstain ${fmt(band.lower, 2)}–${fmt(band.upper, 2)}` : '', recall: p.recall, precision: p.precision, colour: 'band' });
    }
    return { pr: prCurveSpec(points, marks), thresholds: thresholdSpec(points, { operating, chosen: slice === 'overall' ? (chosen?.threshold ?? null) : null, band }) };
  }, [points, operating, chosen, band, slice]);
  return (
    <section aria-labelledby="packet-pr">
      <h2 id="packet-pr">Precision and recall</h2>
      <div className="filters">
        <div>
          <label htmlFor={id}>Curve of</label>
          <select id={id} value={slice} onChange={(e) => setSlice(e.target.value)}>
            <option value="overall">All held-out rows</option>
            {ev.slicePrCurves.map((c) => (
              <option key={`${c.attribute}=${c.value}`} value={`${c.attribute}=${c.value}`}>
                {c.attribute}={c.value}
              </option>
            ))}
          </select>
        </div>
      </div>
      {points.length === 0 ? (
        <p className="state empty">No curve for this slice.</p>
      ) : (
        <div style={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fill, minmax(540px, 1fr))', columnGap: '1.5rem' }}>
          <PlotFigure spec={specs.pr} label={`Precision-recall curve, ${slice === 'overall' ? 'all held-out rows' : slice}, with the operating threshold marked`} caption="Blue: the operating threshold; green: the threshold the policy's constraints chose; amber: the abstain band's ends." />
          <PlotFigure spec={specs.thresholds} label={`Precision and recall by threshold, ${slice === 'overall' ? 'all held-out rows' : slice}, abstain band shaded`} caption="Shaded: scores deferred to a human (the abstain band)." />
        </div>
      )}
      <dl className="facts">
        <dt>Operating threshold</dt>
        <dd>{fmt(operating)}</dd>
        {packet.thresholds.map((t) => (
          <Choice key={t.constraintsKey} analysis={t} />
        ))}
        <dt>Abstain band</dt>
        <dd>
          {packet.abstain
            ? `${interval(packet.abstain.lower, packet.abstain.upper)}: ${packet.abstain.deferred} rows deferred, coverage ${pct(packet.abstain.coverage)}, error outside ${pct(packet.abstain.errorRateOutside)} (all: ${pct(packet.abstain.errorRateAll)})`
            : 'none (the policy defers nothing)'}
        </dd>
      </dl>
    </section>
  );
}

function Choice({ analysis }: { analysis: Packet['thresholds'][number] }) {
  const { choice } = analysis;
  return (
    <>
      <dt>Constrained choice {analysis.constraintsKey}</dt>
      <dd>
        {choice.chosen
          ? `threshold ${fmt(choice.chosen.threshold)}: recall ${fmt(choice.chosen.recall)}, precision ${fmt(choice.chosen.precision)}, FPR ${fmt(choice.chosen.fpr)}`
          : `none meets the constraints${choice.closest ? `; closest ${fmt(choice.closest.threshold)}: ${choice.closest.violations.join('; ')}` : ''}`}
      </dd>
    </>
  );
}

type Saturation = Outputs['reports']['saturation'];

export function LearningCurveSection({ saturation }: { saturation: Saturation }) {
  const { report } = saturation;
  const specs = useMemo(() => {
    const seeds = report.curve.flatMap((c) => c.errors.map((error) => ({ n: c.n, error })));
    const means = report.curve.map((c) => ({ n: c.n, error: c.mean }));
    const fitted = report.chart ? report.chart.n.map((n, i) => ({ n, error: report.chart!.fitted[i] ?? 0 })) : [];
    const ab = report.ablation?.interval?.interval;
    const ablation = ab
      ? boundedIntervalSpec([{ label: 'newest batch', point: ab.mean, lower: ab.lower, upper: ab.upper, support: Array.isArray(ab.n) ? (ab.n[0] ?? 0) : ab.n, insufficient: false }], {
          x: 'Difference in held-out error (95% interval)',
          reference: { value: 0, label: 'no effect' },
        })
      : null;
    return { curve: learningCurveSpec(seeds, means, fitted), ablation };
  }, [report]);
  const fit = report.fit;
  return (
    <>
      <p>
        Verdict: <span className={`badge ${saturation.verdict === 'improving' ? 'pass' : saturation.verdict === 'plateau' ? 'warn' : 'fail'}`}>{saturation.verdict}</span> — {report.verdict.recommendation}
      </p>
      <PlotFigure spec={specs.curve} label="Learning curve: held-out error by training size, per seed and mean, with the fitted inverse power law" caption="Grey: each seed; blue: the mean; red dashed: the fitted curve, drawn to twice the data." />
      <dl className="facts">
        <dt>Fit</dt>
        <dd>{fit.ok ? `error = ${fmt(fit.a, 4)} + ${fmt(fit.b, 3)} · n^−${fmt(fit.c, 3)}` : `not fitted: ${fit.reason}`}</dd>
        <dt>Projected gain from doubling the data</dt>
        <dd>{fit.ok ? `${fmt(fit.projectedGainFromDoubling, 4)}${fit.projectedGainStandardError !== null ? ` ± ${fmt(1.96 * fit.projectedGainStandardError, 4)}` : ''} error` : '—'}</dd>
        <dt>Newest batch</dt>
        <dd>{report.ablation ? `${report.ablation.batch.batchId}: ${report.ablation.batch.examples} examples` : 'no ablation (the run had no newest annotation batch)'}</dd>
      </dl>
      {specs.ablation && report.ablation?.interval && (
        <PlotFigure spec={specs.ablation} label="Newest-batch ablation: error without the newest batch minus error with it, with its 95% interval" caption={`${report.ablation.interval.difference}${report.ablation.interval.significant ? ' (significant)' : ''}`} />
      )}
      <table>
        <caption className="hint">Held-out error per training size</caption>
        <thead>
          <tr>
            <th scope="col" className="num">
              Training examples
            </th>
            <th scope="col" className="num">
              Mean error
            </th>
            <th scope="col">Per seed</th>
          </tr>
        </thead>
        <tbody>
          {report.curve.map((c) => (
            <tr key={c.n}>
              <th scope="row" className="num">
                {c.n}
              </th>
              <td className="num">{fmt(c.mean, 4)}</td>
              <td>{c.errors.map((e) => fmt(e, 4)).join(', ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
