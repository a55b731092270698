// A held-out set from the future on the spam corpus (SpamAssassin, Date headers 2001-2003). The newest
// 20% of the dated mail plays the future the model will meet; from the 80% before it, the error a
// team would estimate at training time is measured two ways: a random held-out split (the corpus'
// keyed-hash split, 25%) and a time split (the newest 25% of those dates, analysis/heldOutDesign, the
// same cut a time-split snapshot makes). The model trained on all of the past is then judged on the
// future: which estimate told the truth?
//
// What this corpus shows (numbers printed): no drift that a held-out set of ~1,200 can see. The
// future's error is LOWER than both estimates (the late-2002 mail is mostly ham, which this model gets
// right more often), the time-split estimate is the closer of the two, and every interval overlaps:
// the time split is not worse here, and the test says so rather than forcing it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { timeSplit } from '../../analysis/heldOutDesign';
import { newcombeDifference, wilsonInterval } from '../../analysis/numerics/intervals';
import { assignHeldOut, loadCorpus, type CorpusEmail } from '../../demo/corpus';
import { predictBatch, trainHashedLogReg } from '../../trainers/hashedLogReg';

interface Judged {
  errors: number;
  n: number;
  error: number;
  lower: number;
  upper: number;
  positives: number;
}

async function judge(train: CorpusEmail[], test: CorpusEmail[]): Promise<Judged> {
  const artifact = await trainHashedLogReg(train.map((e) => ({ input: e.input, label: e.label })), { seed: 1 });
  const scores = predictBatch(artifact, test.map((e) => e.input));
  let errors = 0;
  test.forEach((e, i) => {
    if ((scores[i]! >= 0.5 ? 1 : 0) !== e.label) errors++;
  });
  const w = wilsonInterval(errors, test.length);
  return { errors, n: test.length, error: errors / test.length, lower: w.lower ?? 0, upper: w.upper ?? 1, positives: test.filter((e) => e.label === 1).length };
}

const fmt = (j: Judged) => `${(100 * j.error).toFixed(2)}% [${(100 * j.lower).toFixed(2)}, ${(100 * j.upper).toFixed(2)}] (${j.errors}/${j.n}, ${j.positives} spam)`;

test('spam corpus: the time-split estimate vs the random one, against the error on the future', { timeout: 300_000 }, async () => {
  const dated = loadCorpus().filter((e) => e.sentAt !== null);
  const time = (e: CorpusEmail) => Date.parse(e.sentAt!);
  const { sides: era } = timeSplit(dated.map(time), 0.2);
  const past = dated.filter((_, i) => era[i] === 'train');
  const future = dated.filter((_, i) => era[i] === 'heldout');

  const inner = timeSplit(past.map(time), 0.25);
  const tTrain = past.filter((_, i) => inner.sides[i] === 'train');
  const tHeld = past.filter((_, i) => inner.sides[i] === 'heldout');
  const random = assignHeldOut(past, { fraction: 0.25 });
  const rTrain = past.filter((e) => random.get(e.externalId) === 'train');
  const rHeld = past.filter((e) => random.get(e.externalId) === 'heldout');

  // The design itself: a time split holds out only mail sent after all of its training mail; the random
  // split's held-out mail is spread over the training period (it is judged on the past it trained on).
  assert.ok(Math.max(...tTrain.map(time)) < Math.min(...tHeld.map(time)));
  const trainSpan = [Math.min(...rTrain.map(time)), Math.max(...rTrain.map(time))];
  const inside = rHeld.filter((e) => time(e) >= trainSpan[0]! && time(e) <= trainSpan[1]!).length;
  assert.ok(inside / rHeld.length > 0.99);

  const timeEstimate = await judge(tTrain, tHeld);
  const randomEstimate = await judge(rTrain, rHeld);
  const truth = await judge(past, future);
  const diff = newcombeDifference(timeEstimate.errors, timeEstimate.n, randomEstimate.errors, randomEstimate.n);
  const dLower = diff.lower ?? Number.NaN;
  const dUpper = diff.upper ?? Number.NaN;
  process.stderr.write(
    [
      `past ${past.length} mails to ${new Date(Math.max(...past.map(time))).toISOString().slice(0, 10)}, future ${future.length} from ${new Date(Math.min(...future.map(time))).toISOString().slice(0, 10)}; inner cut ${new Date(inner.cut!).toISOString().slice(0, 10)}`,
      `time-split estimate   ${fmt(timeEstimate)}`,
      `random-split estimate ${fmt(randomEstimate)}`,
      `error on the future   ${fmt(truth)}`,
      `time - random: ${(100 * (timeEstimate.error - randomEstimate.error)).toFixed(2)} points [${(100 * dLower).toFixed(2)}, ${(100 * dUpper).toFixed(2)}]`,
    ].join('\n') + '\n',
  );
  // The findings, as measured (deterministic: fixed split keys, seed 1).
  assert.equal(timeEstimate.n, randomEstimate.n, 'both held-out sets hold the same number of mails');
  assert.ok(Math.abs(timeEstimate.error - truth.error) < Math.abs(randomEstimate.error - truth.error), 'the time-split estimate is the closer to the future');
  assert.ok(dLower < 0 && dUpper > 0, 'no evidence that the time split is worse (or better): this corpus shows no drift at this size');
  assert.ok(truth.lower < timeEstimate.upper && truth.lower < randomEstimate.upper, "the future's error lies within reach of both estimates");
});
