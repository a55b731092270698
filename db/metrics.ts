// The domain's metrics, computed when Prometheus scrapes (collect() callbacks), from a few aggregate queries:
// runs by status and trigger, gate decisions, the annotation backlog and label latency, alert delivery and
// audit findings. Every label takes a bounded set of values (statuses, triggers, outcomes, kinds), never an
// id or a subject. One scrape runs each query once; a failing query leaves its family empty for that scrape
// (the API's /readyz says why the database is down).
import { sql } from 'drizzle-orm';
import { Gauge, type Registry } from 'prom-client';
import type { Db } from './index';
import { resultRows } from './queries';

/** How far back label latency looks. */
export const LABEL_LATENCY_WINDOW_SECONDS = 86_400;

export async function runsByStatusAndTrigger(db: Db) {
  return resultRows<{ status: string; trigger: string; n: number }>(await db.execute(sql`select status, trigger, count(*)::int as n from runs group by status, trigger`));
}

/** The automatic gate's decisions (gate_results) and the humans' (approvals). */
export async function gateDecisions(db: Db) {
  return resultRows<{ stage: string; outcome: string; n: number }>(
    await db.execute(sql`
      select 'gate' as stage, decision as outcome, count(*)::int as n from gate_results group by decision
      union all
      select 'approval' as stage, decision as outcome, count(*)::int as n from approvals group by decision`),
  );
}

/** Annotation tasks still waiting for labels (open) or for an adjudicator. */
export async function annotationBacklog(db: Db) {
  return resultRows<{ status: string; n: number }>(
    await db.execute(sql`select status, count(*)::int as n from annotation_tasks where status in ('open', 'adjudication') group by status`),
  );
}

/** Median and 90th percentile of seconds from assignment to label, over labels given in the window. */
export async function labelLatency(db: Db, windowSeconds = LABEL_LATENCY_WINDOW_SECONDS) {
  return resultRows<{ n: number; p50: number | null; p90: number | null }>(
    await db.execute(sql`
      select count(*)::int as n,
             percentile_cont(0.5) within group (order by seconds_to_label)::float8 as p50,
             percentile_cont(0.9) within group (order by seconds_to_label)::float8 as p90
      from labels
      where seconds_to_label is not null and created_at > now() - make_interval(secs => ${windowSeconds})`),
  )[0];
}

export async function alertsByStatus(db: Db) {
  return resultRows<{ status: string; n: number }>(await db.execute(sql`select status, count(*)::int as n from alerts group by status`));
}

export async function auditFindings(db: Db) {
  return resultRows<{ kind: string; alerted: number; n: number }>(
    await db.execute(sql`select kind, alert::int as alerted, count(*)::int as n from audit_reports group by kind, alert`),
  );
}

/** Registers the domain's gauges on the registry; each reads the database when scraped. */
export function registerDomainMetrics(registry: Registry, db: Db): void {
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], collect: (g: Gauge<L>) => Promise<void>) =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        await collect(this).catch(() => undefined);
      },
    });

  gauge('retrain_runs', 'Retraining runs recorded, by status and trigger', ['status', 'trigger'], async (g) => {
    for (const r of await runsByStatusAndTrigger(db)) g.set({ status: r.status, trigger: r.trigger }, Number(r.n));
  });
  gauge(
    'retrain_gate_decisions',
    "Gate decisions recorded (only grows): stage 'gate' is the policy's (approved, failed, needs_approval), 'approval' a person's (approved, rejected)",
    ['stage', 'outcome'],
    async (g) => {
      for (const r of await gateDecisions(db)) g.set({ stage: r.stage, outcome: r.outcome }, Number(r.n));
    },
  );
  gauge('retrain_annotation_backlog_tasks', 'Annotation tasks waiting: open (for labels) or adjudication (for an adjudicator)', ['status'], async (g) => {
    g.set({ status: 'open' }, 0);
    g.set({ status: 'adjudication' }, 0);
    for (const r of await annotationBacklog(db)) g.set({ status: r.status }, Number(r.n));
  });
  // One query feeds both label families: a scrape collects every family at once, in registration order,
  // so the second takes the query the first started (and anything else runs its own).
  let started: ReturnType<typeof labelLatency> | undefined;
  gauge(
    'retrain_annotation_label_latency_seconds',
    'Seconds from assignment to label over the labels of the last 24 hours: quantile 0.5 and 0.9 (absent without labels)',
    ['quantile'],
    async (g) => {
      started = labelLatency(db);
      const r = await started;
      if (r?.p50 != null) g.set({ quantile: '0.5' }, Number(r.p50));
      if (r?.p90 != null) g.set({ quantile: '0.9' }, Number(r.p90));
    },
  );
  gauge('retrain_annotation_labels_last_day', 'Labels given in the last 24 hours (the sample the latency quantiles are computed on)', [], async (g) => {
    const pending = started ?? labelLatency(db);
    started = undefined;
    g.set(Number((await pending)?.n ?? 0));
  });
  gauge('retrain_alerts', 'Alerts by delivery state: pending, delivered (sent) or failed (gave up)', ['status'], async (g) => {
    for (const s of ['pending', 'delivered', 'failed']) g.set({ status: s }, 0);
    for (const r of await alertsByStatus(db)) g.set({ status: r.status }, Number(r.n));
  });
  gauge('retrain_audit_reports', "Audit reports (re-audits and drift monitors) by kind and outcome: 'alerted' (a finding) or 'quiet'", ['kind', 'outcome'], async (g) => {
    for (const r of await auditFindings(db)) g.set({ kind: r.kind, outcome: Number(r.alerted) ? 'alerted' : 'quiet' }, Number(r.n));
  });
}
