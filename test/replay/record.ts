// Records retrainingRun histories for the replay test: `npx tsx test/replay/record.ts`.
// Re-record only on purpose (a deliberate, patched() change to the workflow); the committed histories
// are what proves a code change stays deterministic for runs already in flight.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { findTemporalBinary } from '../../temporal-config/devServer';
import { dataDir } from '../../temporal-config/env';
import { registerModelWithData, startTestEnv, waitForStatus } from '../helpers';

const out = path.join(import.meta.dirname, '..', 'fixtures', 'histories');
const env = await startTestEnv();
try {
  const model = await registerModelWithData(env);
  const approved = await env.clients.operator.runs.start.mutate({ model, trigger: 'bootstrap' });
  await waitForStatus(env, approved.runId, ['awaiting_approval']);
  await env.clients.approver.gates.approve.mutate({ runId: approved.runId, reason: 'recorded for replay' });
  await waitForStatus(env, approved.runId, ['promoted']);

  const second = await env.clients.operator.runs.start.mutate({ model });
  await waitForStatus(env, second.runId, ['awaiting_approval']);
  await env.clients.approver.gates.reject.mutate({ runId: second.runId, reason: 'recorded for replay' });
  await waitForStatus(env, second.runId, ['rejected']);

  const timedOut = await env.clients.operator.runs.start.mutate({ model, approvalTimeoutSeconds: 1 });
  await waitForStatus(env, timedOut.runId, ['rejected']);

  for (const [name, id] of [['approved', approved.runId], ['rejected-with-champion', second.runId], ['deadline', timedOut.runId]] as const) {
    // The CLI writes the proto3 JSON that historyFromJSON reads, as Temporal's own tooling does.
    const cli = await findTemporalBinary({ dataDir: dataDir() });
    const json = execFileSync(cli, ['workflow', 'show', '--workflow-id', id, '--address', env.services.temporalAddress, '--output', 'json'], {
      maxBuffer: 64 << 20,
    }).toString();
    writeFileSync(path.join(out, `retrainingRun-${name}.json`), json);
    console.log(`recorded ${name}: ${(JSON.parse(json) as { events: unknown[] }).events.length} events`);
  }
} finally {
  await env.stop();
}
