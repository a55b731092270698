// The traffic replayer: plays corpus e-mails chronologically as production traffic, only through the
// API. Per batch it asks which version serves (the production version can change mid-replay), has the
// service score and log the batch, then plays the readers: from the true labels and stated
// probabilities, people rescue ham from the spam folder (override), report spam that reached the
// inbox (report), now and then also correct the label (correction), and rarely rate (rating, lower
// when the filter was wrong). Every random draw is seeded per e-mail (seed + request id), so a replay
// gives the same events whatever the batch size, and idempotency keys derived from request id + kind
// make a replayed replay write nothing twice.
import type { ApiClient } from '../api/client';
import { Rng } from '../analysis/random';
import { chronologicalParts, type CorpusEmail } from './corpus';

export interface TrafficProbabilities {
  /** A ham e-mail the filter blocked is rescued from the spam folder: `override` action not_spam. */
  overrideHamRescue: number;
  /** A spam e-mail the filter let through is reported: `report`. */
  reportMissedSpam: number;
  /** Any e-mail is rated 1-5 (`rating`); low when the filter was wrong, high when right. */
  rating: number;
  /** Of the overrides and reports, the share that also send a `correction` with the true label. */
  correction: number;
  /**
   * The share of all requests a reviewer spot-checks, whatever the decision, recording the true label
   * as a `correction`: a uniform random sample, which is what a re-audit can estimate error rates from.
   */
  review: number;
}

export const defaultTrafficProbabilities: Readonly<TrafficProbabilities> = Object.freeze({
  overrideHamRescue: 0.35,
  reportMissedSpam: 0.15,
  rating: 0.005,
  correction: 0.02,
  review: 0,
});

export type TrafficFeedbackKind = 'override' | 'report' | 'rating' | 'correction';
type KindCounts = Record<TrafficFeedbackKind, number>;

export interface TrafficProgress {
  /** E-mails played so far, of `total`. */
  done: number;
  total: number;
  /** The version that scored the latest batch. */
  version: number;
  blocked: number;
  feedbackSent: number;
}

export interface ReplayTrafficOptions {
  /** A client with the `ingest` role (or admin): serving, predict and feedback ingest. */
  api: ApiClient;
  model: string;
  emails: CorpusEmail[];
  seed?: number;
  /** E-mails per predict call (1..10,000); default 500. */
  batchSize?: number;
  probabilities?: Partial<TrafficProbabilities>;
  /** Request ids are `${requestPrefix}:${externalId}`; default 'mail'. A second replay with the same prefix is a replay. */
  requestPrefix?: string;
  onProgress?: (p: TrafficProgress) => void;
}

export interface ReplayTrafficResult {
  requests: number;
  /** Decisions of 1 (moved to the spam folder). */
  blocked: number;
  /** Truth against decision: what the readers reacted to. */
  truth: { ham: number; spam: number; hamBlocked: number; spamPassed: number };
  /** Requests answered by each version (number → count); more than one key during a canary or when production changed mid-replay. */
  versions: Record<string, number>;
  /** Batches where predict answered with another version than serving announced just before (a promotion in between). */
  versionRaces: number;
  /** Feedback events sent per kind (whether or not new); `reviewed`: corrections from the spot-check. */
  feedback: KindCounts & { total: number; inserted: number; reviewed: number };
  /** Already known to the service: predictions logged by an earlier call, feedback events with a known idempotency key. */
  duplicates: { predictions: number; feedback: number };
  /** The probabilities the readers acted with, and the rates that came out of this replay. */
  stated: TrafficProbabilities;
  observed: { overrideHamRescue: number | null; reportMissedSpam: number | null; rating: number | null; correction: number | null };
}

const MAX_FEEDBACK_BATCH = 10_000;
const DAY_MS = 86_400_000;

/** FNV-1a over the string's UTF-16 code units: a 32-bit per-e-mail seed from the request id. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function checkProbability(name: string, p: number) {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`replayTraffic: ${name} must be a probability in [0, 1], got ${p}`);
}

type FeedbackEvent = Parameters<ApiClient['feedback']['ingest']['mutate']>[0]['events'][number];

export async function replayTraffic(opts: ReplayTrafficOptions): Promise<ReplayTrafficResult> {
  const stated: TrafficProbabilities = { ...defaultTrafficProbabilities, ...opts.probabilities };
  for (const [name, p] of Object.entries(stated)) checkProbability(name, p);
  const batchSize = opts.batchSize ?? 500;
  if (!(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= 10_000)) {
    throw new RangeError(`replayTraffic: batchSize must be an integer in [1, 10000], got ${batchSize}`);
  }
  const seed = opts.seed ?? 1;
  const prefix = opts.requestPrefix ?? 'mail';
  const emails = chronologicalParts(opts.emails, [])[0]!;

  // Production time of each e-mail: its send date; an undated one arrives with the mail before it
  // (the first dated e-mail's time for undated ones at the start, the epoch when none is dated).
  let clock = emails.find((e) => e.sentAt)?.sentAt ?? new Date(0).toISOString();
  const arrival = emails.map((e) => (clock = e.sentAt ?? clock));

  const out: ReplayTrafficResult = {
    requests: 0,
    blocked: 0,
    truth: { ham: 0, spam: 0, hamBlocked: 0, spamPassed: 0 },
    versions: {},
    versionRaces: 0,
    feedback: { override: 0, report: 0, rating: 0, correction: 0, total: 0, inserted: 0, reviewed: 0 },
    duplicates: { predictions: 0, feedback: 0 },
    stated,
    observed: { overrideHamRescue: null, reportMissedSpam: null, rating: null, correction: null },
  };

  for (let start = 0; start < emails.length; start += batchSize) {
    const batch = emails.slice(start, start + batchSize);
    const serving = await opts.api.models.serving.query({ name: opts.model });
    const requests = batch.map((e, j) => ({
      requestId: `${prefix}:${e.externalId}`,
      externalId: e.externalId,
      input: e.input,
      attributes: { ...e.slices } as Record<string, string>,
      occurredAt: arrival[start + j]!,
    }));
    const scored = await opts.api.models.predict.mutate({ name: opts.model, requests });
    if (scored.version !== serving.version) out.versionRaces++;
    // During a rollout the canary answers its share of requests: count and tag each by its own version.
    for (const r of scored.results) out.versions[r.version] = (out.versions[r.version] ?? 0) + 1;
    out.requests += batch.length;
    out.duplicates.predictions += scored.duplicates;

    const events: FeedbackEvent[] = [];
    batch.forEach((e, j) => {
      const { requestId, occurredAt, attributes } = requests[j]!;
      // What the user got: the threshold's decision, also while an abstained request waits for its review.
      const decision = scored.results[j]!.fallback;
      const wrong = decision !== e.label;
      if (decision === 1) out.blocked++;
      if (e.label === 0) out.truth.ham++;
      else out.truth.spam++;
      // The same draws in the same order for every e-mail, whatever happens, so outcomes depend only on (seed, request id).
      const rng = new Rng((hash32(requestId) ^ Math.imul(seed, 0x9e3779b1)) >>> 0);
      const uReact = rng.next();
      const uCorrect = rng.next();
      const uRate = rng.next();
      const stars = rng.nextInt(wrong ? 2 : 3);
      const delayMs = Math.floor(rng.next() * 2 * DAY_MS);
      // Drawn last, so the draws above (and every replay made before the review stream) are unchanged.
      const uReview = rng.next();
      const at = new Date(new Date(occurredAt).getTime() + delayMs).toISOString();
      const common = { version: scored.results[j]!.version, requestId, exampleExternalId: e.externalId, attributes, occurredAt: at };

      let reacted = false;
      if (e.label === 0 && decision === 1) {
        out.truth.hamBlocked++;
        if (uReact < stated.overrideHamRescue) {
          events.push({ ...common, kind: 'override', action: 'not_spam', surface: 'spam_folder', idempotencyKey: `${requestId}:override` });
          out.feedback.override++;
          reacted = true;
        }
      } else if (e.label === 1 && decision === 0) {
        out.truth.spamPassed++;
        if (uReact < stated.reportMissedSpam) {
          events.push({ ...common, kind: 'report', reason: 'spam in inbox', surface: 'inbox', idempotencyKey: `${requestId}:report` });
          out.feedback.report++;
          reacted = true;
        }
      }
      if (reacted && uCorrect < stated.correction) {
        events.push({ ...common, kind: 'correction', correctedLabel: e.label, idempotencyKey: `${requestId}:correction` });
        out.feedback.correction++;
      } else if (uReview < stated.review) {
        events.push({ ...common, kind: 'correction', correctedLabel: e.label, idempotencyKey: `${requestId}:correction` });
        out.feedback.reviewed++;
      }
      if (uRate < stated.rating) {
        // Wrong: 1-2 stars; right: 3-5.
        events.push({ ...common, kind: 'rating', rating: wrong ? 1 + stars : 3 + stars, reasonCodes: wrong ? ['wrong_folder'] : [], idempotencyKey: `${requestId}:rating` });
        out.feedback.rating++;
      }
    });

    for (let k = 0; k < events.length; k += MAX_FEEDBACK_BATCH) {
      const chunk = events.slice(k, k + MAX_FEEDBACK_BATCH);
      const sent = await opts.api.feedback.ingest.mutate({ model: opts.model, events: chunk });
      out.feedback.inserted += sent.inserted;
      out.duplicates.feedback += sent.duplicates;
    }
    out.feedback.total += events.length;
    opts.onProgress?.({ done: start + batch.length, total: emails.length, version: scored.version, blocked: out.blocked, feedbackSent: out.feedback.total });
  }

  const rate = (k: number, n: number) => (n > 0 ? k / n : null);
  out.observed = {
    overrideHamRescue: rate(out.feedback.override, out.truth.hamBlocked),
    reportMissedSpam: rate(out.feedback.report, out.truth.spamPassed),
    rating: rate(out.feedback.rating, out.requests),
    correction: rate(out.feedback.correction, out.feedback.override + out.feedback.report),
  };
  return out;
}
