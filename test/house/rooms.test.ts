// DESIGN.md's rooms, held by a test: which top-level folder may import which. A new import that
// crosses a room fails here with the file, the import and the rule, so the house stays livable
// without a reviewer remembering the table.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const root = path.join(import.meta.dirname, '..', '..');

/** Room → rooms it may import (its own always). `type` = type-only imports; a path = that file only. */
const MAY_IMPORT: Record<string, { rooms: string[]; typeOnly?: string[]; files?: string[] }> = {
  analysis: { rooms: [] },
  trainers: { rooms: ['analysis'] },
  db: { rooms: [] },
  activities: { rooms: ['db', 'analysis', 'trainers'], typeOnly: ['workflows'] },
  // The trainer contract's types name what a workflow sends a trainer's queue.
  workflows: { rooms: ['analysis'], typeOnly: ['activities', 'trainers'] },
  // trainers/contract.ts is zod schemas only: the API checks trainer data and feature schemas with them.
  api: { rooms: ['db', 'analysis', 'temporal-config'], files: ['workflows/messages.ts', 'workflows/names.ts', 'trainers/contract.ts'] },
  'temporal-config': { rooms: ['activities'], files: ['workflows/names.ts'] },
  demo: { rooms: [], typeOnly: ['api', 'analysis'] },
  // The console speaks to the service only through the typed tRPC client: the router's types, no code.
  console: { rooms: [], typeOnly: ['api'] },
};

/** Imports that cross a room on purpose, each with its reason. Keep this list short. */
const EXCEPTIONS: Record<string, string> = {
  'temporal-config/services.ts -> db': 'the composition root wires the database',
  'temporal-config/services.ts -> api': 'the composition root wires the API',
  'temporal-config/worker.ts -> workflows': 'the worker factory bundles the workflows by path',
  'temporal-config/trainerCheck.ts -> analysis': 'the conformance suite draws its synthetic data from the seeded generator',
  'temporal-config/trainerCheck.ts -> db': 'the conformance suite builds its scratch model and reads back the score sets it judges',
  'temporal-config/trainerCheck.ts -> trainers': "the conformance suite judges a trainer's answers with the contract's schemas",
  'temporal-config/trainerCheck.ts -> workflows': 'the conformance suite starts trainerCall (its name and input type live in messages.ts)',
  'temporal-config/healthServer.ts -> api': "the worker health port answers /healthz, /readyz and /metrics with the API's checks and answers (api/health.ts), not a copy",
  'temporal-config/healthServer.ts -> db': 'the worker health port checks the database (its type only)',
  'temporal-config/services.ts -> workflows': 'the composition root registers the Python trainer it starts through the trainerCall workflow',
  'demo/run.ts -> temporal-config': 'the demo starts the services it then drives through the API',
  'demo/run.ts -> api': 'the demo builds its API client',
  'demo/run.ts -> db': 'the demo issues the first admin token, as `retrain up` does',
  'demo/secondAct.ts -> api': 'the demo builds its API clients',
  'demo/secondAct.ts -> activities': "the demo's webhook receiver checks signatures with the product's verifier, as an SDK's receiver helper would",
  'demo/annotators.ts -> analysis': 'the annotator simulator draws from the seeded generator',
  'demo/traffic.ts -> analysis': 'the traffic replayer draws from the seeded generator',
};

function sources(dir: string): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.tsx?$/.test(e.name) && !e.parentPath.includes('node_modules'))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
}

const IMPORT = /^(?:import|export)\s+(type\s+)?(?:[^;]*?\s+from\s+)?'(\.[^']+)'/gms;

/** The crossings in these files, one line each naming the file, the import and the rule. */
function crossings(files: { file: string; text: string }[]): string[] {
  const found: string[] = [];
  for (const { file, text } of files) {
    const room = file.split('/')[0]!;
    const rule = MAY_IMPORT[room];
    if (!rule) continue;
    for (const m of text.matchAll(IMPORT)) {
      const typeOnly = Boolean(m[1]);
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), m[2]!));
      const targetRoom = target.split('/')[0]!;
      if (targetRoom === room || rule.rooms.includes(targetRoom)) continue;
      if (typeOnly && rule.typeOnly?.includes(targetRoom)) continue;
      if (rule.files?.includes(`${target}.ts`)) continue;
      if (EXCEPTIONS[`${file} -> ${targetRoom}`]) continue;
      const may = [...rule.rooms, ...(rule.typeOnly ?? []).map((r) => `types of ${r}`), ...(rule.files ?? [])];
      found.push(`${file} imports ${target}${typeOnly ? ' (types)' : ''}: ${room}/ may import ${may.join(', ') || 'nothing outside itself'}`);
    }
  }
  return found;
}

test("every import keeps to DESIGN.md's rooms", () => {
  const files = Object.keys(MAY_IMPORT).flatMap((room) => sources(room).map((file) => ({ file, text: readFileSync(path.join(root, file), 'utf8') })));
  assert.ok(files.length > 50, `read ${files.length} files`);
  assert.deepEqual(crossings(files), []);
});

test('the room check names a crossing, and lets type-only and listed imports through', () => {
  const found = crossings([
    { file: 'db/labels.ts', text: "import { taskVerdict } from '../analysis/annotationTasks';\nimport { x } from './schema';" },
    { file: 'workflows/run.ts', text: "import type { Activities } from '../activities';\nimport { train } from '../activities';" },
    { file: 'api/routers/x.ts', text: "import {\n  statusQuery,\n} from '../../workflows/messages';\nimport { y } from '../../workflows/rollout';" },
  ]);
  assert.deepEqual(found, [
    'db/labels.ts imports analysis/annotationTasks: db/ may import nothing outside itself',
    'workflows/run.ts imports activities: workflows/ may import analysis, types of activities, types of trainers',
    'api/routers/x.ts imports workflows/rollout: api/ may import db, analysis, temporal-config, workflows/messages.ts, workflows/names.ts, trainers/contract.ts',
  ]);
});
