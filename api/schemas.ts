// zod schemas shared by the routers: one definition per concept, with messages a user can act on.
import { z } from 'zod';
import type { Json } from '../db/auditLog';
import { ROLES } from '../db/schema';

export const modelName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{1,62}$/, 'model names are 2-63 characters: lower-case letters, digits and dashes, starting with a letter');
export const runId = z.string().regex(/^run-[a-z0-9-]{4,120}$/, 'run ids look like run-<model>-<id>');
export const reason = z.string().trim().min(3, 'a reason of at least 3 characters is required').max(2000);
export const role = z.enum(ROLES);
export const subject = z
  .string()
  .regex(/^[a-zA-Z0-9_.@:-]{2,100}$/, 'subjects are 2-100 characters: letters, digits and _ . @ : -');
export const isoDate = z.iso.datetime({ offset: true });

/**
 * A point in time in an output: a Date to tRPC clients (superjson), an RFC 3339 string over REST
 * (Date.toJSON); `format: date-time` in the OpenAPI document, so generated clients parse it.
 */
export const timestamp = z.date().meta({ format: 'date-time' });
/** A point in time an output carries as an ISO 8601 string already (Date.toISOString()); `date-time` in the document. */
export const timestampText = z.string().meta({ format: 'date-time' });

/**
 * The built-in trainer's params as they were checked before trainers described themselves: what
 * runs.start falls back to for a model of the built-in trainer while no worker has registered it yet.
 */
export const builtinTrainerParamsInput = z
  .strictObject({
    dimsLog2: z.number().int().min(10).max(22),
    epochs: z.number().int().min(1).max(1000),
    learningRate: z.number().positive().max(10),
    l2: z.number().min(0).max(1),
    seed: z.number().int().min(0).max(2 ** 31 - 1),
    ngramMax: z.union([z.literal(1), z.literal(2)]),
  })
  .partial();

/**
 * A trainer's params: any JSON object, judged against the trainer's own params schema (trainers.register
 * stored it) by the router, with ajv (analysis/paramsSchema).
 */
export const trainerParamsInput = z
  .record(
    z.string().min(1).max(100),
    z.lazy(() => jsonValue),
  )
  .refine((p) => Object.keys(p).length <= 200, 'at most 200 params')
  .refine((p) => JSON.stringify(p).length <= 100_000, 'params take at most 100,000 characters of JSON');

/** A registered trainer's name (trainers/contract trainerDescription.name). */
export const trainerName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.\/@+-]*$/, 'trainer names are 1-100 characters: letters, digits and _ . / @ + -, e.g. builtin/hashed-logreg');

/** A Temporal task queue a trainer's worker serves. */
export const taskQueueName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:\/-]*$/, 'task queue names are 1-200 characters: letters, digits and _ . : / -');

/** How long a trainer job of a model may wait for a worker of the trainer's queue before its run fails. */
export const timeToStartSeconds = z.number().int().min(5).max(86_400);

/** A model's trainer, as models.register and models.configureTrainer take it. */
export const modelTrainerInput = z.strictObject({
  name: trainerName,
  params: trainerParamsInput.optional(),
  timeToStartSeconds: timeToStartSeconds.optional(),
});

// PostgreSQL text and jsonb cannot hold U+0000: refuse it at the edge with a message, not a failed insert.
const storableText = (max: number) => z.string().max(max).refine((s) => !s.includes('\u0000'), 'contains a NUL character (U+0000), which cannot be stored; strip it');

/** The longest field name of an input, slice attribute name, and text value; the longest slice value and external id. */
const FIELD_NAME_MAX = 64;
const TEXT_MAX = 200_000;
const SLICE_VALUE_MAX = 200;
const EXTERNAL_ID_MAX = 300;

/** Text fields: a model without a feature schema, and what models.predict scores (the built-in trainer's inputs). */
export const textInput = z.record(z.string().max(FIELD_NAME_MAX), storableText(TEXT_MAX));

/** One value of an example's input; the model's feature schema says which (analysis/featureSchema). */
export const featureValue = z.union([storableText(TEXT_MAX), z.number(), z.boolean(), z.null()]);

export const exampleInput = z.strictObject({
  externalId: z.string().min(1).max(EXTERNAL_ID_MAX),
  /** Judged against the model's feature schema by the router (unknown, missing, wrong type: 400). */
  input: z.record(z.string().max(FIELD_NAME_MAX), featureValue),
  label: z.union([z.literal(0), z.literal(1)]).nullable(),
  slices: z.record(z.string().max(FIELD_NAME_MAX), z.string().max(SLICE_VALUE_MAX)).default({}),
  split: z.enum(['train', 'heldout']),
  observedAt: isoDate.optional(),
});

// ---- a shortcut past zod for bulk inputs -----------------------------------------------------------------

/** An object as JSON.parse makes it (zod makes its output records so; one without a prototype is zod's to copy). */
const plainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;

/** A record as exampleInput's `input` and `slices` take it: a plain object, names of at most 64 characters, each value `value`'s. */
function plainRecord(v: unknown, value: (x: unknown) => boolean): boolean {
  if (!plainObject(v)) return false;
  for (const k in v) {
    // `__proto__` (an own key when JSON.parse made it) is zod's to judge.
    if (k.length > FIELD_NAME_MAX || k === '__proto__' || !Object.hasOwn(v, k) || !value(v[k])) return false;
  }
  return true;
}

const plainFeatureValue = (x: unknown) =>
  x === null || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x)) || (typeof x === 'string' && x.length <= TEXT_MAX && !x.includes('\u0000'));
const plainSliceValue = (x: unknown) => typeof x === 'string' && x.length <= SLICE_VALUE_MAX;
const EXAMPLE_KEYS = new Set(Object.keys(exampleInput.shape));

/**
 * Whether exampleInput takes `e` as it is (its output would equal `e`): the common case of a bulk import,
 * checked by hand at a fraction of zod's cost. Says no to anything unusual (an absent `slices`
 * aside, which it fills with {} as zod's default does); zod then judges it, and every refusal is zod's.
 */
export function plainExample(e: unknown): boolean {
  if (!plainObject(e)) return false;
  for (const k in e) if (!EXAMPLE_KEYS.has(k) || !Object.hasOwn(e, k)) return false;
  const { externalId, label, split, observedAt } = e;
  if (!(typeof externalId === 'string' && externalId.length >= 1 && externalId.length <= EXTERNAL_ID_MAX)) return false;
  if (!(label === 0 || label === 1 || label === null)) return false;
  if (split !== 'train' && split !== 'heldout') return false;
  if (observedAt !== undefined && !isoDate.safeParse(observedAt).success) return false;
  if (!plainRecord(e.input, plainFeatureValue)) return false;
  if (e.slices === undefined) e.slices = {};
  return plainRecord(e.slices, plainSliceValue);
}

/** Whether `{ name, examples }` (models.importExamples' input) is a model name and 1 to `max` examples plainExample takes. */
export function plainExampleBatch(v: unknown, max: number): boolean {
  if (!plainObject(v)) return false;
  for (const k in v) if ((k !== 'name' && k !== 'examples') || !Object.hasOwn(v, k)) return false;
  const { name, examples } = v;
  if (!modelName.safeParse(name).success) return false;
  if (!Array.isArray(examples) || Object.getPrototypeOf(examples) !== Array.prototype || examples.length < 1 || examples.length > max) return false;
  // An index loop: every() would skip a hole, which zod refuses.
  for (let i = 0; i < examples.length; i++) if (!plainExample(examples[i])) return false;
  return true;
}

/**
 * `schema` with a shortcut in front of its parse: an input that `plain` says the schema takes unchanged is
 * passed on as it is (no copy of every value, no walk by zod); any other goes through the schema, so every
 * refusal carries zod's own issues. The schema is cloned, so its definition (and the OpenAPI document made
 * from it) is the same. `plain` must say yes only to what the schema accepts and returns equal
 * (test/api/plainInput.test.ts holds it to that).
 */
export function withPlainPath<S extends z.ZodType>(schema: S, plain: (input: unknown) => boolean): S {
  const shortcut = schema.clone() as S;
  const parse = schema.parse.bind(schema);
  // tRPC validates with `parse` (its getParseFn prefers it to the Standard Schema interface).
  Object.defineProperty(shortcut, 'parse', { value: (input: unknown, params?: Parameters<S['parse']>[1]) => (plain(input) ? input : parse(input, params)) });
  return shortcut;
}

/** A point estimate with its interval; null where undefined (no trials, or a NaN that JSON stored as null). */
export const interval = z.object({ estimate: z.number().nullable(), lower: z.number().nullable(), upper: z.number().nullable() });
const ruleOutcome = z.enum(['passed', 'failed', 'insufficient', 'needs_approval']);
/** analysis/policy RuleResult (api/outputs checks that the two agree). */
export const ruleResultOutput = z.object({
  id: z.string(),
  kind: z.enum(['bound', 'no_regression', 'fairness', 'min_support', 'threshold', 'human_approval', 'saturation', 'calibration', 'held_out', 'self_selected_share']),
  outcome: ruleOutcome,
  onFail: z.enum(['block', 'ask']),
  detail: z.string(),
  checks: z.array(z.object({ slice: z.string(), outcome: ruleOutcome, observed: interval.nullable(), detail: z.string() })),
});

/** The largest value of PostgreSQL's `integer`, which row ids and version numbers are: a larger one fails in the database. */
export const PG_INT_MAX = 2_147_483_647;

/**
 * A positive integer from JSON or from a REST path/query string; no loose coercion (true, [7], '0x10'
 * are refused). At most PG_INT_MAX unless told: most such numbers are ids and versions.
 */
export const positiveInt = (max = PG_INT_MAX) =>
  z.union([z.number().int().positive(), z.string().regex(/^[1-9]\d{0,15}$/, 'must be a positive integer').transform(Number)]).pipe(
    z.number().int().positive().max(max),
  );

/** How a run asks for labels before it trains (workflows/messages AnnotationSettings). */
export const annotationSettingsInput = z.strictObject({
  budget: z.number().int().min(1).max(100_000),
  overlap: z.number().int().min(1).max(9).optional(),
  goldShare: z.number().min(0).max(0.5).optional(),
  quorum: z.number().gt(0).max(1).optional(),
  deadlineSeconds: z.number().int().min(5).max(90 * 86400),
  assignmentSeconds: z.number().int().min(1).max(7 * 86400).optional(),
  seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
  explorationShare: z.number().min(0).max(1).optional(),
  sliceFloors: z.array(z.strictObject({ slice: z.string().min(1).max(64), value: z.string().max(200), min: z.number().int().min(1) })).max(100).optional(),
  longTailFloor: z.number().int().min(0).max(10_000).optional(),
  assignmentRules: z
    .array(z.strictObject({ slice: z.string().min(1).max(64), value: z.string().max(200), requires: z.record(z.string().min(1).max(64), z.string().max(200)) }))
    .max(100)
    .optional(),
  /** At least `min` annotators with attribute = equals label slice = value; its items wait for them until then. */
  composition: z
    .array(
      z.strictObject({
        slice: z.string().min(1).max(64),
        value: z.string().max(200),
        attribute: z.string().min(1).max(64),
        equals: z.string().max(200),
        min: z.number().int().min(1).max(100),
      }),
    )
    .max(50)
    .optional(),
});

/** How a run checks whether more data still helps (workflows/messages SaturationSettings). */
export const saturationSettingsInput = z.strictObject({
  fractions: z.array(z.number().gt(0).max(1)).min(4).max(12).optional(),
  seeds: z.number().int().min(2).max(10).optional(),
  minGainFromDoubling: z.number().min(0).max(1).optional(),
});

/** A staged rollout after the gate (workflows/messages RolloutPlan). */
export const rolloutPlanInput = z.strictObject({
  shadowSeconds: z.number().int().min(0).max(30 * 86400).optional(),
  /** How the shadow window's decisions are judged against production's (analysis/rollout ShadowRules). */
  shadowRules: z
    .strictObject({
      maxNewBlockRate: z.number().min(0).max(1).optional(),
      maxNewPassRate: z.number().min(0).max(1).optional(),
      minRequests: z.number().int().min(1).max(1_000_000).optional(),
      minSupport: z.number().int().min(1).max(1_000_000).optional(),
    })
    .optional(),
  steps: z
    .array(z.strictObject({ weight: z.number().gt(0).lt(1), analysisSeconds: z.number().int().min(1).max(30 * 86400) }))
    .min(1)
    .max(10)
    .optional(),
  rules: z
    .array(
      z.strictObject({
        metric: z.enum(['override_rate', 'report_rate']),
        maxIncrease: z.number().min(0).max(1),
        minRequests: z.number().int().min(1).optional(),
        perSlice: z.boolean().optional(),
      }),
    )
    .min(1)
    .max(10)
    .optional(),
  failureLimit: z.number().int().min(0).max(10).optional(),
  inconclusiveLimit: z.number().int().min(0).max(10).optional(),
});

// ---- bias re-audits (api/routers/audits: a Temporal Schedule per audit; workflows/messages ReauditPolicy) ----

/** A schedule id: the audit's name in Temporal, also the prefix of every workflow id it starts. */
export const auditId = z
  .string()
  .regex(/^[a-z][a-z0-9-]{1,99}$/, 'audit ids are 2-100 characters: lower-case letters, digits and dashes, starting with a letter');

/**
 * The shape of a cron string only: 5-7 fields (second? minute hour day-of-month month day-of-week year?)
 * or a shorthand, at most once a minute. Temporal parses the fields and refuses what it cannot
 * (BAD_REQUEST). No `CRON_TZ=` prefix (use `timezone`) and no `#` comment.
 */
export const cronExpression = z
  .string()
  .trim()
  .max(200)
  .regex(
    /^(?:@(?:yearly|annually|monthly|weekly|daily|hourly)|@every \d+[smhd](?:\/\d+[smhd])?|[0-9A-Za-z*?,/-]+(?:\s+[0-9A-Za-z*?,/-]+){4,6})$/,
    'a cron expression is 5-7 space-separated fields (minute hour day-of-month month day-of-week, e.g. "0 3 * * MON") or @daily, @weekly, @every 6h...',
  )
  .refine((c) => {
    const every = /^@every (\d+)([smhd])/.exec(c);
    if (every) return every[2] !== 's' || Number(every[1]) >= 60;
    const fields = c.split(/\s+/);
    // Seven fields start with seconds: one number, so the audit runs at most once a minute.
    return fields.length !== 7 || /^\d{1,2}$/.test(fields[0]!);
  }, 'an audit runs at most once a minute: with 7 fields the first (seconds) must be one number, and @every needs 60s or more');

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** An IANA time zone name (Europe/Berlin, UTC); offsets such as +02:00 are not zone names. */
export const timeZone = z
  .string()
  .max(64)
  .regex(/^[A-Za-z][A-Za-z0-9_+/-]*$/, 'an IANA time zone name such as UTC or Europe/Berlin')
  .refine(isTimeZone, 'unknown IANA time zone (e.g. UTC, Europe/Berlin, America/New_York)');

export const auditSpecInput = z
  .strictObject({
    cron: cronExpression.optional(),
    interval: z.strictObject({ everySeconds: z.number().int().min(60).max(366 * 86400) }).optional(),
    timezone: timeZone.default('UTC'),
  })
  .refine((s) => (s.cron === undefined) !== (s.interval === undefined), 'give exactly one of spec.cron and spec.interval');

export const AUDIT_OVERLAP_POLICIES = ['skip', 'buffer_one', 'buffer_all', 'cancel_other', 'terminate_other', 'allow_all'] as const;
export const auditOverlap = z.enum(AUDIT_OVERLAP_POLICIES);

/** Where alerts go (signed with the HMAC secret in the named worker environment variable); null: none. */
export const alertWebhook = z
  .strictObject({
    url: z.url({ protocol: /^https?$/, error: 'an http or https URL' }).max(2000),
    secretEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]{0,127}$/, 'the name of an environment variable on the worker: upper-case letters, digits and _')
      .optional(),
  })
  .nullable()
  .optional();

const sliceAttributes = z.array(z.string().min(1).max(64)).min(1).max(50);

/** workflows/messages ReauditPolicy: when a re-audit alerts, and what else it does. */
export const reauditPolicyInput = z.strictObject({
  maxFprIncrease: z.number().min(0).max(1),
  maxFairnessGap: z.number().min(0).max(1),
  maxPsi: z.number().positive().max(100).optional(),
  minSupport: z.number().int().min(1).max(10_000_000).optional(),
  attributes: sliceAttributes.optional(),
  startRetraining: z.boolean().optional(),
  proposeRollback: z.boolean().optional(),
  webhook: alertWebhook,
});

/** workflows/messages DriftMonitorPolicy: what counts as drift, and what the monitor does about it. */
export const driftMonitorPolicyInput = z.strictObject({
  maxPsi: z.number().positive().max(100).optional(),
  attributes: sliceAttributes.optional(),
  maxOverrideRise: z.number().min(0).max(1).optional(),
  startRetraining: z.boolean().optional(),
  webhook: alertWebhook,
});

/** A JSON value: strings, finite numbers, booleans, null, and arrays and plain objects of them, to a depth of 64. */
function isJsonValue(value: unknown, depth = 0): value is Json {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (depth >= 64 || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.every((v) => isJsonValue(v, depth + 1));
  const proto = Object.getPrototypeOf(value) as unknown;
  return (proto === Object.prototype || proto === null) && Object.values(value).every((v) => isJsonValue(v, depth + 1));
}

/**
 * Any JSON value, typed as Json for tRPC clients and named once in the OpenAPI document, where it is `{}`
 * (any value) with a description: the recursive union it was made generated clients drop every operation
 * that carries it (openapi-python-client: "Invalid property in union").
 */
export const jsonValue: z.ZodType<Json> = z
  .custom<Json>(isJsonValue, 'must be a JSON value (strings, finite numbers, booleans, null, arrays and objects of them)')
  .meta({ id: 'JsonValue', description: 'Any JSON value' });
/** A JSON object of any keys (a trainer's params, a params schema): an output typed as JSON, not unknown. */
export const jsonObject = z.record(z.string(), jsonValue);
