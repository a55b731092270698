// Writes the contract's JSON Schemas (trainers/contract/v1/*.schema.json) from the zod schemas in
// trainers/contract.ts; `--check` exits 1 when a committed file differs (test/trainers/contract.test.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { CONTRACT_SCHEMAS, CONTRACT_VERSION } from '../contract';

export const SCHEMA_DIR = path.join(import.meta.dirname, `v${CONTRACT_VERSION}`);

/** Each schema's JSON Schema text, by file name. */
export function contractJsonSchemas(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, schema] of Object.entries(CONTRACT_SCHEMAS)) {
    const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: name.endsWith('.input') || name.startsWith('model.') ? 'input' : 'output' });
    const doc = { $id: `https://retrain.dev/trainer-contract/v${CONTRACT_VERSION}/${name}.schema.json`, title: `trainer contract v${CONTRACT_VERSION}: ${name}`, ...json };
    out[`${name}.schema.json`] = `${JSON.stringify(doc, null, 2)}\n`;
  }
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [file, text] of Object.entries(contractJsonSchemas())) {
    const at = path.join(SCHEMA_DIR, file);
    if (check) {
      let current = '';
      try {
        current = readFileSync(at, 'utf8');
      } catch {
        /* missing counts as stale */
      }
      if (current !== text) {
        stale++;
        console.error(`${file} is stale: run npm run contract:schemas`);
      }
    } else {
      writeFileSync(at, text);
      console.log(`wrote ${path.relative(process.cwd(), at)}`);
    }
  }
  process.exit(stale ? 1 : 0);
}
