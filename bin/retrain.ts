#!/usr/bin/env -S npx tsx
// The `retrain` CLI: run the services (up, worker, api), the demo, and talk to the API as a user.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { createApiClient } from '../api/client';
import { ensureAdminToken, issueToken } from '../db/tokens';
import { DataDirLockedError, dataDirHolder, describeHolder, openDb } from '../db/index';
import { ROLES, type Role } from '../db/schema';
import { databaseLocation, dataDir, isPortText, readSettings } from '../temporal-config/env';
import { onShutdown } from '../temporal-config/shutdown';
import { jsonStartupLog, startServices, type StartServicesOptions } from '../temporal-config/services';
import { formatRunEvidence, formatSaturationReport } from '../api/format';
import { registerRecoverAdmin } from './commands/recoverAdmin';
import { EXIT, api, errorText, exitCodeOf, printJson, withClient } from './cli';
import { registerFeedbackIngest, registerModelImport, registerPredictionsLog } from './commands/ingest';
import { registerFeedbackLabelling } from './commands/feedbackLabels';
import { registerFeedbackHealth } from './commands/flywheel';
import { registerAnnotateCommands, registerAuditLog, registerModelRegister, registerPolicyCommands, registerTokenCommands } from './commands/models';
import { registerRunCommands } from './commands/runs';
import { registerReviewCommand } from './commands/review';

/** package.json's version, read beside this file. */
function packageVersion(): string {
  const { version } = JSON.parse(readFileSync(path.join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string };
  return version;
}

const log = (msg: string) => process.stderr.write(`${msg}\n`);

/** `--url` and `--token`, which commander fills from RETRAIN_API_URL and RETRAIN_TOKEN (clientOptions). */
const apiFromOptions = (opts: { url?: string; token?: string }) => api(opts);

const print = printJson;

/** A JSON option, or an error naming the flag. */
const parseJson = (flag: string, text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${flag} is not valid JSON: ${(err as Error).message}`);
  }
};

async function serve(name: string, opts: StartServicesOptions) {
  // The service's lines are JSON lines on stderr (temporal-config/log.ts), as its access log and workers' are.
  const log = jsonStartupLog();
  const starting = startServices({ log, ...opts });
  // Registered at once: a signal (or the launcher's exit) during start-up waits for what is starting and
  // stops it in order (a second signal forces).
  onShutdown(async (signal) => {
    log(`${signal}: stopping ${name} (workers finish their current tasks first)`);
    const services = await starting.catch(() => null);
    if (!services) return;
    await services.stop();
    log(`${name} stopped: workers drained, API closed, database closed`);
  });
  const services = await starting.catch((err: unknown) => {
    if (!(err instanceof DataDirLockedError)) throw err;
    // A second `up` (or api, worker) on the same data folder: say who runs there and what to do instead.
    const h = err.holder;
    throw new Error(
      `${name} refused: the embedded database ${err.dir} is in use by ${describeHolder(h)}.\n` +
        (h.apiUrl ? `  Use that server (its API is at ${h.apiUrl}), or stop it first (kill ${h.pid}).\n` : `  Stop it first (kill ${h.pid}).\n`) +
        `  For a second deployment, give it another folder (RETRAIN_DATA_DIR=...); to run api and worker as separate processes, ` +
        (err.dir.endsWith('temporal.db') ? 'share one Temporal server (TEMPORAL_ADDRESS).' : 'use PostgreSQL (DATABASE_URL) and one Temporal server (TEMPORAL_ADDRESS).'),
    );
  });
  if (services.uiUrl) log(`Temporal UI: ${services.uiUrl}`);
  log(`${name} running; Ctrl-C to stop`);
  return services;
}

const program = new Command()
  .name('retrain')
  .description('Workflow-orchestrated retraining control plane (exit codes: README, CLI)')
  .version(packageVersion(), '-V, --version')
  .showHelpAfterError()
  // Usage errors exit 2 (help and --version 0); set before the commands so each inherits it.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT.usage));

const clientOptions = withClient;

/** A port flag's value, else the setting: 1 to 65535, or 0 for a free one. */
function portOption(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!isPortText(value)) throw new Error(`${flag} must be a TCP port, 1 to 65535, or 0 for a free one (got ${JSON.stringify(value)})`);
  return Number(value);
}

program
  .command('up')
  .description('start everything in one process: Temporal (embedded unless TEMPORAL_ADDRESS), database, workers, API')
  .option('--port <port>', 'API port (default RETRAIN_API_PORT, else 4300)')
  .option('--temporal-port <port>', "embedded Temporal dev server's gRPC port (default RETRAIN_TEMPORAL_PORT, else 7233)")
  .option('--temporal-ui-port <port>', "embedded Temporal dev server's web UI port (default RETRAIN_TEMPORAL_UI_PORT, else 8233)")
  .action(async (o: { port?: string; temporalPort?: string; temporalUiPort?: string }) => {
    const settings = readSettings();
    // 0: a free port, picked at start (then it changes on every start).
    const fixed = (p: number): number | undefined => (p === 0 ? undefined : p);
    // The reference Python trainer beside the built-in one (RETRAIN_PYTHON_TRAINER_QUEUE, 'off' for none).
    // Fixed dev-server ports (a saved `temporal --address` or UI bookmark keeps working); taken ones are an error.
    const services = await serve('retrain up', {
      apiPort: portOption('--port', o.port, settings.apiPort),
      temporalPort: fixed(portOption('--temporal-port', o.temporalPort, settings.temporalPort)),
      temporalUiPort: fixed(portOption('--temporal-ui-port', o.temporalUiPort, settings.temporalUiPort)),
      pythonTrainerQueue: settings.pythonTrainerQueue,
    });
    if (services.devServer) log(`Temporal: ${services.temporalAddress} (temporal --address ${services.temporalAddress}), UI ${services.uiUrl}`);
    // With RETRAIN_ADMIN_TOKEN that secret is the admin token (never printed); else the first one, printed once.
    const admin = settings.adminToken === undefined ? await ensureAdminToken(services.opened.db) : null;
    if (admin) log(`admin token for subject 'admin' (shown once, create more with it): ${admin}`);
  });

program
  .command('worker')
  .description('run workers for the control and training task queues')
  .action(async () => {
    const services = await serve('retrain worker', { api: false });
    // RETRAIN_WORKER_HEALTH_PORT: /healthz, /readyz and /metrics for probes and Prometheus.
    const health = readSettings().workerHealth;
    if (health && services.workers) {
      const { startHealthServer } = await import('../temporal-config/healthServer');
      const server = await startHealthServer({ db: services.opened.db, client: services.client, workers: services.workers, ...health });
      onShutdown(() => server.close());
      log(`worker health: ${server.url}/healthz, /readyz, /metrics`);
    }
  });

program
  .command('api')
  .description('serve the tRPC and REST API')
  .option('--port <port>', 'API port (default RETRAIN_API_PORT, else 4300)')
  .action(async (o: { port?: string }) => {
    await serve('retrain api', { worker: false, apiPort: portOption('--port', o.port, readSettings().apiPort) });
  });

program
  .command('demo')
  .description('the real-data demo: bootstrap v1, retrain, gate, approve, promote (DEMO_QUICK=1 for a shorter run)')
  .addOption(new Option('--dataset <dataset>', 'spam (the e-mail story), adult (the tabular act: UCI Adult, the Python trainer, external serving), or all').choices(['all', 'spam', 'adult']).default('all'))
  .action(async (o: { dataset: 'all' | 'spam' | 'adult' }) => {
    // The demo starts by deleting its folder: never under a demo still running there.
    const demoDb = path.join(dataDir(), 'demo', 'pg');
    const holder = dataDirHolder(demoDb);
    if (holder) throw new Error(`retrain demo refused: a demo is running on ${demoDb}: ${describeHolder(holder)}. Wait for it to finish or stop it (kill ${holder.pid}) first.`);
    // Ctrl-C, SIGTERM or the launcher's exit: exit through the exit hooks (the dev server stops, the lock is released).
    onShutdown(async (signal) => {
      log(`${signal}: stopping the demo`);
    });
    const { runDemo } = await import('../demo/run');
    await runDemo({ quick: readSettings().demoQuick, dataset: o.dataset });
  });

program
  .command('eval')
  .description('evaluate your own predictions (CSV or JSONL: label 0/1, score in [0,1], other columns as slices) and print the packet')
  .argument('<file>', 'predictions file')
  .option('--slices <columns>', 'comma-separated columns to slice by (default: every other column)')
  .option('--sensitive <columns>', 'comma-separated columns for the fairness section')
  .option(
    '--intersections <a,b>',
    'two columns whose cells (a=x&b=y) are evaluated, the worst listed; repeat for more pairs',
    (v: string, prev: string[][] = []) => [...prev, v.split(',').map((x) => x.trim())],
  )
  .option('--policy <file>', 'gate policy (JSON) to judge the predictions with')
  .option('--threshold <t>', 'operating threshold: predict 1 when score >= t', '0.5')
  .option('--bootstrap <B>', 'bootstrap replicates for intervals', '1000')
  .option('--json', "print a JSON document (fairness in Fairlearn's names) instead of the packet")
  .action(async (file: string, o: { slices?: string; sensitive?: string; intersections?: string[][]; policy?: string; threshold: string; bootstrap: string; json?: boolean }) => {
    const { readFileSync } = await import('node:fs');
    const { evaluatePredictionsFile } = await import('../api/evaluateFile');
    const { gatePolicySchema } = await import('../analysis/policy');
    const { formatPacket } = await import('../api/format');
    const list = (v?: string) => (v ? v.split(',').map((x) => x.trim()).filter(Boolean) : undefined);
    const threshold = Number(o.threshold);
    if (!(threshold >= 0 && threshold <= 1)) throw new Error(`--threshold must be a number in [0, 1], got '${o.threshold}'`);
    const B = Number(o.bootstrap);
    if (!(Number.isInteger(B) && B >= 10 && B <= 100_000)) throw new Error(`--bootstrap must be an integer in [10, 100000], got '${o.bootstrap}'`);
    let policy = null;
    if (o.policy) {
      const parsed = gatePolicySchema.safeParse(JSON.parse(readFileSync(o.policy, 'utf8')));
      if (!parsed.success) throw new Error(`${o.policy}: not a valid gate policy:\n${parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n')}`);
      policy = parsed.data;
    }
    const slices = list(o.slices);
    const sensitive = list(o.sensitive);
    const result = evaluatePredictionsFile(readFileSync(file, 'utf8'), {
      fileName: file,
      threshold,
      B,
      policy,
      ...(slices ? { slices } : {}),
      ...(sensitive ? { sensitive } : {}),
      ...(o.intersections ? { intersections: o.intersections as [string, string][] } : {}),
    });
    if (o.json) {
      const overall = result.packet.candidateEvaluation.classification.overall;
      print({
        rows: result.rows,
        threshold: result.threshold,
        overall: { ...overall.rates, auc: overall.auc, average_precision: overall.averagePrecision },
        slices: result.packet.candidateEvaluation.classification.slices,
        fairness: result.fairness,
        thresholds: result.packet.thresholds,
        costs: result.packet.costs,
        abstain: result.packet.abstain,
        calibration: result.packet.candidateEvaluation.calibration ?? [],
        intersections: result.packet.intersections ?? [],
        gate: policy ? result.packet.judgement : null,
      });
    } else {
      process.stdout.write(`${formatPacket(result.packet, null)}\n`);
    }
    if (policy && result.packet.judgement.decision === 'failed') process.exitCode = EXIT.gateFailed;
  });

const labels = program.command('labels').description('annotation labels');
labels
  .command('quality')
  .description('agreement, per-annotator gold accuracy and slice-bias flags, Dawid-Skene beside majority vote')
  .argument('<file>', 'CSV with item, annotator, label, optional gold and slice columns')
  .option('--slices <columns>', 'comma-separated item columns to test annotators for slice bias')
  .option('--json', 'print a JSON document')
  .action(async (file: string, o: { slices?: string; json?: boolean }) => {
    const { readFileSync } = await import('node:fs');
    const { evaluateLabelsFile, formatLabelsQuality } = await import('../api/labelsFile');
    const slices = o.slices ? o.slices.split(',').map((x) => x.trim()).filter(Boolean) : undefined;
    const quality = evaluateLabelsFile(readFileSync(file, 'utf8'), slices ? { slices } : {});
    if (o.json) print(quality);
    else process.stdout.write(`${formatLabelsQuality(quality)}\n`);
  });

const tokens = program
  .command('tokens')
  .description(
    'API tokens (direct database access: for operators of this deployment). A token made here is a root of trust: it records no issuer, so four eyes cannot see what its holder mints; people get theirs through `admin.createToken`, which records the issuing token',
  );
clientOptions(
  tokens
    .command('create')
    .description(
      'issue a token straight into the database; while a server holds the embedded database, through its API with an admin token (--token or RETRAIN_TOKEN)',
    ),
)
  .requiredOption('--subject <subject>', 'identity the token speaks for')
  .addOption(new Option('--role <role>', 'role').choices([...ROLES]).makeOptionMandatory())
  .action(async (o: { subject: string; role: Role; url?: string; token?: string }) => {
    let opened;
    try {
      opened = await openDb(databaseLocation());
    } catch (err) {
      if (!(err instanceof DataDirLockedError)) throw err;
      // PGlite is the server's alone: a token written beside it would never reach it (and could be lost).
      const h = err.holder;
      const url = o.url ?? h.apiUrl;
      if (o.token && url) {
        log(`${err.dir} is held by ${describeHolder(h)}: creating the token through the API at ${url}`);
        print(await createApiClient(url, o.token).admin.createToken.mutate({ subject: o.subject, role: o.role }));
        return;
      }
      throw new Error(
        `tokens create refused: the embedded database ${err.dir} is in use by ${describeHolder(h)}; a token written here would not reach it.\n` +
          (h.apiUrl
            ? `  Create it through that server with an admin token: retrain tokens create --subject ${o.subject} --role ${o.role} --url ${h.apiUrl} --token <admin token> (or set RETRAIN_TOKEN),\n  or stop the server first (kill ${h.pid}).`
            : `  That process serves no API: stop it first (kill ${h.pid}), then run this again.`),
      );
    }
    try {
      const created = await issueToken(opened.db, { subject: o.subject, role: o.role, createdBy: 'cli' });
      print(created);
    } finally {
      await opened.close();
    }
  });

registerRecoverAdmin(tokens);

const runs = program.command('runs').description('retraining runs');

const gates = program.command('gates').description('gates waiting for a human');
clientOptions(gates.command('list')).action(async (o) => print(await apiFromOptions(o).gates.list.query()));
clientOptions(gates.command('show').argument('<runId>').description('the evidence of a run: evaluation table and gate rules'))
  .action(async (runId: string, o) => {
    const report = await apiFromOptions(o).reports.get.query({ runId });
    if (o.json) return print(report);
    process.stdout.write(`${formatRunEvidence(report)}\n`);
  });
for (const verb of ['approve', 'reject'] as const) {
  clientOptions(gates.command(verb).argument('<runId>'))
    .requiredOption('--reason <text>', 'why (recorded with your identity)')
    .option('--hash <packetHash>', 'the packet hash you read (`gates show` prints it); default: the stored packet as read now')
    .action(async (runId: string, o) => {
      const api = apiFromOptions(o);
      // An approval signs the packet it was decided on: the hash given, or the one reports.get serves
      // now (which the server verifies against the packet before serving it).
      const packetHash: string | null = typeof o.hash === 'string' ? o.hash : (await api.reports.get.query({ runId })).packetHash;
      process.stderr.write(`${verb === 'approve' ? 'signing' : 'deciding on'} packet ${packetHash ?? '(none)'}\n`);
      if (verb === 'reject') return print(await api.gates.reject.mutate({ runId, reason: o.reason, ...(packetHash ? { packetHash } : {}) }));
      if (!packetHash) throw new Error(`run ${runId} has no approval packet to sign`);
      print(await api.gates.approve.mutate({ runId, reason: o.reason, packetHash }));
    });
}

const models = program.command('models').description('models, versions and routes');
clientOptions(models.command('list')).action(async (o) => print(await apiFromOptions(o).models.list.query()));
clientOptions(models.command('get').argument('<name>')).action(async (name: string, o) => print(await apiFromOptions(o).models.get.query({ name })));
clientOptions(models.command('rollback').argument('<name>'))
  .requiredOption('--reason <text>')
  .action(async (name: string, o) => print(await apiFromOptions(o).models.rollback.mutate({ name, reason: o.reason })));
clientOptions(models.command('lineage').argument('<name>').argument('<version>'))
  .description("a version's lineage: trainer, version and code digest, params, artifact, snapshot, label sources, run, gate, approval")
  .action(async (name: string, version: string, o) => print(await apiFromOptions(o).models.lineage.query({ name, version: Number(version) })));

const feedback = program.command('feedback').description('production feedback and the flywheel');
registerFeedbackHealth(feedback);

const saturation = program.command('saturation').description('does more data still help? the saturation check of a run');
clientOptions(saturation.command('show').argument('<runId>').description('the learning curve drawn in the terminal, the fit, the newest-batch ablation and the verdict'))
  .action(async (runId: string, o: { json?: boolean; url?: string; token?: string }) => {
    const r = await apiFromOptions(o).reports.saturation.query({ runId });
    if (o.json) print(r);
    else process.stdout.write(`${formatSaturationReport(runId, r.report)}\n`);
  });

// Audits: scheduled bias re-audits and drift monitors (Temporal Schedules) and the reports their runs store.
const audits = program.command('audits').description('scheduled bias re-audits and drift monitors, and their reports');
clientOptions(audits.command('create').description('schedule an audit of a model (operator)'))
  .requiredOption('--model <name>')
  .addOption(new Option('--kind <kind>', 'what runs on the schedule').choices(['bias_reaudit', 'drift_monitor']).default('bias_reaudit'))
  .option('--id <id>', 'default: bias-reaudit-<model> / drift-monitor-<model>')
  .option('--cron <expr>', 'e.g. "0 6 * * MON"')
  .option('--every <seconds>', 'an interval instead of a cron')
  .option('--timezone <zone>', 'IANA time zone of the cron', 'UTC')
  .option('--window-days <days>', 'days of traffic each run looks at', '7')
  .requiredOption('--policy <json>', 'bias_reaudit: {"maxFprIncrease":0.05,"maxFairnessGap":0.15,...}; drift_monitor: {"maxPsi":0.25,"startRetraining":true,...}')
  .option('--paused', 'create it paused')
  .action(async (o) => {
    const spec = o.every ? { interval: { everySeconds: Number(o.every) }, timezone: o.timezone } : { cron: o.cron, timezone: o.timezone };
    print(
      await apiFromOptions(o).audits.create.mutate({
        model: o.model,
        kind: o.kind,
        ...(o.id ? { id: o.id } : {}),
        spec,
        windowDays: Number(o.windowDays),
        // The server holds the policy to the kind's schema and names the field that is wrong.
        policy: parseJson('--policy', o.policy as string) as never,
        ...(o.paused ? { paused: true } : {}),
      }),
    );
  });
clientOptions(audits.command('list'))
  .option('--model <name>')
  .addOption(new Option('--kind <kind>').choices(['bias_reaudit', 'drift_monitor']))
  .action(async (o) => print(await apiFromOptions(o).audits.list.query({ ...(o.model ? { model: o.model } : {}), ...(o.kind ? { kind: o.kind } : {}) })));
clientOptions(audits.command('show').argument('<id>').description('spec, policy, state, recent and next runs'))
  .action(async (id: string, o) => print(await apiFromOptions(o).audits.describe.query({ id })));
for (const verb of ['pause', 'resume'] as const) {
  clientOptions(audits.command(verb).argument('<id>'))
    .requiredOption('--reason <text>')
    .action(async (id: string, o) => print(await apiFromOptions(o).audits[verb].mutate({ id, reason: o.reason })));
}
clientOptions(audits.command('trigger').argument('<id>').description('run it now'))
  .action(async (id: string, o) => print(await apiFromOptions(o).audits.trigger.mutate({ id })));
clientOptions(audits.command('backfill').argument('<id>').description('one run per scheduled time in a past range [from, to)'))
  .requiredOption('--from <iso>')
  .requiredOption('--to <iso>')
  .addOption(new Option('--overlap <policy>').choices(['skip', 'buffer_one', 'buffer_all', 'cancel_other', 'terminate_other', 'allow_all']))
  .action(async (id: string, o) => print(await apiFromOptions(o).audits.backfill.mutate({ id, from: o.from, to: o.to, ...(o.overlap ? { overlap: o.overlap } : {}) })));
clientOptions(audits.command('delete').argument('<id>'))
  .action(async (id: string, o) => print(await apiFromOptions(o).audits.delete.mutate({ id })));
clientOptions(audits.command('reports').argument('<model>').description("a model's stored audit reports, newest window first"))
  .addOption(new Option('--kind <kind>').choices(['bias_reaudit', 'drift_monitor']))
  .option('--audit <id>', 'only this audit')
  .option('--alerts', 'only the reports that alerted')
  .option('--limit <n>', 'at most this many', '50')
  .action(async (model: string, o) =>
    print(
      await apiFromOptions(o).audits.reports.query({
        model,
        limit: Number(o.limit),
        ...(o.kind ? { kind: o.kind } : {}),
        ...(o.audit ? { auditId: o.audit } : {}),
        ...(o.alerts ? { alertsOnly: 'true' as const } : {}),
      }),
    ),
  );
clientOptions(audits.command('alerts').argument('<model>').description('recorded alerts, newest first: delivery, and what they propose'))
  .addOption(new Option('--status <status>').choices(['pending', 'delivered', 'failed']))
  .action(async (model: string, o) => print(await apiFromOptions(o).audits.alerts.query({ model, ...(o.status ? { status: o.status } : {}) })));
clientOptions(audits.command('report').argument('<reportId>').description('one report, whole: every finding with its interval'))
  .action(async (reportId: string, o) => print(await apiFromOptions(o).audits.report.query({ reportId: Number(reportId) })));

// Annotation: the pool, the guidelines and the batches, as an operator or a viewer sees them.
const annotation = program.command('annotation').description('annotation batches, the annotator pool and the guidelines');
clientOptions(annotation.command('batch').argument('<batchId>').description('a batch: progress, SLA, aggregation, agreement and bias flags'))
  .option('--labels', 'also print the aggregated label of every item (Dawid-Skene beside majority vote)')
  .action(async (batchId: string, o: { labels?: boolean; url?: string; token?: string }) => {
    const api = apiFromOptions(o);
    const batch = await api.annotation.batch.query({ batchId });
    print(o.labels ? { ...batch, labels: await api.annotation.aggregated.query({ batchId }) } : batch);
  });
clientOptions(annotation.command('annotators').description('per annotator: labels, gold accuracy per batch with drift, slice-bias flags'))
  .requiredOption('--model <name>')
  .action(async (o: { model: string; url?: string; token?: string }) => print(await apiFromOptions(o).annotation.annotators.query({ model: o.model })));
clientOptions(annotation.command('spec').description('show the guidelines in force, or publish a new version with --guidelines'))
  .requiredOption('--model <name>')
  .option('--guidelines <file>', 'publish the text of FILE as the next version')
  .option('--affects <slice=v1,v2>', 'only labels on items of these slice values are marked for relabelling (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
  .action(async (o: { model: string; guidelines?: string; affects: string[]; url?: string; token?: string }) => {
    const api = apiFromOptions(o);
    if (!o.guidelines) return print(await api.annotation.getSpec.query({ model: o.model }));
    const affects: Record<string, string[]> = {};
    for (const a of o.affects) {
      const m = /^([^=]+)=(.+)$/.exec(a);
      if (!m) throw new Error(`--affects must look like slice=value1,value2, got '${a}'`);
      affects[m[1]!] = m[2]!.split(',').map((v) => v.trim()).filter(Boolean);
    }
    const { readFileSync } = await import('node:fs');
    print(await api.annotation.setSpec.mutate({ model: o.model, guidelines: readFileSync(o.guidelines, 'utf8'), affects }));
  });
clientOptions(annotation.command('register').argument('<subject>').description('add or update an annotator of the pool'))
  .option('--attribute <key=value>', 'pool attribute used for assignment, e.g. language=de (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
  .option('--adjudicator', 'reviews items without quorum instead of labelling new ones')
  .action(async (subject: string, o: { attribute: string[]; adjudicator?: boolean; url?: string; token?: string }) => {
    const attributes = Object.fromEntries(
      o.attribute.map((a) => {
        const i = a.indexOf('=');
        if (i < 1) throw new Error(`--attribute must look like key=value, got '${a}'`);
        return [a.slice(0, i), a.slice(i + 1)];
      }),
    );
    print(await apiFromOptions(o).annotation.registerAnnotator.mutate({ subject, attributes, adjudicator: Boolean(o.adjudicator) }));
  });

const trainer = program.command('trainer').description('trainers serving the trainer contract, in any language');
// Trainers (the trainer contract): register one by its queue (it describes itself), list them.
clientOptions(trainer.command('register'))
  .description('ask the trainer serving --queue to describe itself, and register it')
  .requiredOption('--queue <taskQueue>', "the trainer's task queue")
  .option('--time-to-start <seconds>', 'how long to wait for a worker of the queue', '30')
  .action(async (o) => print(await apiFromOptions(o).trainers.register.mutate({ taskQueue: o.queue, timeToStartSeconds: Number(o.timeToStart) })));
clientOptions(trainer.command('list')).action(async (o) => print(await apiFromOptions(o).trainers.list.query()));
clientOptions(trainer.command('get').argument('<name>')).action(async (name: string, o) => print(await apiFromOptions(o).trainers.get.query({ name })));

trainer
  .command('check')
  .description(
    'the conformance suite: drive the trainer on a task queue through describe, train, score, determinism, retries, refusals, cancellation and a large snapshot (starts the services in this process; TEMPORAL_ADDRESS and DATABASE_URL say which)',
  )
  .requiredOption('--queue <queue>', "the trainer's task queue (the built-in trainer's is the training queue, `training` by default)")
  .option('--rows <n>', 'rows of the small scratch snapshot', '1500')
  .option('--large-rows <n>', 'rows of the large snapshot trained by reference', '100000')
  .option('--time-to-start <s>', 'seconds a job may wait for the trainer to pick it up', '30')
  .option('--api-url <url>', "the data plane's URL as the trainer reaches it (default RETRAIN_API_URL, else this process's API)")
  .option('--feature-kinds <kinds>', 'comma-separated feature kinds of the scratch model (default: every kind the trainer takes)')
  .option('--slow-params <json>', 'params that make training slow, for the cancellation check (default: iteration-like params at their maximum)')
  .option('--json', 'print the report as JSON')
  .action(async (o: { queue: string; rows: string; largeRows: string; timeToStart: string; apiUrl?: string; featureKinds?: string; slowParams?: string; json?: boolean }) => {
    const int = (flag: string, v: string, min: number, max: number) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${flag} must be an integer in [${min}, ${max}], got '${v}'`);
      return n;
    };
    const rows = int('--rows', o.rows, 100, 1_000_000);
    const largeRows = int('--large-rows', o.largeRows, rows, 10_000_000);
    const timeToStartSeconds = int('--time-to-start', o.timeToStart, 1, 3600);
    const { FEATURE_KINDS } = await import('../trainers/contract');
    const featureKinds = o.featureKinds?.split(',').map((k) => k.trim());
    const unknownKind = featureKinds?.find((k) => !(FEATURE_KINDS as readonly string[]).includes(k));
    if (featureKinds && (unknownKind !== undefined || featureKinds.length === 0)) throw new Error(`--feature-kinds: '${unknownKind ?? ''}' is not a feature kind (${FEATURE_KINDS.join(', ')})`);
    const slowParams = o.slowParams === undefined ? undefined : parseJson('--slow-params', o.slowParams);
    if (slowParams !== undefined && (typeof slowParams !== 'object' || slowParams === null || Array.isArray(slowParams))) throw new Error('--slow-params must be a JSON object of params');
    const { randomBytes } = await import('node:crypto');
    const { checkTargetOf, checkTrainer, formatCheckReport } = await import('../temporal-config/trainerCheck');
    // A control queue of its own, so the suite's trainerCall workflows run on this process's worker.
    const taskQueues = { control: `trainer-check-${randomBytes(4).toString('hex')}`, training: readSettings().taskQueues.training };
    const starting = startServices({ log, taskQueues, temporalUiPort: null });
    onShutdown(async (signal) => {
      log(`${signal}: stopping the trainer check`);
      await (await starting.catch(() => null))?.stop();
    });
    const services = await starting.catch((err: unknown) => {
      if (!(err instanceof DataDirLockedError)) throw err;
      throw new Error(
        `retrain trainer check refused: the embedded database ${err.dir} is in use by ${describeHolder(err.holder)}. ` +
          'To check a trainer of that deployment, set TEMPORAL_ADDRESS and DATABASE_URL to its Temporal and PostgreSQL (or stop it first).',
      );
    });
    try {
      const report = await checkTrainer({
        ...checkTargetOf(services, o.apiUrl ?? readSettings().apiUrl),
        taskQueue: o.queue,
        rows,
        largeRows,
        timeToStartSeconds,
        log,
        ...(featureKinds ? { featureKinds: featureKinds as (typeof FEATURE_KINDS)[number][] } : {}),
        ...(slowParams ? { slowParams: slowParams as Record<string, unknown> } : {}),
      });
      process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatCheckReport(report)}\n`);
      if (!report.passed) process.exitCode = 1;
    } finally {
      await services.stop();
    }
  });

// The jobs added for scripts (bin/commands): each prints JSON with --json, notes on stderr.
registerModelRegister(models);
registerModelImport(models);
registerTokenCommands(tokens);
registerPolicyCommands(program);
registerRunCommands(runs);
registerPredictionsLog(program);
registerFeedbackIngest(feedback);
registerFeedbackLabelling(feedback);
registerAnnotateCommands(program);
registerAuditLog(program);
registerReviewCommand(program);

program.parseAsync().catch((err: unknown) => {
  log(errorText(err));
  process.exit(exitCodeOf(err));
});
