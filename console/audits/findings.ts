// What an audit report found, flattened: one row per finding (a PSI, a rate's change on a slice, a
// fairness gap), keyed so the same finding can be followed across a schedule's reports.
import type { Outputs } from '../trpc';

export type WholeReport = Outputs['audits']['report'];
export type ReportRow = Outputs['audits']['reports'][number];
export type AuditPolicy = Outputs['audits']['describe']['policy'];

export interface Finding {
  /** Stable across reports: what is measured, on what. */
  key: string;
  /** For a person: "PSI of sender_tld", "fpr change on sender_tld=country_code". */
  label: string;
  /** What the value is, for the chart's axis. */
  measure: string;
  estimate: number | null;
  lower: number | null;
  upper: number | null;
  /** The policy's bound for this finding, where the report or policy carries one. */
  threshold: number | null;
  crossed: boolean;
}

export interface FindingPoint extends Finding {
  reportId: number;
  windowTo: Date;
}

const METRIC_LABEL: Record<string, string> = {
  fpr_difference: 'FPR gap',
  tpr_difference: 'TPR gap',
  demographic_parity_difference: 'selection-rate gap',
};

/** The findings of one report, whichever its kind. */
export function findingsOf(r: WholeReport, policy: AuditPolicy): Finding[] {
  if (r.kind === 'drift_monitor') {
    const maxPsi = policy && 'maxPsi' in policy ? (policy.maxPsi ?? null) : null;
    const maxRise = policy && 'maxOverrideRise' in policy ? (policy.maxOverrideRise ?? null) : null;
    const o = r.report.overrides;
    return [
      ...r.report.population.map((p) => ({
        key: `psi:${p.attribute}`,
        label: `PSI of ${p.attribute}`,
        measure: 'PSI against the pre-launch population',
        estimate: p.psi,
        lower: null,
        upper: null,
        threshold: maxPsi,
        crossed: p.crossed,
      })),
      {
        key: 'override-rise',
        label: 'Override-rate change',
        measure: 'override rate, this window minus the previous',
        estimate: o.difference.estimate,
        lower: o.difference.lower,
        upper: o.difference.upper,
        threshold: maxRise,
        crossed: o.crossed,
      },
    ];
  }
  const c = r.report.comparison;
  return [
    ...c.dataDrift.map((d) => ({
      key: `psi:${d.attribute}`,
      label: `PSI of ${d.attribute}`,
      measure: 'PSI against the pre-launch population',
      estimate: d.psi,
      lower: null,
      upper: null,
      threshold: c.policy.maxPsi,
      crossed: d.crossed,
    })),
    ...c.conceptDrift.map((d) => ({
      key: `${d.metric}:${d.slice}`,
      label: `${d.metric.toUpperCase()} change on ${d.slice}`,
      measure: `${d.metric.toUpperCase()}, window minus pre-launch`,
      estimate: d.difference.estimate,
      lower: d.difference.lower,
      upper: d.difference.upper,
      threshold: d.threshold,
      crossed: d.crossed,
    })),
    ...c.fairness.map((f) => ({
      key: `${f.metric}:${f.attribute}`,
      label: `${METRIC_LABEL[f.metric] ?? f.metric} across ${f.attribute}`,
      measure: `${METRIC_LABEL[f.metric] ?? f.metric} (highest group minus lowest)`,
      estimate: f.window?.estimate ?? null,
      lower: f.window?.lower ?? null,
      upper: f.window?.upper ?? null,
      threshold: f.threshold,
      crossed: f.crossed,
    })),
  ];
}

/** Every finding across the reports, grouped by finding (in first-seen order), each oldest window first. */
export function findingSeries(reports: WholeReport[], policy: AuditPolicy): { key: string; label: string; measure: string; points: FindingPoint[] }[] {
  const byKey = new Map<string, { key: string; label: string; measure: string; points: FindingPoint[] }>();
  const ordered = [...reports].sort((a, b) => a.windowTo.getTime() - b.windowTo.getTime());
  for (const r of ordered) {
    for (const f of findingsOf(r, policy)) {
      const series = byKey.get(f.key) ?? { key: f.key, label: f.label, measure: f.measure, points: [] };
      series.points.push({ ...f, reportId: r.reportId, windowTo: r.windowTo });
      byKey.set(f.key, series);
    }
  }
  return [...byKey.values()];
}
