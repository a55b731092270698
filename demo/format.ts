// Renders a run's evidence for people: the evaluation table (overall and per slice, with Wilson
// intervals and support, candidate beside champion) and the gate's rules.
import type { inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../api/router';

type RunEvidence = inferRouterOutputs<AppRouter>['reports']['get'];
type Interval = { estimate: number | null; lower: number | null; upper: number | null };

const pct = (x: number | null) => (x === null ? '  n/a' : `${(100 * x).toFixed(1).padStart(5)}`);
const ci = (i: Interval) => (i.estimate === null ? '        n/a         ' : `${pct(i.estimate)} [${pct(i.lower)},${pct(i.upper)}]`);

export function formatEvaluationTable(evidence: RunEvidence): string {
  const candidate = evidence.reports.find((r) => r.role === 'candidate');
  const champion = evidence.reports.find((r) => r.role === 'champion');
  if (!candidate) return `run ${evidence.runId}: no evaluation report yet`;
  const lines: string[] = [];
  const head = `v${candidate.version} (candidate)` + (champion ? ` vs v${champion.version} (champion)` : '');
  lines.push(`Evaluation on the held-out set, ${head}; percentages with Wilson 95% intervals`);
  lines.push(
    `${'slice'.padEnd(28)} ${'n'.padStart(5)} ${'ham'.padStart(5)}  ${'accuracy'.padEnd(20)}  ${'FPR (ham blocked)'.padEnd(20)}  ${'recall (spam caught)'.padEnd(20)}` +
      (champion ? `  ${'champion FPR'.padEnd(20)}` : ''),
  );
  const rows = [
    { name: 'overall', m: candidate.summary.overall, c: champion?.summary.overall },
    ...candidate.summary.slices.map((s) => ({
      name: `${s.attribute}=${s.value}`,
      m: s.metrics,
      c: champion?.summary.slices.find((x) => x.attribute === s.attribute && x.value === s.value)?.metrics,
    })),
  ];
  for (const { name, m, c } of rows) {
    lines.push(
      `${name.slice(0, 28).padEnd(28)} ${String(m.support).padStart(5)} ${String(m.negatives).padStart(5)}  ${ci(m.accuracy)}  ${ci(m.fpr)}  ${ci(m.recall)}` +
        (champion ? `  ${c ? ci(c.fpr) : 'n/a'}` : ''),
    );
  }
  if (evidence.gate) {
    lines.push('', `Gate: ${evidence.gate.decision}`);
    for (const r of evidence.gate.rules) lines.push(`  [${r.outcome.padEnd(12)}] ${r.rule}: ${r.detail}`);
    for (const reason of evidence.gate.reasons) lines.push(`  - ${reason}`);
  }
  lines.push(`Report ${candidate.contentHash}`);
  return lines.join('\n');
}
