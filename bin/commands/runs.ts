// Runs: start (optionally waiting for the run to settle or reach the gate), get, list, watch, and the
// rollout controls (rollback, promote-now, pause, resume).
import type { Command } from 'commander';
import { EXIT, api, note, output, parseJsonFlag, withClient, type Api, type ClientOpts } from '../cli';

type Run = Awaited<ReturnType<Api['runs']['get']['query']>>;

/** The exit code a waited-for run ends the command with (README, CLI). */
export function runExitCode(status: string): number {
  if (status === 'promoted') return EXIT.ok;
  if (status === 'awaiting_approval') return EXIT.awaitingApproval;
  if (status === 'rejected' || status === 'rolled_back') return EXIT.gateFailed;
  return status === 'running' ? EXIT.ok : EXIT.other;
}

/**
 * Follows the run until it leaves `running` (settled, or waiting at the gate) with runs.wait, the
 * server's long-poll: each answer comes when the run reaches its gate or finishes, or moves on from the
 * step last seen (so its steps still go to stderr), or after at most a minute.
 */
async function watch(client: Api, runId: string, timeoutMs: number): Promise<Run> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  let step: string | undefined;
  for (;;) {
    const left = Math.ceil((deadline - Date.now()) / 1000);
    const { timedOut: _, ...run } = await client.runs.wait.query({ runId, until: 'gate', timeoutSeconds: Math.min(60, Math.max(1, left)), ...(step ? { step } : {}) });
    const line = `${run.status}: ${run.step}`;
    if (line !== last) note(`run ${runId} ${line}`);
    last = line;
    step = run.step;
    if (run.status !== 'running') return run;
    if (Date.now() >= deadline) return run;
  }
}

const waitOptions = (cmd: Command) =>
  // --interval is accepted for scripts written when the CLI polled; the server's long-poll needs none.
  cmd.option('--interval <seconds>', '(unused: the CLI waits on the server, runs.wait)', '1').option('--timeout <seconds>', 'give up waiting after this long (the run goes on)', '3600');

/**
 * `--held-out`: 'split', or the newest window as a duration or a fraction (a number). The server checks
 * the window (its units, a fraction in (0, 1)) and names what is wrong.
 */
export function heldOutOf(text: string): { kind: 'split' } | { kind: 'time'; newest: string | number } {
  const t = text.trim();
  if (t === 'split') return { kind: 'split' };
  // Digits and a point are a fraction; anything else is a duration.
  return { kind: 'time', newest: /^[0-9]*\.?[0-9]+$/.test(t) ? Number(t) : t };
}

export function registerRunCommands(runs: Command): void {
  waitOptions(
    withClient(runs.command('start').description('start a retraining run'))
      .requiredOption('--model <name>')
      .option('--approval-timeout <seconds>', 'how long the gate waits for a human')
      .option('--annotation <json>', 'ask for labels first: {"budget":400,"deadlineSeconds":86400,...} (see AnnotationSettings)')
      .option('--saturation [json]', 'check whether more data still helps: {"fractions":[...],"seeds":3} (default design when no JSON is given)')
      .option('--held-out <design>', "how the snapshot holds out: 'split' (the examples' split column) or the newest window, a duration ('30d', '12h', '2w') or a fraction ('0.2')")
      .option('--wait', 'show progress on stderr until the run settles or waits at the gate; the exit code says which'),
  ).action(async (o: ClientOpts & { model: string; approvalTimeout?: string; annotation?: string; saturation?: string | true; heldOut?: string; wait?: boolean; interval: string; timeout: string }) => {
    const client = api(o);
    const annotation = o.annotation ? parseJsonFlag('--annotation', o.annotation) : undefined;
    const started = await client.runs.start.mutate({
      model: o.model,
      ...(o.approvalTimeout ? { approvalTimeoutSeconds: Number(o.approvalTimeout) } : {}),
      // The server validates it field by field and names what is wrong.
      ...(annotation ? { annotation: annotation as never } : {}),
      ...(o.saturation ? { saturation: (o.saturation === true ? {} : parseJsonFlag('--saturation', o.saturation)) as never } : {}),
      ...(o.heldOut !== undefined ? { heldOut: heldOutOf(o.heldOut) as never } : {}),
    });
    if (!o.wait) return output(o, started);
    note(`started run ${started.runId}`);
    const run = await watch(client, started.runId, Number(o.timeout) * 1000);
    output(o, run);
    process.exitCode = runExitCode(run.status);
  });
  waitOptions(withClient(runs.command('watch').argument('<runId>').description('progress on stderr until the run settles or waits at the gate; the exit code says which'))).action(
    async (runId: string, o: ClientOpts & { interval: string; timeout: string }) => {
      const run = await watch(api(o), runId, Number(o.timeout) * 1000);
      output(o, run);
      process.exitCode = runExitCode(run.status);
    },
  );
  withClient(runs.command('get').argument('<runId>')).action(async (runId: string, o: ClientOpts) => output(o, await api(o).runs.get.query({ runId })));
  withClient(runs.command('list'))
    .option('--model <name>')
    .option('--limit <n>', 'at most this many', '50')
    .action(async (o: ClientOpts & { model?: string; limit: string }) => output(o, await api(o).runs.list.query({ limit: Number(o.limit), ...(o.model ? { model: o.model } : {}) })));
  withClient(runs.command('rollout').argument('<runId>').description("a run's canary rollout: phase, weight, analyses"))
    .action(async (runId: string, o: ClientOpts) => output(o, await api(o).runs.rollout.query({ runId })));
  const controls = [
    ['rollback', 'rollback', 'roll the candidate back now (operator or approver)'],
    ['promote-now', 'promoteNow', 'skip the remaining canary steps (an approver other than the requester)'],
    ['pause', 'pause', 'pause the rollout (operator or approver)'],
    ['resume', 'resume', 'resume a paused rollout (operator or approver)'],
  ] as const;
  for (const [verb, procedure, description] of controls) {
    withClient(runs.command(verb).argument('<runId>').description(description))
      .requiredOption('--reason <text>', 'why (recorded with your identity)')
      .action(async (runId: string, o: ClientOpts & { reason: string }) => output(o, await api(o).runs[procedure].mutate({ runId, reason: o.reason })));
  }
}
