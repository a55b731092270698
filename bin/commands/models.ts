// Models: register (with a gate policy and trainer), and the admin jobs beside it: tokens list/revoke,
// gate policies (get, set, diff, history), the annotator's queue and the audit log.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { describeChange, policyDiff } from '../../console/models/policyDiff';
import { CliError, EXIT, api, note, output, parseJsonFlag, positiveIntFlag, withClient, type ClientOpts } from '../cli';

const readJson = (flag: string, file: string): unknown => parseJsonFlag(`${flag} ${file}`, readFileSync(file, 'utf8'));

export function registerModelRegister(models: Command): void {
  withClient(models.command('register').argument('<name>').description('register a model family (warns when it has no gate policy: no run of it is approved until one is set)'))
    .option('--description <text>', 'what it is for', '')
    .option('--policy <file>', 'gate policy, version 1 (JSON)')
    .option('--trainer <name>', 'trainer of its versions (default the built-in builtin/hashed-logreg)')
    .option('--trainer-params <json>', "the trainer's params")
    .option('--time-to-start <seconds>', 'how long a training job may wait for the trainer')
    .option('--features <file>', 'its features, JSON: [{"name":"body","kind":"text"},...] (default: text fields)')
    .option('--review-sla <seconds>', 'how long an abstained request may wait for its review (default 14400: 4 h)')
    .action(async (name: string, o: ClientOpts & { description: string; policy?: string; trainer?: string; trainerParams?: string; timeToStart?: string; features?: string; reviewSla?: string }) => {
      if ((o.trainerParams || o.timeToStart) && !o.trainer) throw new CliError('--trainer-params and --time-to-start need --trainer', EXIT.usage);
      const registered = await api(o).models.register.mutate({
        name,
        description: o.description,
        ...(o.policy ? { gatePolicy: readJson('--policy', o.policy) as never } : {}),
        ...(o.trainer
          ? {
              trainer: {
                name: o.trainer,
                ...(o.trainerParams ? { params: parseJsonFlag('--trainer-params', o.trainerParams) as never } : {}),
                ...(o.timeToStart ? { timeToStartSeconds: positiveIntFlag('--time-to-start', o.timeToStart) } : {}),
              },
            }
          : {}),
        ...(o.features ? { features: readJson('--features', o.features) as never } : {}),
        ...(o.reviewSla ? { reviewSlaSeconds: positiveIntFlag('--review-sla', o.reviewSla) } : {}),
      });
      if (registered.policyVersion === null) note(`warning: model '${name}' has no gate policy: no run of it is approved until one is set (retrain policy set ${name} <file>)`);
      output(o, registered);
    });
}

export function registerTokenCommands(tokens: Command): void {
  withClient(tokens.command('list').description('active tokens through the API (admin): id, subject, role, issuer; never the secrets')).action(async (o: ClientOpts) => {
    const rows = await api(o).admin.listTokens.query();
    output(o, rows, () =>
      rows.length === 0 ? 'no active tokens' : rows.map((t) => `${String(t.id).padStart(5)}  ${t.role.padEnd(9)}  ${t.subject}  (by ${t.createdBy}${t.issuedByTokenId ? ` with token ${t.issuedByTokenId}` : ''}, ${t.createdAt.toISOString()})`).join('\n'),
    );
  });
  withClient(tokens.command('revoke').argument('<id>').description('revoke a token by its id (admin; not the one making the request)')).action(async (id: string, o: ClientOpts) =>
    output(o, await api(o).admin.revokeToken.mutate({ id: positiveIntFlag('<id>', id) })),
  );
}

export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy').description("a model's gate policy: versioned, every change kept");
  withClient(policy.command('get').argument('<model>').description('the policy in force')).action(async (model: string, o: ClientOpts) => output(o, await api(o).gates.getPolicy.query({ model })));
  withClient(policy.command('set').argument('<model>').argument('<file>').description('store FILE (JSON) as the next version; prints what changed'))
    .action(async (model: string, file: string, o: ClientOpts) => {
      const client = api(o);
      const document = readJson('<file>', file);
      const before = await client.gates.getPolicy.query({ model }).catch(() => null);
      const stored = await client.gates.setPolicy.mutate({ model, policy: document as never });
      const changes = before ? policyDiff(before.policy, (await client.gates.getPolicy.query({ model })).policy) : [];
      output(o, { ...stored, previousVersion: before?.version ?? null, changes }, () =>
        [`${model}: policy version ${stored.version}${before ? ` (was ${before.version})` : ''}`, ...changes.map((c) => `  ${describeChange(c)}`)].join('\n'),
      );
    });
  withClient(policy.command('diff').argument('<model>').argument('[from]', 'version (default: the one before the newest)').argument('[to]', 'version (default: the newest)'))
    .description('what changed between two versions, field by field (rules matched by id)')
    .action(async (model: string, from: string | undefined, to: string | undefined, o: ClientOpts) => {
      const history = await api(o).gates.policyHistory.query({ model });
      if (history.length === 0) throw new CliError(`model '${model}' has no gate policy`, EXIT.notFound);
      const byVersion = new Map(history.map((h) => [h.version, h]));
      const newest = Math.max(...history.map((h) => h.version));
      const toV = to === undefined ? newest : positiveIntFlag('[to]', to);
      const fromV = from === undefined ? toV - 1 : positiveIntFlag('[from]', from);
      const a = byVersion.get(fromV);
      const b = byVersion.get(toV);
      if (!b) throw new CliError(`model '${model}' has no policy version ${toV}`, EXIT.notFound);
      if (!a && from !== undefined) throw new CliError(`model '${model}' has no policy version ${fromV}`, EXIT.notFound);
      const changes = policyDiff(a?.policy ?? {}, b.policy);
      output(o, { model, from: a ? fromV : null, to: toV, changes }, () =>
        [`${model}: policy ${a ? `v${fromV}` : '(none)'} → v${toV}: ${changes.length} change${changes.length === 1 ? '' : 's'}`, ...changes.map((c) => `  ${describeChange(c)}`)].join('\n'),
      );
    });
  withClient(policy.command('history').argument('<model>').description('every version: who stored it, when')).action(async (model: string, o: ClientOpts) => {
    const history = await api(o).gates.policyHistory.query({ model });
    output(o, history, () => history.map((h) => `v${h.version}  ${h.createdAt.toISOString()}  ${h.createdBy}  ${h.policy.rules.length} rules`).join('\n'));
  });
}

export function registerAnnotateCommands(program: Command): void {
  const annotate = program.command('annotate').description("an annotator's queue: take the next task, label it or give it back");
  withClient(annotate.command('next').description('your next task (the one you hold, or a new one); exit 4 when none waits')).action(async (o: ClientOpts) => {
    const next = await api(o).annotation.next.mutate({});
    output(o, next);
    if (!next.task) {
      note('no task is waiting for you');
      process.exitCode = EXIT.notFound;
    }
  });
  withClient(annotate.command('label').argument('<taskId>').argument('<label>', 'the class index (0, 1, ...)'))
    .option('--spec-version <n>', 'the guidelines version you labelled under (default: the one your task carries)')
    .action(async (taskId: string, label: string, o: ClientOpts & { specVersion?: string }) => {
      const client = api(o);
      let specVersion = o.specVersion ? positiveIntFlag('--spec-version', o.specVersion) : undefined;
      if (specVersion === undefined) {
        const held = (await client.annotation.next.mutate({})).task;
        if (!held || held.taskId !== Number(taskId)) throw new CliError(`task ${taskId} is not the task you hold: pass --spec-version`, EXIT.conflict);
        specVersion = held.spec.version;
      }
      const n = Number(label);
      if (!Number.isInteger(n) || n < 0) throw new CliError(`<label> must be a class index (0, 1, ...), got '${label}'`, EXIT.usage);
      output(o, await client.annotation.submit.mutate({ taskId: positiveIntFlag('<taskId>', taskId), label: n, specVersion }));
    });
  withClient(annotate.command('skip').argument('<taskId>'))
    .option('--reason <text>')
    .action(async (taskId: string, o: ClientOpts & { reason?: string }) =>
      output(o, await api(o).annotation.skip.mutate({ taskId: positiveIntFlag('<taskId>', taskId), ...(o.reason ? { reason: o.reason } : {}) })),
    );
}

export function registerAuditLog(program: Command): void {
  withClient(program.command('audit-log').description('who did what, newest first (admin)'))
    .option('--target <target>', 'only entries about this target (a run id, model, token...)')
    .option('--limit <n>', 'at most this many (1..1000)', '100')
    .action(async (o: ClientOpts & { target?: string; limit: string }) => {
      const rows = await api(o).admin.auditLog.query({ limit: positiveIntFlag('--limit', o.limit), ...(o.target ? { target: o.target } : {}) });
      output(o, rows, () => rows.map((r) => `${r.createdAt.toISOString()}  ${r.actor}  ${r.action}  ${r.target}`).join('\n'));
    });
}
