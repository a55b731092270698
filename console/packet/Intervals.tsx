// The packet's estimates with their uncertainty: per-slice metrics (Wilson intervals) against the
// policy's bounds, fairness gaps (bootstrap intervals), and candidate-minus-champion differences.
import { memo, useId, useMemo, useState } from 'react';
import { PlotFigure } from '../components/PlotFigure';
import { fmt, interval } from '../format';
import {
  GAP_METRICS,
  GAP_NAMES,
  METRIC_NAMES,
  RATE_METRICS,
  defaultGapMetric,
  defaultSliceMetric,
  deltaRows,
  fairnessRows,
  isGapMetric,
  isRateMetric,
  sliceGroups,
  type GapMetric,
  type Packet,
  type Policy,
  type RateMetric,
  type SliceGroup,
} from './model';
import { boundedIntervalSpec, type BoundedRow } from './specs';

const boundText = (r: BoundedRow) => [r.min !== undefined ? `≥ ${fmt(r.min)}` : null, r.max !== undefined ? `≤ ${fmt(r.max)}` : null].filter(Boolean).join(', ') || '—';

function MetricSelect<T extends string>({ label, value, options, names, onChange, accept }: { label: string; value: T; options: readonly T[]; names: Record<T, string>; onChange(v: T): void; accept(v: string): v is T }) {
  const id = useId();
  return (
    <div className="filters">
      <div>
        <label htmlFor={id}>{label}</label>
        <select id={id} value={value} onChange={(e) => accept(e.target.value) && onChange(e.target.value)}>
          {options.map((m) => (
            <option key={m} value={m}>
              {names[m]}
            </option>
          ))}
        </select>
      </div>
    </div>
  );
}

/** One attribute's slices: a chart whose spec is built once per metric. */
const SliceChart = memo(function SliceChart({ group, metric }: { group: SliceGroup; metric: RateMetric }) {
  const spec = useMemo(() => boundedIntervalSpec(group.rows, { x: `${METRIC_NAMES[metric]} (95% Wilson interval)`, domain: [0, 1], width: 540 }), [group, metric]);
  const thin = group.rows.filter((r) => r.insufficient).length;
  return (
    <div>
      <h3>{group.attribute === 'overall' ? 'Overall' : group.attribute}</h3>
      <PlotFigure
      spec={spec}
      label={`${METRIC_NAMES[metric]} by ${group.attribute}, with 95% intervals and the policy's bound`}
        caption={`${group.attribute}: ${group.rows.length} value${group.rows.length === 1 ? '' : 's'}${thin ? `, ${thin} insufficient (hollow)` : ''}. Red ticks: the policy's bound.`}
      />
    </div>
  );
});

/** Charts side by side where the page is wide enough. */
const GRID = { display: 'grid', gridTemplateColumns: 'repeat(auto-fill, minmax(540px, 1fr))', columnGap: '1.5rem' } as const;

export function SlicesSection({ packet, policy, flagged }: { packet: Packet; policy: Policy | null; flagged: Set<string> }) {
  const [metric, setMetric] = useState<RateMetric>(() => defaultSliceMetric(policy));
  const groups = useMemo(() => sliceGroups(packet.candidateEvaluation, metric, policy, flagged), [packet, metric, policy, flagged]);
  const sliceRows = groups.filter((g) => g.attribute !== 'overall').flatMap((g) => g.rows);
  return (
    <section aria-labelledby="packet-slices">
      <h2 id="packet-slices">Per-slice metrics</h2>
      <p className="hint">
        The candidate on each slice: the point, its 95% Wilson interval and the rows behind it. A slice below the minimum support ({policy?.minSliceSupport ?? 30}) is hollow and labelled
        insufficient: it is never silently passed.
      </p>
      <MetricSelect label="Slice metric" value={metric} options={RATE_METRICS} names={METRIC_NAMES} onChange={setMetric} accept={isRateMetric} />
      <div style={GRID}>
        {groups.map((g) => (
          <SliceChart key={g.attribute} group={g} metric={metric} />
        ))}
      </div>
      <table>
        <caption className="hint">
          {METRIC_NAMES[metric]} per slice: {sliceRows.length} slice values
        </caption>
        <thead>
          <tr>
            <th scope="col">Slice</th>
            <th scope="col" className="num">
              {METRIC_NAMES[metric]}
            </th>
            <th scope="col" className="num">
              95% interval
            </th>
            <th scope="col" className="num">
              Support
            </th>
            <th scope="col" className="num">
              Policy bound
            </th>
            <th scope="col">Judgeable</th>
          </tr>
        </thead>
        <tbody>
          {sliceRows.map((r) => (
            <tr key={`${r.attribute}=${r.value}`}>
              <th scope="row">
                {r.attribute}={r.value}
              </th>
              <td className="num">{fmt(r.point)}</td>
              <td className="num">{interval(r.lower, r.upper)}</td>
              <td className="num">{r.support}</td>
              <td className="num">{boundText(r)}</td>
              <td>{r.insufficient ? <span className="badge insufficient">insufficient</span> : 'yes'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function FairnessSection({ packet, policy }: { packet: Packet; policy: Policy | null }) {
  const [metric, setMetric] = useState<GapMetric>(() => defaultGapMetric(policy));
  const rows = useMemo(() => fairnessRows(packet.candidateEvaluation, metric, policy), [packet, metric, policy]);
  const spec = useMemo(() => boundedIntervalSpec(rows, { x: `${GAP_NAMES[metric]} (95% bootstrap interval)`, reference: { value: metric === 'demographic_parity_ratio' ? 1 : 0, label: 'parity' } }), [rows, metric]);
  const fairness = packet.candidateEvaluation.fairness;
  return (
    <section aria-labelledby="packet-fairness">
      <h2 id="packet-fairness">Fairness gaps</h2>
      {fairness.length === 0 ? (
        <p className="state empty">No fairness attributes were evaluated for this packet.</p>
      ) : (
        <>
          <MetricSelect label="Fairness gap" value={metric} options={GAP_METRICS} names={GAP_NAMES} onChange={setMetric} accept={isGapMetric} />
          <PlotFigure
            spec={spec}
            label={`${GAP_NAMES[metric]} per sensitive attribute, with 95% bootstrap intervals and the policy's bound`}
            caption={`${fairness.length} attributes. Grey: parity. Red ticks: a fairness rule's bound. Hollow: a group too small to judge.`}
          />
          <table>
            <caption className="hint">
              {GAP_NAMES[metric]} per attribute, with the groups compared
            </caption>
            <thead>
              <tr>
                <th scope="col">Attribute</th>
                <th scope="col" className="num">
                  Gap
                </th>
                <th scope="col" className="num">
                  95% interval
                </th>
                <th scope="col" className="num">
                  Policy bound
                </th>
                <th scope="col">Groups (rows)</th>
                <th scope="col">Left out</th>
              </tr>
            </thead>
            <tbody>
              {fairness.map((f, i) => (
                <tr key={f.attribute}>
                  <th scope="row">{f.attribute}</th>
                  <td className="num">{fmt(f[metric].estimate)}</td>
                  <td className="num">{interval(f[metric].lower, f[metric].upper)}</td>
                  <td className="num">{rows[i] ? boundText(rows[i]) : '—'}</td>
                  <td>{f.groups.map((g) => `${g.group} (${g.count})`).join(', ')}</td>
                  <td>{f.excludedGroups.length ? f.excludedGroups.map((g) => `${g.group} (${g.count}, too few)`).join(', ') : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

export function DeltasSection({ packet, policy, flagged }: { packet: Packet; policy: Policy | null; flagged: Set<string> }) {
  const firstRegression = policy?.rules.find((r) => r.kind === 'no_regression');
  const [metric, setMetric] = useState<RateMetric>(() => (firstRegression?.kind === 'no_regression' && isRateMetric(firstRegression.metric) ? firstRegression.metric : 'accuracy'));
  const rows = useMemo(() => deltaRows(packet, metric, policy, flagged), [packet, metric, policy, flagged]);
  const spec = useMemo(() => {
    // Symmetric about zero, never narrower than ±0.05: identical versions would otherwise collapse the axis.
    const reach = Math.max(0.05, ...rows.flatMap((r) => [Math.abs(r.lower ?? 0), Math.abs(r.upper ?? 0)]));
    return boundedIntervalSpec(rows, { x: `Candidate − champion, ${METRIC_NAMES[metric]} (95% paired bootstrap)`, reference: { value: 0, label: 'no change' }, domain: [-reach, reach] });
  }, [rows, metric]);
  const overall = (packet.deltas ?? []).filter((d) => d.attribute === 'overall');
  return (
    <section aria-labelledby="packet-deltas">
      <h2 id="packet-deltas">Candidate minus champion</h2>
      {packet.deltas === null ? (
        <p className="state empty">No champion: nothing in production to compare the candidate with.</p>
      ) : (
        <>
          <MetricSelect label="Difference in" value={metric} options={RATE_METRICS} names={METRIC_NAMES} onChange={setMetric} accept={isRateMetric} />
          <PlotFigure spec={spec} label={`Candidate minus champion in ${METRIC_NAMES[metric]}, overall and per slice, with 95% paired bootstrap intervals`} caption="Grey line: no change. Both versions scored the same held-out rows." />
          <table>
            <caption className="hint">Overall differences, candidate minus champion</caption>
            <thead>
              <tr>
                <th scope="col">Metric</th>
                <th scope="col" className="num">
                  Difference
                </th>
                <th scope="col" className="num">
                  95% interval
                </th>
              </tr>
            </thead>
            <tbody>
              {overall.map((d) => (
                <tr key={d.metric}>
                  <th scope="row">{isRateMetric(d.metric) ? METRIC_NAMES[d.metric] : d.metric}</th>
                  <td className="num">{fmt(d.interval.estimate)}</td>
                  <td className="num">{interval(d.interval.lower, d.interval.upper)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
