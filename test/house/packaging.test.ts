// The packaging's parts held to each other: compose.yaml, the image's entrypoint and healthcheck, the
// Dockerfile and the README's Packaging section. No image is built here (no registry is reachable); CI
// also runs `docker-compose config -q` on the compose file (.ci/run), and so does the last test when
// docker-compose is installed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
// yaml comes with trpc-to-openapi (through openapi3-ts), a runtime dependency.
import { parse } from 'yaml';
import { SEARCH_ATTRIBUTES } from '../../workflows/names';

const root = path.join(import.meta.dirname, '..', '..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  restart?: string;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}
const compose = parse(read('compose.yaml'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
/** The services run from this repository's image (built from the Dockerfile). */
const ours = Object.entries(services).filter(([, s]) => s.build !== undefined);

/** The roles docker/entrypoint.sh knows: its `case` arms (the catch-all `*` hands the rest to the CLI). */
function entrypointRoles(): string[] {
  return [...read('docker/entrypoint.sh').matchAll(/^\s+([a-z|\s]+)\)\s*$/gm)].flatMap((m) => m[1]!.split('|').map((r) => r.trim()));
}

test("every service the README's Packaging section names is in compose.yaml, and every service is named there", () => {
  const readme = read('README.md');
  const section = readme.slice(readme.indexOf('## Packaging'));
  assert.ok(section.startsWith('## Packaging'), 'README.md has a Packaging section');
  const named = [...section.matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1]!);
  assert.deepEqual(named.toSorted(), Object.keys(services).toSorted());
  for (const required of ['postgres', 'temporal', 'api', 'worker', 'trainer']) assert.ok(services[required], `compose.yaml has ${required}`);
});

test("the image's entrypoint knows the role each service of the image runs", () => {
  const roles = entrypointRoles();
  assert.deepEqual(roles.toSorted(), ['api', 'trainer', 'up', 'worker']);
  assert.deepEqual(ours.map(([name]) => name).toSorted(), ['api', 'trainer', 'worker']);
  for (const [name, s] of ours) {
    assert.ok(s.command?.[0] && roles.includes(s.command[0]), `${name}: command ${JSON.stringify(s.command)} is a role the entrypoint knows`);
    assert.equal(s.command[0], name, `${name} runs the role of its name`);
  }
  const dockerfile = read('Dockerfile');
  assert.match(dockerfile, /^ENTRYPOINT \["\/app\/docker\/entrypoint\.sh"\]$/m);
  assert.match(dockerfile, /^HEALTHCHECK .*CMD \["\/app\/docker\/healthcheck\.sh"\]$/m);
  assert.match(dockerfile, /^USER node$/m, 'the image runs as a non-root user');
  for (const script of ['docker/entrypoint.sh', 'docker/healthcheck.sh']) {
    assert.ok(statSync(path.join(root, script)).mode & 0o111, `${script} is executable`);
  }
});

test('the healthchecks ask the API and the worker at /readyz, on the ports compose gives them', () => {
  const check = read('docker/healthcheck.sh');
  const paths = [...check.matchAll(/\/(healthz|readyz)\b/g)].map((m) => `/${m[1]}`);
  assert.ok(paths.length >= 2, 'the healthcheck probes the API and the worker');
  for (const p of paths) assert.ok(['/healthz', '/readyz'].includes(p), `${p} is a health path`);
  assert.match(check, /api \| up\) probe "http:\/\/127\.0\.0\.1:\$\{RETRAIN_API_PORT:-4300\}\/readyz"/);
  assert.match(check, /probe "http:\/\/127\.0\.0\.1:\$RETRAIN_WORKER_HEALTH_PORT\/readyz"/);
  for (const [name, s] of ours) assert.deepEqual(s.healthcheck?.test, ['CMD', '/app/docker/healthcheck.sh'], `${name}'s healthcheck`);

  const api = services.api!;
  assert.equal(api.environment?.RETRAIN_API_HOST, '0.0.0.0', 'the API listens beyond loopback in its container');
  assert.deepEqual(api.ports, [`${api.environment?.RETRAIN_API_PORT}:${api.environment?.RETRAIN_API_PORT}`]);
  assert.ok(services.worker!.environment?.RETRAIN_WORKER_HEALTH_PORT, 'the worker serves its health port');
  assert.equal(services.worker!.environment?.RETRAIN_API_URL, `http://api:${api.environment?.RETRAIN_API_PORT}`);
  assert.equal(services.trainer!.environment?.RETRAIN_API_URL, `http://api:${api.environment?.RETRAIN_API_PORT}`);
});

test('the API serves the paths the healthcheck asks', { skip: /['"]\/readyz['"]/.test(read('api/server.ts')) ? false : 'api/server.ts serves no /readyz yet' }, () => {
  const server = read('api/server.ts');
  for (const p of ['/healthz', '/readyz']) assert.match(server, new RegExp(`['"]${p}['"]`), `api/server.ts answers ${p}`);
});

test('services start once what they need is healthy; the Temporal server registers the workflows’ search attributes', () => {
  for (const [name, s] of Object.entries(services)) {
    for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
      // A one-shot (no healthcheck, restart "no") is waited for until it has finished.
      const oneShot = services[dep]?.restart === 'no' && !services[dep]?.healthcheck;
      assert.equal(condition, oneShot ? 'service_completed_successfully' : 'service_healthy', `${name} waits for ${dep}`);
      if (!oneShot) assert.ok(services[dep]?.healthcheck, `${dep} has a healthcheck`);
    }
  }
  assert.deepEqual(Object.keys(services.api!.depends_on ?? {}).toSorted(), ['postgres', 'temporal']);
  const registered = (services.temporal!.command ?? []).flatMap((a) => /^--search-attribute=(\w+)=Keyword$/.exec(a)?.[1] ?? []);
  assert.deepEqual(registered.toSorted(), Object.values(SEARCH_ATTRIBUTES).toSorted());
});

test('every variable compose.yaml takes from .env is in .env.example', () => {
  const used = new Set([...read('compose.yaml').matchAll(/\$\{([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1]!));
  const example = new Set([...read('.env.example').matchAll(/^#?\s*([A-Z_][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
  for (const v of used) assert.ok(example.has(v), `${v} is in .env.example`);
});

const dockerCompose = spawnSync('docker-compose', ['--version'], { encoding: 'utf8' });
test('docker-compose accepts compose.yaml', { skip: dockerCompose.status === 0 ? false : 'docker-compose is not installed (CI installs it)' }, () => {
  const r = spawnSync('docker-compose', ['--env-file', '.env.example', '-f', 'compose.yaml', 'config', '--services'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n').toSorted(), Object.keys(services).toSorted());
});
