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
