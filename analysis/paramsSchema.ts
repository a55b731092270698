// A trainer's params judged against the JSON Schema it declared (trainer contract: trainer.describe's
// paramsSchema, draft 2020-12), with ajv. Pure: no I/O; each schema is compiled once and kept.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';

export interface ParamsCheck {
  ok: boolean;
  /** One message per problem, each naming the param: "params.C must be > 0". */
  errors: string[];
}

/** Compiled validators by the schema's JSON text. Trainers are few; the cap only guards a misuse. */
const compiled = new Map<string, ValidateFunction>();
const MAX_COMPILED = 200;

/**
 * The validator of a params schema; throws, naming the problem, when the schema is not a JSON Schema
 * ajv can compile (a trainer answering trainer.describe with such a schema is refused at registration).
 */
export function paramsValidator(schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema);
  const hit = compiled.get(key);
  if (hit) return hit;
  // An instance per schema: two trainers may reuse one $id, which a shared instance would refuse.
  // Not strict: a schema may carry keywords ajv does not know (titles in other vocabularies, x-...).
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const validate = ajv.compile(schema);
  if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
  compiled.set(key, validate);
  return validate;
}

/** Whether a params schema compiles; the reason when it does not. */
export function paramsSchemaProblem(schema: Record<string, unknown>): string | null {
  try {
    paramsValidator(schema);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** JSON Pointer (/a/0/b) as a path a person reads: params.a[0].b. */
function paramPath(pointer: string, prefix: string): string {
  if (pointer === '') return prefix;
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((path, seg) => (/^\d+$/.test(seg) ? `${path}[${seg}]` : /^[A-Za-z_$][\w$]*$/.test(seg) ? `${path}.${seg}` : `${path}[${JSON.stringify(seg)}]`), prefix);
}

function describe(e: ErrorObject, prefix: string): string {
  const at = paramPath(e.instancePath, prefix);
  if (e.keyword === 'required') return `${paramPath(`${e.instancePath}/${String(e.params.missingProperty)}`, prefix)} is required`;
  if (e.keyword === 'additionalProperties') {
    return `${paramPath(`${e.instancePath}/${String(e.params.additionalProperty)}`, prefix)} is not a param the trainer's schema allows`;
  }
  if (e.keyword === 'enum') return `${at} must be one of ${JSON.stringify(e.params.allowedValues)}`;
  return `${at} ${e.message ?? `fails ${e.keyword}`}`;
}

/** Params against a trainer's params schema. `prefix` names them in messages (default "params"). */
export function checkParams(schema: Record<string, unknown>, params: unknown, prefix = 'params'): ParamsCheck {
  const validate = paramsValidator(schema);
  if (validate(params)) return { ok: true, errors: [] };
  const errors = [...new Set((validate.errors ?? []).map((e) => describe(e, prefix)))];
  return { ok: false, errors: errors.length > 0 ? errors : [`${prefix} do not follow the trainer's params schema`] };
}
