// How an audit's kind and spec read for a person.
import type { Outputs } from '../trpc';

type Audit = Outputs['audits']['list'][number];

export const KIND_LABEL: Record<Audit['kind'], string> = { bias_reaudit: 'Bias re-audit', drift_monitor: 'Drift monitor' };

export function specText(spec: Audit['spec']): string {
  if (spec.cron) return `cron ${spec.cron} (${spec.timezone})`;
  if (spec.interval) {
    const s = spec.interval.everySeconds;
    const every = s % 86_400 === 0 ? `${s / 86_400} d` : s % 3600 === 0 ? `${s / 3600} h` : s % 60 === 0 ? `${s / 60} min` : `${s} s`;
    return `every ${every}`;
  }
  return '—';
}

type Policy = NonNullable<Outputs['audits']['describe']['policy']>;

const POLICY_LABEL: Record<string, string> = {
  maxFprIncrease: 'largest FPR increase',
  maxFairnessGap: 'largest fairness gap',
  maxPsi: 'largest PSI',
  minSupport: 'fewest examples per slice',
  attributes: 'slice attributes',
  startRetraining: 'starts a retraining run',
  proposeRollback: 'proposes a rollback',
  maxOverrideRise: 'largest override-rate rise',
  webhook: 'alerts to',
};

/** A policy as a person reads it: "largest PSI 0.25; slice attributes sender_tld; alerts to https://…". */
export function policyText(policy: Policy): string {
  const value = (v: unknown): string => {
    if (Array.isArray(v)) return v.join(', ');
    if (typeof v === 'boolean') return v ? 'yes' : 'no';
    if (v && typeof v === 'object' && 'url' in v) return String(v.url);
    return v === null || v === undefined ? 'none' : String(v);
  };
  return Object.entries(policy)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${POLICY_LABEL[k] ?? k}: ${value(v)}`)
    .join('; ');
}
