// The annotator simulator: a pool of people with stated accuracies working through the same API a real
// annotator (or a vendor's bridge) uses: pull the next task, read the guidelines version, label, submit.
// One of them can carry a planted bias (e.g. calls HTML ham spam), which the system must find on its own.
import type { ApiClient } from '../api/client';
import { Rng } from '../analysis/random';

export interface PlantedBias {
  slice: string;
  value: string;
  /** Only items whose true label is this are affected (e.g. 0: ham called spam). */
  trueLabel: number;
  /** The label given instead. */
  says: number;
  /** Probability the bias fires on an affected item. */
  rate: number;
}

export interface SimulatedAnnotator {
  subject: string;
  client: ApiClient;
  /** Probability of the true label on items the bias does not touch. */
  accuracy: number;
  bias?: PlantedBias;
  /** Skips this share of tasks (gives them back). */
  skipRate?: number;
}

export interface TruthOf {
  (externalId: string): { label: number; slices: Record<string, string> } | undefined;
}

export interface WorkStats {
  labels: Record<string, number>;
  skips: Record<string, number>;
  duplicates: number;
  conflicts: number;
}

/**
 * Every annotator works concurrently until `stop()` says so (checked whenever someone finds no task).
 * Conflicts (a guidelines change, an expired assignment) are what a real client meets: it asks for
 * the next task again.
 */
export async function runAnnotators(opts: {
  annotators: SimulatedAnnotator[];
  truthOf: TruthOf;
  seed: number;
  stop: () => Promise<boolean>;
  /** Pause when no task is waiting (ms). */
  idleMs?: number;
  onLabel?: (subject: string, total: number) => void;
}): Promise<WorkStats> {
  const stats: WorkStats = { labels: {}, skips: {}, duplicates: 0, conflicts: 0 };
  let total = 0;
  const idleMs = opts.idleMs ?? 200;
  await Promise.all(
    opts.annotators.map(async (a, index) => {
      const rng = new Rng(opts.seed * 7919 + index);
      stats.labels[a.subject] = 0;
      stats.skips[a.subject] = 0;
      for (;;) {
        const { task } = await a.client.annotation.next.mutate({});
        if (!task) {
          if (await opts.stop()) return;
          await new Promise((r) => setTimeout(r, idleMs));
          continue;
        }
        if (a.skipRate && rng.next() < a.skipRate) {
          await a.client.annotation.skip.mutate({ taskId: task.taskId, reason: 'not sure' });
          stats.skips[a.subject]!++;
          continue;
        }
        const truth = opts.truthOf(task.example.externalId);
        if (!truth) throw new Error(`annotator simulator: no truth for ${task.example.externalId}`);
        let label = truth.label;
        const b = a.bias;
        if (b && truth.slices[b.slice] === b.value && truth.label === b.trueLabel && rng.next() < b.rate) label = b.says;
        else if (rng.next() >= a.accuracy) label = 1 - truth.label;
        try {
          const r = await a.client.annotation.submit.mutate({ taskId: task.taskId, label, specVersion: task.spec.version });
          if (r.duplicate) stats.duplicates++;
          stats.labels[a.subject]!++;
          opts.onLabel?.(a.subject, ++total);
        } catch (err) {
          if (!(err instanceof Error) || !/CONFLICT|guidelines|expired|closed/i.test(`${(err as { data?: { code?: string } }).data?.code ?? ''} ${err.message}`)) throw err;
          stats.conflicts++;
        }
      }
    }),
  );
  return stats;
}
