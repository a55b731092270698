// Calibration: does a score of 0.9 mean about 90%? The overall reliability curve (each bin's fraction
// of positives against its mean score, the diagonal for reference, the rows per bin), ECE and the
// Brier score with their bootstrap intervals overall and per slice, against a calibration rule's max.
import { useId, useMemo, useState } from 'react';
import { PlotFigure } from '../components/PlotFigure';
import { fmt, interval } from '../format';
import {
  CALIBRATION_NAMES,
  calibrationInterval,
  calibrationRows,
  defaultCalibration,
  reliabilityBins,
  type Binning,
  type CalibrationMetric,
  type Packet,
  type Policy,
} from './model';
import { boundedIntervalSpec, reliabilitySpec } from './specs';

const BINNING_NAMES: Record<Binning, string> = { quantile: 'adaptive (equal-mass) bins', uniform: 'fixed-width bins' };

export function CalibrationSection({ packet, policy }: { packet: Packet; policy: Policy | null }) {
  const ev = packet.candidateEvaluation;
  const entries = useMemo(() => ev.calibration ?? [], [ev]);
  const [choice, setChoice] = useState(() => defaultCalibration(ev, policy));
  const [metric, setMetric] = useState<CalibrationMetric>('ece');
  const binsId = useId();
  const binningId = useId();
  const metricId = useId();
  const entry = entries.find((c) => c.bins === choice.bins) ?? entries[0];
  const bins = useMemo(() => (entry ? reliabilityBins(entry, choice.binning) : []), [entry, choice.binning]);
  const curveSpec = useMemo(() => reliabilitySpec(bins), [bins]);
  const rows = useMemo(() => (entry ? calibrationRows(entry, metric, choice.binning, policy) : []), [entry, metric, choice.binning, policy]);
  const rowsSpec = useMemo(
    () =>
      boundedIntervalSpec(rows, {
        x: `${CALIBRATION_NAMES[metric]}${metric === 'brier' ? '' : `, ${choice.binning} bins`} (95% bootstrap interval)`,
        domain: [0, Math.max(0.1, ...rows.flatMap((r) => [r.upper ?? 0, r.max ?? 0]))],
        width: 540,
      }),
    [rows, metric, choice.binning],
  );
  if (!entry) {
    return (
      <section aria-labelledby="packet-calibration">
        <h2 id="packet-calibration">Calibration</h2>
        <p className="state empty">This packet was evaluated before calibration was reported.</p>
      </section>
    );
  }
  const o = entry.overall;
  const ece = o.ece[choice.binning];
  return (
    <section aria-labelledby="packet-calibration">
      <h2 id="packet-calibration">Calibration</h2>
      <p className="hint">
        Does a score of 0.9 mean about 90%? Each dot is a bin of held-out rows: its mean score against the fraction that were positive, its area the rows behind it. A calibrated model
        follows the dashed diagonal. The gate judges the upper end of each interval.
      </p>
      <div className="filters">
        <div>
          <label htmlFor={binsId}>Bins</label>
          <select id={binsId} value={entry.bins} onChange={(e) => setChoice({ ...choice, bins: Number(e.target.value) })}>
            {entries.map((c) => (
              <option key={c.bins} value={c.bins}>
                {c.bins}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor={binningId}>Binning</label>
          <select id={binningId} value={choice.binning} onChange={(e) => setChoice({ ...choice, binning: e.target.value === 'uniform' ? 'uniform' : 'quantile' })}>
            <option value="quantile">{BINNING_NAMES.quantile}</option>
            <option value="uniform">{BINNING_NAMES.uniform}</option>
          </select>
        </div>
      </div>
      <dl className="facts calibration-facts">
        <dt>Expected calibration error</dt>
        <dd className="calibration-ece">
          {fmt(ece.estimate)} {interval(ece.lower, ece.upper)}
        </dd>
        <dt>Maximum calibration error</dt>
        <dd>
          {fmt(o.mce[choice.binning].estimate)} {interval(o.mce[choice.binning].lower, o.mce[choice.binning].upper)}
        </dd>
        <dt>Brier score</dt>
        <dd className="calibration-brier">
          {fmt(o.brier.estimate)} {interval(o.brier.lower, o.brier.upper)}
        </dd>
        <dt>Intervals</dt>
        <dd>
          95% percentile bootstrap, {entry.replicates} replicates{entry.roundedTo !== null ? `; scores rounded to ${entry.roundedTo} decimals first (a summary of many distinct scores; bins a rule judges are exact)` : ''}
        </dd>
      </dl>
      {bins.length === 0 ? (
        <p className="state empty">No held-out rows: no reliability curve.</p>
      ) : (
        <div style={{ display: 'grid', gridTemplateColumns: 'repeat(auto-fill, minmax(420px, 1fr))', columnGap: '1.5rem' }}>
          <PlotFigure
            spec={curveSpec}
            label={`Reliability curve, ${entry.bins} ${BINNING_NAMES[choice.binning]}: fraction positive against mean score, with the diagonal of perfect calibration`}
            caption={`${bins.length} non-empty bins of ${entry.bins}. Dashed: perfect calibration. Dot area: rows in the bin (the table gives each count).`}
          />
          <table className="reliability-bins">
            <caption className="hint">The reliability curve&apos;s bins</caption>
            <thead>
              <tr>
                <th scope="col" className="num">
                  Mean score
                </th>
                <th scope="col" className="num">
                  Fraction positive
                </th>
                <th scope="col" className="num">
                  Gap
                </th>
                <th scope="col" className="num">
                  Rows
                </th>
              </tr>
            </thead>
            <tbody>
              {bins.map((b, i) => (
                <tr key={i}>
                  <td className="num">{fmt(b.confidence)}</td>
                  <td className="num">{fmt(b.accuracy)}</td>
                  <td className="num">{fmt(b.accuracy - b.confidence)}</td>
                  <td className="num">{b.count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div className="filters">
        <div>
          <label htmlFor={metricId}>Per slice</label>
          <select id={metricId} value={metric} onChange={(e) => setMetric(e.target.value === 'brier' ? 'brier' : e.target.value === 'mce' ? 'mce' : 'ece')}>
            {(['ece', 'mce', 'brier'] as const).map((m) => (
              <option key={m} value={m}>
                {CALIBRATION_NAMES[m]}
              </option>
            ))}
          </select>
        </div>
      </div>
      <PlotFigure
        spec={rowsSpec}
        label={`${CALIBRATION_NAMES[metric]} overall and per slice, with 95% bootstrap intervals and the policy's max`}
        caption="Red ticks: a calibration rule's max. Hollow: too few rows to judge."
      />
      <table className="calibration-slices">
        <caption className="hint">Calibration overall and per slice ({entry.bins} bins)</caption>
        <thead>
          <tr>
            <th scope="col">Slice</th>
            <th scope="col" className="num">
              ECE ({choice.binning})
            </th>
            <th scope="col" className="num">
              95% interval
            </th>
            <th scope="col" className="num">
              Brier
            </th>
            <th scope="col" className="num">
              95% interval
            </th>
            <th scope="col" className="num">
              Rows
            </th>
          </tr>
        </thead>
        <tbody>
          {[o, ...entry.slices].map((s) => {
            const e = calibrationInterval(s, 'ece', choice.binning);
            return (
              <tr key={`${s.attribute}=${s.value}`}>
                <th scope="row">{s.attribute === 'overall' ? 'overall' : `${s.attribute}=${s.value}`}</th>
                <td className="num">{fmt(e.estimate)}</td>
                <td className="num">{interval(e.lower, e.upper)}</td>
                <td className="num">{fmt(s.brier.estimate)}</td>
                <td className="num">{interval(s.brier.lower, s.brier.upper)}</td>
                <td className="num">{s.support}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
