// Renders the approval packet for people: what an approver reads before signing. The packet is data
// (analysis/report.ts); this is only its terminal face.
import type { ApprovalPacket, PairedDelta } from '../analysis/report';
import type { SliceEvaluation } from '../analysis/classification';

type Interval = { estimate: number | null; lower: number | null; upper: number | null };

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '  n/a' : `${(100 * x).toFixed(1).padStart(5)}`);
const ci = (i: Interval | null | undefined) =>
  !i || i.estimate === null ? '        n/a         ' : `${pct(i.estimate)} [${pct(i.lower)},${pct(i.upper)}]`;
const signed = (i: Interval | undefined) =>
  !i || i.estimate === null ? '        n/a          ' : `${i.estimate >= 0 ? '+' : ''}${(100 * i.estimate).toFixed(1)} [${pct(i.lower)},${pct(i.upper)}]`.padStart(21);

function sliceRows(packet: ApprovalPacket) {
  const cand = packet.candidateEvaluation.classification;
  const champ = packet.championEvaluation?.classification;
  const key = (s: { attribute: string; value: string }) => `${s.attribute}=${s.value}`;
  const championOf = new Map<string, SliceEvaluation>(champ ? [champ.overall, ...champ.slices].map((s) => [key(s), s]) : []);
  const deltaOf = new Map<string, PairedDelta>((packet.deltas ?? []).filter((d) => d.metric === 'fpr').map((d) => [key(d), d]));
  return [cand.overall, ...cand.slices.filter((s) => s.rates.support > 0)].map((s) => ({
    name: s.attribute === 'overall' ? 'overall' : key(s),
    s,
    champion: championOf.get(key(s)),
    deltaFpr: deltaOf.get(key(s))?.interval,
  }));
}

/** Calibration overall (each number of bins computed) and the 10-bin reliability curve, in a few lines. */
function calibrationLines(packet: ApprovalPacket): string[] {
  const entries = packet.candidateEvaluation.calibration ?? [];
  const iv = (i: { estimate: number | null; lower: number | null; upper: number | null }) => `${i.estimate?.toFixed(4) ?? 'n/a'} [${i.lower?.toFixed(4) ?? 'n/a'}, ${i.upper?.toFixed(4) ?? 'n/a'}]`;
  const out: string[] = [];
  for (const c of entries) {
    const o = c.overall;
    out.push(
      `Calibration, ${c.bins} bins: ECE ${iv(o.ece.quantile)} (adaptive bins), ${iv(o.ece.uniform)} (fixed); Brier ${iv(o.brier)}` +
        (c.roundedTo !== null ? ` (scores rounded to ${c.roundedTo} decimals, ${c.replicates} replicates)` : ''),
    );
  }
  const curve = entries.find((c) => c.bins === 10)?.overall.curves?.quantile;
  if (curve) out.push(`  reliability (mean score -> fraction positive, rows): ${curve.probPred.map((p, i) => `${p.toFixed(2)}->${curve.probTrue[i]!.toFixed(2)} (${curve.counts[i]})`).join(', ')}`);
  return out;
}

/** The worst intersection cells per combination (packet.intersections), one table each. */
function intersectionLines(packet: ApprovalPacket): string[] {
  const lines: string[] = [];
  for (const r of packet.intersections ?? []) {
    const by = r.worstBy === 'upper' ? 'highest upper bound' : 'lowest lower bound';
    const judged = r.rules.length ? `judged by ${r.rules.join(', ')}` : 'not judged by a rule';
    lines.push('', `Worst cells of ${r.attributes.join(' × ')} by ${r.metric} (${by}; ${judged}; ${r.cells} cells, ${r.belowMinSupport} below minimum support)`);
    lines.push(`  ${'cell'.padEnd(44)} ${'n'.padStart(6)}  ${r.metric.padEnd(20)}  outcome`);
    for (const c of r.worst) lines.push(`  ${c.cell.slice(0, 44).padEnd(44)} ${String(c.support).padStart(6)}  ${ci(c.interval)}  ${c.outcome ?? '-'}`);
  }
  return lines;
}

export function formatPacket(packet: ApprovalPacket, packetHash: string | null): string {
  const lines: string[] = [];
  const hasChampion = packet.champion !== null;
  lines.push(
    packet.runId === 'file'
      ? `Evaluation of ${packet.model}`
      : `Approval packet for run ${packet.runId} (${packet.model}): v${packet.candidate.version} (candidate)` +
          (hasChampion ? ` vs v${packet.champion!.version} (champion)` : ', no champion yet') +
          `, gate policy v${packet.policyVersion ?? '-'}`,
  );
  lines.push(`Held-out set: ${packet.heldOut.rows} rows, ${packet.heldOut.positives} positive (spam), ${packet.heldOut.negatives} negative (ham). Percentages with 95% intervals (Wilson; paired bootstrap for changes).`);
  const design = packet.heldOut.design;
  if (design) {
    const left = design.selectedLeftOut ? `; ${design.selectedLeftOut} labels selected by the model or users left out of it` : '';
    lines.push(design.kind === 'time' ? `  held out by time: observed from ${design.cutAt} (newest ${design.newest})${left}` : `  held out by the examples' recorded split${left}`);
  }
  if (packet.labelMix && packet.labelMix.train > 0) {
    const mix = packet.labelMix;
    const part = (counts: Record<string, number | undefined>) =>
      Object.entries(counts)
        .filter(([, n]) => n)
        .map(([k, n]) => `${k} ${n} (${(100 * n! / mix.train).toFixed(1)}%)`)
        .join(', ');
    lines.push(`Training labels: ${mix.train}; by source ${part(mix.bySource)}; chosen by ${part(mix.bySelector)}`);
  }
  lines.push('');
  lines.push(
    `${'slice'.padEnd(26)} ${'n'.padStart(5)} ${'ham'.padStart(5)}  ${'accuracy'.padEnd(20)}  ${'FPR (ham blocked)'.padEnd(20)}  ${'recall (spam caught)'.padEnd(20)}` +
      (hasChampion ? `  ${'champion FPR'.padEnd(20)}  ${'FPR change'.padStart(21)}` : ''),
  );
  for (const row of sliceRows(packet)) {
    const r = row.s.rates;
    lines.push(
      `${row.name.slice(0, 26).padEnd(26)} ${String(r.support).padStart(5)} ${String(r.negatives).padStart(5)}  ${ci(r.accuracy)}  ${ci(r.fpr)}  ${ci(r.recall)}` +
        (hasChampion ? `  ${ci(row.champion?.rates.fpr)}  ${signed(row.deltaFpr)}` : ''),
    );
  }
  const auc = packet.candidateEvaluation.aucInterval;
  lines.push(`ROC-AUC ${auc.estimate?.toFixed(4) ?? 'n/a'} [${auc.lower?.toFixed(4) ?? 'n/a'}, ${auc.upper?.toFixed(4) ?? 'n/a'}] (${auc.method ?? 'bootstrap'}); majority-class baseline accuracy ${pct(packet.candidateEvaluation.classification.overall.rates.baselineAccuracy)}%`);

  lines.push(...calibrationLines(packet));

  for (const f of packet.candidateEvaluation.fairness) {
    const excluded = f.excludedGroups.length ? `; left out below minimum support: ${f.excludedGroups.map((g) => `${g.group} (${g.count})`).join(', ')}` : '';
    lines.push('', `Fairness by ${f.attribute} (Fairlearn definitions${excluded})`);
    lines.push(`  ${'group'.padEnd(16)} ${'count'.padStart(6)}  ${'selection'.padStart(9)}  ${'TPR'.padStart(6)}  ${'FPR'.padStart(6)}`);
    for (const g of f.groups) lines.push(`  ${g.group.padEnd(16)} ${String(g.count).padStart(6)}  ${pct(g.selection_rate).padStart(9)}  ${pct(g.tpr).padStart(6)}  ${pct(g.fpr).padStart(6)}`);
    lines.push(
      `  FPR gap ${ci(f.fpr_difference)}   TPR gap ${ci(f.tpr_difference)}   equalized odds ${ci(f.equalized_odds_difference)}   demographic parity ${ci(f.demographic_parity_difference)}`,
    );
  }

  lines.push(...intersectionLines(packet));

  if (packet.thresholds.length) {
    lines.push('', 'Threshold trade-off');
    for (const t of packet.thresholds) {
      const c = t.choice.status === 'met' ? t.choice.chosen : t.choice.closest;
      lines.push(
        `  constraints ${t.constraintsKey}: ${t.choice.status === 'met' ? 'met' : 'no threshold satisfies them'}` +
          (c ? ` at ${c.threshold.toFixed(4)} (recall ${pct(c.recall)}, FPR ${pct(c.fpr)}${c.worstSliceFpr ? `, worst slice ${c.worstSliceFpr.attribute}=${c.worstSliceFpr.value} ${pct(c.worstSliceFpr.fpr)}` : ''})` : ''),
      );
      if (t.choice.status !== 'met' && t.choice.closest) for (const v of t.choice.closest.violations) lines.push(`    - ${v}`);
    }
  }

  if (packet.costs && 'error' in packet.costs) lines.push('', `Error cost: ${packet.costs.error}`);
  else if (packet.costs) {
    const c = packet.costs.atThreshold;
    lines.push('', `Error cost at threshold ${packet.candidateEvaluation.settings.threshold}: ${c.total.toFixed(1)} (${c.falsePositives} ham blocked, ${c.falseNegatives} spam missed; ${c.perExample.toFixed(4)} per message); cheapest threshold ${packet.costs.cheapest.threshold.toFixed(4)} costs ${packet.costs.cheapest.cost.toFixed(1)}`);
    const top = [...c.bySlice].sort((a, b) => b.cost - a.cost).slice(0, 3);
    lines.push(`  largest shares: ${top.map((s) => `${s.attribute}=${s.value} ${(100 * s.share).toFixed(0)}%`).join(', ')}`);
  }
  if (packet.abstain) {
    const a = packet.abstain;
    lines.push(`Abstain band [${a.lower.toFixed(2)}, ${a.upper.toFixed(2)}): ${a.deferred} messages to a human (coverage ${pct(a.coverage)}%), error rate outside ${pct(a.errorRateOutside)}% vs ${pct(a.errorRateAll)}% overall`);
  }

  lines.push('', packet.untested.length ? 'Untested segments (in recent traffic, absent or thin in the held-out set)' : 'Untested segments: none');
  for (const u of packet.untested.slice(0, 15)) {
    lines.push(`  ${`${u.attribute}=${u.value}`.padEnd(30)} ${(100 * u.trafficShare).toFixed(1).padStart(5)}% of traffic, ${u.heldOutSupport} held out (${u.reason})`);
  }
  if (packet.untested.length > 15) lines.push(`  … and ${packet.untested.length - 15} more`);

  lines.push('', `Gate: ${packet.judgement.decision}`);
  for (const r of packet.judgement.rules) lines.push(`  [${r.outcome.padEnd(14)}] ${r.id}: ${r.detail}`);
  if (packet.judgement.rules.length === 0) for (const reason of packet.judgement.reasons) lines.push(`  ${reason}`);
  if (packetHash) lines.push(`Packet ${packetHash}`);
  return lines.join('\n');
}

/** The packet of a run as the API returns it (reports.get), or a line saying there is none yet. */
export function formatRunEvidence(evidence: { runId: string; packet: unknown; packetHash: string | null }): string {
  return evidence.packet ? formatPacket(evidence.packet as ApprovalPacket, evidence.packetHash) : `run ${evidence.runId}: no approval packet yet`;
}

/** The stored saturation report (activities/saturation.ts), as far as the terminal view reads it. */
export interface SaturationReportView {
  curve: { n: number; fraction: number; errors: number[]; mean: number }[];
  fit: { ok: boolean; a?: number; b?: number; c?: number; rmse?: number; projectedGainFromDoubling?: number; projectedErrorAtDouble?: number; reason?: string; detail?: string };
  chart: { n: number[]; fitted: number[] } | null;
  ablation: {
    batch: { batchId: string; examples: number; annotators: string[] };
    composition: { slice: string; share: number; lift: number }[];
    perSeed: { seed?: number | string; withNewest: number; withoutNewest: number }[];
    rowTest: { overall: { worse: number; better: number; p: number; significant: boolean } } | null;
    slicesMostAffected: { slice: string; errorRateIncrease?: number; excessErrors?: number; p?: number; significant: boolean }[];
  } | null;
  verdict: { verdict: string; reasons: string[]; recommendation: string; thresholds: Record<string, number> };
}

/**
 * The learning curve drawn in the terminal (x: training size on a log scale, y: held-out error):
 * `·` one seed, `o` the mean of a size, `*` the fitted curve out to twice the data; then the fit,
 * the newest-batch ablation and the verdict.
 */
export function formatSaturationReport(runId: string, r: SaturationReportView, width = 64, height = 16): string {
  const ns = [...r.curve.map((c) => c.n), ...(r.chart?.n ?? [])];
  const ys = [...r.curve.flatMap((c) => c.errors), ...(r.chart?.fitted ?? [])];
  const out: string[] = [`Saturation check of ${runId}: ${r.verdict.verdict.toUpperCase()} — ${r.verdict.recommendation}`, ''];
  if (ns.length > 0) {
    const [x0, x1] = [Math.log(Math.min(...ns)), Math.log(Math.max(...ns))];
    const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    const grid = Array.from({ length: height }, () => new Array<string>(width).fill(' '));
    const put = (n: number, y: number, ch: string) => {
      const col = x1 > x0 ? Math.round(((Math.log(n) - x0) / (x1 - x0)) * (width - 1)) : 0;
      const row = y1 > y0 ? height - 1 - Math.round(((y - y0) / (y1 - y0)) * (height - 1)) : height - 1;
      const cur = grid[row]![col]!;
      // The measured means win over seeds, seeds over the fitted line.
      if (ch === 'o' || cur === ' ' || (ch === '·' && cur === '*')) grid[row]![col] = ch;
    };
    if (r.chart) {
      const [a, b] = [Math.log(r.chart.n[0]!), Math.log(r.chart.n.at(-1)!)];
      const fit = r.fit;
      for (let k = 0; k <= width * 2; k++) {
        const n = Math.exp(a + ((b - a) * k) / (width * 2));
        if (fit.ok && fit.a !== undefined && fit.b !== undefined && fit.c !== undefined) put(n, fit.a + fit.b * n ** -fit.c, '*');
      }
    }
    for (const c of r.curve) for (const e of c.errors) put(c.n, e, '·');
    for (const c of r.curve) put(c.n, c.mean, 'o');
    const label = (y: number) => `${(100 * y).toFixed(2).padStart(6)}% |`;
    grid.forEach((row, i) => {
      const y = y1 - ((y1 - y0) * i) / Math.max(1, height - 1);
      out.push(`${i === 0 || i === height - 1 || i === Math.floor(height / 2) ? label(y) : '        |'}${row.join('')}`);
    });
    out.push(`        +${'-'.repeat(width)}`);
    out.push(`         n = ${Math.min(...ns)} (log scale) .. ${Math.max(...ns)}    · seed   o mean   * fit`);
    out.push('');
  }
  for (const c of r.curve) {
    out.push(`  n ${String(c.n).padStart(6)} (${(100 * c.fraction).toFixed(0).padStart(3)}%)  error ${(100 * c.mean).toFixed(2)}%  seeds ${c.errors.map((e) => `${(100 * e).toFixed(2)}%`).join(' ')}`);
  }
  const f = r.fit;
  out.push(
    f.ok
      ? `Fit: error = ${f.a!.toFixed(4)} + ${f.b!.toPrecision(4)} n^-${f.c!.toFixed(3)} (rmse ${f.rmse!.toFixed(4)}); doubling the data is projected to lower error by ${(100 * f.projectedGainFromDoubling!).toFixed(2)} points, to ${(100 * f.projectedErrorAtDouble!).toFixed(2)}%`
      : `Fit: cannot fit (${f.reason}): ${f.detail ?? ''}`,
  );
  const ab = r.ablation;
  if (ab) {
    out.push(`Newest batch ${ab.batch.batchId}: ${ab.batch.examples} training labels by ${ab.batch.annotators.join(', ') || 'unknown annotators'}`);
    if (ab.composition.length) out.push(`  concentrated in ${ab.composition.slice(0, 4).map((c) => `${c.slice} (${Math.round(100 * c.share)}%, ${c.lift.toFixed(1)}x)`).join(', ')}`);
    out.push(`  error with / without it, per seed: ${ab.perSeed.map((s) => `${(100 * s.withNewest).toFixed(2)}% / ${(100 * s.withoutNewest).toFixed(2)}%`).join('; ')}`);
    if (ab.rowTest) out.push(`  held-out rows wrong only with it ${ab.rowTest.overall.worse}, only without it ${ab.rowTest.overall.better} (exact McNemar p = ${ab.rowTest.overall.p.toExponential(2)})`);
    const worse = ab.slicesMostAffected.filter((s) => s.significant);
    if (worse.length === 0) out.push('  no slice is significantly worse with it');
    for (const s of worse.slice(0, 5)) {
      out.push(`  ! ${s.slice}: error rate +${(100 * (s.errorRateIncrease ?? 0)).toFixed(1)} points${s.p !== undefined ? ` (Holm-adjusted p = ${s.p.toExponential(2)})` : ''}`);
    }
  }
  out.push('Why:');
  for (const reason of r.verdict.reasons) out.push(`  - ${reason}`);
  return out.join('\n');
}
