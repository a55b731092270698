// The OpenAPI document as a generated client reads it, built in-process (no server): whole numbers are
// `integer`, timestamps are `date-time`, no object is open without saying why, every union told apart
// by a literal has named branches and a discriminator, and every operation declares each status the API
// answers with. Each rule walks the whole document, so a field added later is held to it too.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openApiDocument } from '../../api/server';

type Schema = Record<string, unknown> & {
  type?: string | string[];
  format?: string;
  const?: unknown;
  description?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  items?: Schema | Schema[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  discriminator?: { propertyName: string; mapping?: Record<string, string> };
  $ref?: string;
};

const doc = openApiDocument('http://api.invalid/api') as unknown as {
  paths: Record<string, Record<string, { parameters?: { name: string; schema?: Schema }[]; requestBody?: unknown; responses?: Record<string, unknown> }>>;
  components: { schemas: Record<string, Schema> };
};

/** Every schema in the document, with where it is and the property (or parameter) name it belongs to. */
interface Found {
  at: string;
  name: string | null;
  schema: Schema;
}

function collect(): Found[] {
  const found: Found[] = [];
  const visit = (node: unknown, at: string, name: string | null): void => {
    if (Array.isArray(node)) return node.forEach((n, i) => visit(n, `${at}/${i}`, name));
    if (!node || typeof node !== 'object') return;
    const s = node as Schema;
    if ('type' in s || '$ref' in s || 'oneOf' in s || 'anyOf' in s || 'allOf' in s || 'const' in s) found.push({ at, name, schema: s });
    for (const [key, value] of Object.entries(s)) {
      if (key === 'properties' && value && typeof value === 'object') {
        for (const [prop, sub] of Object.entries(value)) visit(sub, `${at}/properties/${prop}`, prop);
      } else if (key === 'parameters' && Array.isArray(value)) {
        value.forEach((p: { name?: string; schema?: unknown }, i) => visit(p.schema, `${at}/parameters/${i}(${p.name})`, p.name ?? null));
      } else if (key === 'items' || key === 'oneOf' || key === 'anyOf' || key === 'allOf' || key === 'additionalProperties' || key === 'prefixItems') {
        // A union's branches and an array's items describe the same property.
        visit(value, `${at}/${key}`, name);
      } else if (key !== 'discriminator' && key !== 'default' && key !== 'examples' && key !== 'const' && key !== 'enum') {
        visit(value, `${at}/${key}`, key === 'schema' || key === 'content' || key === 'application/json' ? name : null);
      }
    }
  };
  visit(doc.paths, '#/paths', null);
  visit(doc.components.schemas, '#/components/schemas', null);
  return found;
}

const schemas = collect();
const types = (s: Schema): string[] => (s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type]);
const resolve = (s: Schema): Schema => (s.$ref ? (doc.components.schemas[s.$ref.replace('#/components/schemas/', '')] ?? s) : s);

/**
 * Names that mean a whole number: ids, counts, versions, sizes, seconds. A number so named that is
 * real-valued on purpose (a Kish effective size, a cost) says so: its description contains "real-valued".
 */
const INTEGER_NAME =
  /^(id|n|B|count|total|version|support|rows|limit|offset|port|size|bytes|attempts|seed|seeds|step|tasks|labels|requests|received|inserted|duplicates|logged|shadowed|labelled|examples|buckets|groups|items)$|(Id|Ids|Count|Version|Support|Seconds|Days|Rows|Size|Bytes|N)$|^(n|num)[A-Z]/;

/** Names that mean a point in time. */
const TIMESTAMP_NAME = /[a-z]At$|^(since|until|deadline|windowFrom|windowTo|from|to|start|nextActionTimes)$/;

/** Every status the API answers with besides success: the edge, trpc-to-openapi's adapter and the procedures' TRPCError codes. */
const DECLARED_STATUSES = ['400', '401', '403', '404', '405', '409', '412', '413', '415', '429', '500', '502', '503'];

test('the walk reaches the whole document (so the rules below are not vacuous)', () => {
  const integers = schemas.filter((f) => types(f.schema).includes('integer'));
  const dates = schemas.filter((f) => f.schema.format === 'date-time');
  assert.ok(Object.keys(doc.paths).length >= 50, `${Object.keys(doc.paths).length} paths`);
  assert.ok(integers.length >= 300, `${integers.length} integer schemas`);
  assert.ok(dates.length >= 90, `${dates.length} date-time schemas`);
  assert.ok(schemas.some((f) => f.name === 'reportId' && types(f.schema).includes('integer')), 'reportId is found as an integer');
});

test('a property whose name means a whole number is an integer', () => {
  const wrong = schemas
    .filter((f) => f.name !== null && INTEGER_NAME.test(f.name) && types(f.schema).includes('number'))
    // A literal (schemaVersion: 1, label: 0 | 1) is exact already.
    .filter((f) => !Number.isInteger(f.schema.const))
    .filter((f) => !/real-valued/.test(f.schema.description ?? ''))
    .map((f) => `${f.at} (${f.name})`);
  assert.deepEqual(wrong, [], `numbers that should be z.number().int() (or say "real-valued" in their description):\n${wrong.join('\n')}`);
});

test('a property whose name means a point in time is a date-time string', () => {
  const wrong = schemas
    .filter((f) => f.name !== null && TIMESTAMP_NAME.test(f.name) && types(f.schema).includes('string') && f.schema.format !== 'date-time')
    // A choice of words (runs.wait's `until`: gate or settled) names no point in time.
    .filter((f) => !Array.isArray(f.schema.enum))
    .map((f) => `${f.at} (${f.name})`);
  assert.deepEqual(wrong, [], `timestamps without format: date-time (use timestamp / timestampText from api/schemas):\n${wrong.join('\n')}`);
});

test('no object is open without a description saying why', () => {
  const open = (s: Schema): boolean => {
    if (!types(s).includes('object') || s.oneOf || s.anyOf || s.allOf || s.$ref) return false;
    const ap = s.additionalProperties;
    const untypedRest = ap === undefined || ap === true || (typeof ap === 'object' && Object.keys(ap).length === 0);
    // Properties with no rule for the rest is a known shape; a declared open rest ({} or true) is not.
    return s.properties ? ap === true || (typeof ap === 'object' && Object.keys(ap).length === 0) : untypedRest;
  };
  const wrong = schemas.filter((f) => open(f.schema) && !f.schema.description).map((f) => `${f.at}${f.name ? ` (${f.name})` : ''}`);
  assert.deepEqual(wrong, [], `open objects without a description:\n${wrong.join('\n')}`);
});

test('a union of objects told apart by a literal has named branches and a discriminator on it', () => {
  const wrong: string[] = [];
  for (const { at, schema } of schemas) {
    const branches = schema.oneOf ?? schema.anyOf;
    if (!branches || branches.length < 2) continue;
    const objects = branches.map(resolve);
    if (!objects.every((b) => types(b).includes('object') && b.properties)) continue;
    // The properties every branch fixes to a literal, with a different literal in each.
    const literalKeys = Object.keys(objects[0]!.properties!).filter((key) => {
      const values = objects.map((b) => b.properties?.[key]?.const);
      return values.every((v) => v !== undefined) && new Set(values.map(String)).size === values.length;
    });
    if (literalKeys.length === 0) continue;
    if (!schema.discriminator || !literalKeys.includes(schema.discriminator.propertyName)) {
      wrong.push(`${at}: no discriminator (could be on ${literalKeys.join(' or ')})`);
    } else if (!branches.every((b) => b.$ref)) {
      wrong.push(`${at}: branches are not named (give each .meta({ id }))`);
    }
  }
  assert.deepEqual(wrong, [], wrong.join('\n'));
});

test('the known unions are named and discriminated', () => {
  const fit = doc.components.schemas.SaturationReport?.properties?.fit;
  assert.equal(fit?.discriminator?.propertyName, 'ok');
  assert.deepEqual(Object.values(fit?.discriminator?.mapping ?? {}).sort(), ['#/components/schemas/PowerLawFit', '#/components/schemas/PowerLawFitFailure']);
  const report = (doc.paths['/audit-reports/{reportId}']?.get?.responses?.['200'] as { content: { 'application/json': { schema: Schema } } }).content['application/json'].schema;
  assert.equal(report.discriminator?.propertyName, 'kind');
  assert.deepEqual(Object.keys(report.discriminator?.mapping ?? {}).sort(), ['bias_reaudit', 'drift_monitor']);
  const body = (doc.paths['/models/{model}/feedback']?.post?.requestBody as { content: { 'application/json': { schema: Schema } } }).content['application/json'].schema;
  const events = body.properties?.events?.items as Schema;
  assert.equal(events.discriminator?.propertyName, 'kind');
  assert.equal(Object.keys(events.discriminator?.mapping ?? {}).length, 10);
});

test('every operation declares every status the API answers with', () => {
  const missing: string[] = [];
  let operations = 0;
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'put', 'post', 'delete', 'patch'].includes(method)) continue;
      operations++;
      const declared = Object.keys(op.responses ?? {});
      if (!declared.some((s) => s.startsWith('2'))) missing.push(`${method.toUpperCase()} ${path}: no success response`);
      for (const status of DECLARED_STATUSES) if (!declared.includes(status)) missing.push(`${method.toUpperCase()} ${path}: ${status}`);
    }
  }
  assert.ok(operations >= 60, `${operations} operations`);
  assert.deepEqual(missing, []);
});
