// `retrain feedback health`: the flywheel's health read back through the API (GET /models/{model}/feedback/health),
// as a terminal report: explicit rate, slice coverage, label sources and selectors, the correction trend.
import type { Command } from 'commander';
import { api, output, pct, withClient } from '../cli';

type FlywheelReport = Awaited<ReturnType<ReturnType<typeof api>['feedback']['health']['query']>>;
const ciText = (c: { lower: number | null; upper: number | null }): string => (c.lower === null ? '' : `[${pct(c.lower)}, ${pct(c.upper)}]`);
function textTable(rows: string[][], indent = '  '): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => indent + r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
function formatFlywheelHealth(h: FlywheelReport): string {
  const day = (iso: string) => iso.replace('T', ' ').slice(0, 16);
  const out: string[] = [];
  out.push(`Flywheel health of ${h.model}: ${day(h.window.from)} to ${day(h.window.to)} UTC, ${h.window.buckets} buckets of ${(h.window.bucketSeconds / 86400).toFixed(2)} days`);
  out.push('');
  const e = h.explicitRate;
  out.push(`Explicit feedback: ${e.withExplicit} of ${e.requests} requests = ${pct(e.rate)} ${ciText(e.ci95)} (${e.kinds.join(', ')})`);
  out.push(`Feedback events in the window: ${h.feedback.events}, of which ${h.feedback.linkedToTraffic} name a request of the window's traffic`);
  out.push('');
  const judged = h.coverage.attributes.flatMap((a) => a.values);
  const insufficient = judged.filter((v) => v.status === 'insufficient').length;
  out.push(`Coverage: ${h.coverage.under.length} under-covered of ${judged.length} slices (${insufficient} insufficient) over ${h.coverage.attributes.length} attributes`);
  if (h.coverage.under.length > 0) {
    out.push(
      textTable([
        ['slice', 'traffic share', 'feedback share', 'ratio', 'ratio upper 95%'],
        ...h.coverage.under.map((u) => [`${u.attribute}=${u.value}`, pct(u.trafficShare), pct(u.feedbackShare), u.ratio.toFixed(2), u.ratioUpper.toFixed(2)]),
      ]),
    );
  }
  out.push('');
  const ls = h.labelSources;
  const mixRow = (name: string, m: { total: number; mix: { count: number; share: number | null }[] }) => [name, String(m.total), ...m.mix.map((x) => `${x.count} (${pct(x.share)})`)];
  out.push('Label sources');
  out.push(
    textTable([
      ['', 'total', ...ls.overall.mix.map((m) => m.source)],
      mixRow('all labelled examples', ls.overall),
      ...(ls.latestSnapshot ? [mixRow(`snapshot ${ls.latestSnapshot.snapshotId} training`, ls.latestSnapshot)] : []),
    ]),
  );
  out.push(
    ls.selfLabelShare === null
      ? '  self-labelled share: n/a (no snapshot with training members before the window ends)'
      : `  self-labelled share of training labels (source or selector 'model'): ${pct(ls.selfLabelShare)} (limit ${pct(ls.selfLabelLimit)})${ls.selfLabelAlert ? '  ALERT' : ''}; user-selected (feedback): ${pct(ls.userSelectedShare)}`,
  );
  out.push('');
  const t = h.overrideTrend;
  out.push(`Corrections (${t.kinds.join(', ')}): requests corrected per bucket`);
  out.push(
    textTable([
      ['bucket start', 'requests', 'corrected', 'rate', '95% CI'],
      ...t.buckets.map((b) => [day(b.start), String(b.traffic), String(b.corrections), pct(b.rate), ciText(b.ci95)]),
    ]),
  );
  out.push(`  slope: ${t.slope === null ? 'n/a' : `${(100 * t.slope).toFixed(2)} points per bucket`}`);
  out.push(`  staleness: ${t.staleness.status.toUpperCase()}: ${t.staleness.detail}`);
  out.push('');
  out.push(h.alerts.length ? `Alerts:\n${h.alerts.map((a) => `  - ${a}`).join('\n')}` : 'Alerts: none');
  return out.join('\n');
}

export function registerFeedbackHealth(feedback: Command): void {
  withClient(feedback.command('health').description('flywheel health: explicit rate, slice coverage, label sources, correction trend with a staleness alert'))
    .requiredOption('--model <name>')
    .option('--from <iso>', 'window start (default: 28 days before --to)')
    .option('--to <iso>', 'window end (default: now)')
    .option('--buckets <n>', 'time buckets for the trend, 2..90 (default 7)')
    .option('--slices <keys>', 'comma-separated attribute keys (default: the 20 most frequent in traffic)')
    .action(async (o: { model: string; from?: string; to?: string; buckets?: string; slices?: string; json?: boolean; url?: string; token?: string }) => {
      const slices = o.slices?.split(',').map((s) => s.trim()).filter(Boolean);
      if (o.buckets !== undefined && !/^\d+$/.test(o.buckets)) throw new Error(`--buckets must be an integer in [2, 90], got '${o.buckets}'`);
      const health = await api(o).feedback.health.query({
        model: o.model,
        ...(o.from ? { from: o.from } : {}),
        ...(o.to ? { to: o.to } : {}),
        ...(o.buckets ? { buckets: Number(o.buckets) } : {}),
        ...(slices?.length ? { slices } : {}),
      });
      output(o, health, () => formatFlywheelHealth(health));
    });
}
