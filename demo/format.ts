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

  for (const f of packet.candidateEvaluation.fairness) {
    const excluded = f.excludedGroups.length ? `; left out below minimum support: ${f.excludedGroups.map((g) => `${g.group} (${g.count})`).join(', ')}` : '';
    lines.push('', `Fairness by ${f.attribute} (Fairlearn definitions${excluded})`);
    lines.push(`  ${'group'.padEnd(16)} ${'count'.padStart(6)}  ${'selection'.padStart(9)}  ${'TPR'.padStart(6)}  ${'FPR'.padStart(6)}`);
    for (const g of f.groups) lines.push(`  ${g.group.padEnd(16)} ${String(g.count).padStart(6)}  ${pct(g.selection_rate).padStart(9)}  ${pct(g.tpr).padStart(6)}  ${pct(g.fpr).padStart(6)}`);
    lines.push(
      `  FPR gap ${ci(f.fpr_difference)}   TPR gap ${ci(f.tpr_difference)}   equalized odds ${ci(f.equalized_odds_difference)}   demographic parity ${ci(f.demographic_parity_difference)}`,
    );
  }

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
