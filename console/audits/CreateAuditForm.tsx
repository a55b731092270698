// An operator schedules an audit: its kind, model, when it runs, the window it looks at, and its policy
// (the kind decides the policy's fields). The server's refusal is shown as it said it.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { useLocation } from 'wouter';
import { errorMessage, useTRPC } from '../trpc';

type Kind = 'bias_reaudit' | 'drift_monitor';
const OVERLAPS = ['skip', 'buffer_one', 'buffer_all', 'cancel_other', 'terminate_other', 'allow_all'] as const;
type Overlap = (typeof OVERLAPS)[number];

/** A number typed in a field, or undefined when the field is empty. */
const num = (s: string): number | undefined => (s.trim() === '' ? undefined : Number(s));
const list = (s: string): string[] | undefined => {
  const items = s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  return items.length ? items : undefined;
};

export function CreateAuditForm() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const [, navigate] = useLocation();
  const f = useId();
  const models = useQuery(trpc.models.list.queryOptions());
  const create = useMutation(trpc.audits.create.mutationOptions());
  const [kind, setKind] = useState<Kind>('bias_reaudit');
  const [model, setModel] = useState('');
  const [id, setId] = useState('');
  const [how, setHow] = useState<'interval' | 'cron'>('cron');
  const [cron, setCron] = useState('0 6 * * MON');
  const [everyHours, setEveryHours] = useState('168');
  const [timezone, setTimezone] = useState('UTC');
  const [windowDays, setWindowDays] = useState('7');
  const [overlap, setOverlap] = useState<Overlap>('skip');
  const [paused, setPaused] = useState(false);
  const [maxFprIncrease, setMaxFprIncrease] = useState('0.05');
  const [maxFairnessGap, setMaxFairnessGap] = useState('0.1');
  const [maxPsi, setMaxPsi] = useState('0.25');
  const [minSupport, setMinSupport] = useState('30');
  const [maxOverrideRise, setMaxOverrideRise] = useState('');
  const [attributes, setAttributes] = useState('');
  const [startRetraining, setStartRetraining] = useState(false);
  const [proposeRollback, setProposeRollback] = useState(false);
  const [webhookUrl, setWebhookUrl] = useState('');
  const [secretEnv, setSecretEnv] = useState('');
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const webhook = webhookUrl.trim() ? { url: webhookUrl.trim(), ...(secretEnv.trim() ? { secretEnv: secretEnv.trim() } : {}) } : undefined;
    const common = { attributes: list(attributes), maxPsi: num(maxPsi), startRetraining, ...(webhook ? { webhook } : {}) };
    const policy =
      kind === 'bias_reaudit'
        ? { ...common, maxFprIncrease: Number(maxFprIncrease), maxFairnessGap: Number(maxFairnessGap), minSupport: num(minSupport), proposeRollback }
        : { ...common, maxOverrideRise: num(maxOverrideRise) };
    try {
      const created = await create.mutateAsync({
        kind,
        model,
        ...(id.trim() ? { id: id.trim() } : {}),
        spec: how === 'cron' ? { cron, timezone } : { interval: { everySeconds: Math.round(Number(everyHours) * 3600) }, timezone },
        windowDays: Number(windowDays),
        overlap,
        paused,
        policy,
      });
      await qc.invalidateQueries({ queryKey: trpc.audits.list.queryKey() });
      navigate(`/audits/${encodeURIComponent(created.id)}`);
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  const field = (key: string, label: string, value: string, set: (v: string) => void, opts: { type?: string; hint?: string; required?: boolean; step?: string } = {}) => (
    <div>
      <label htmlFor={`${f}-${key}`}>{label}</label>
      <input id={`${f}-${key}`} type={opts.type ?? 'text'} step={opts.step} value={value} required={opts.required} onChange={(e) => set(e.target.value)} aria-describedby={opts.hint ? `${f}-${key}-hint` : undefined} />
      {opts.hint && (
        <p id={`${f}-${key}-hint`} className="hint">
          {opts.hint}
        </p>
      )}
    </div>
  );

  return (
    <form className="panel audit-form" aria-label="Schedule an audit" onSubmit={submit}>
      <h2>Schedule an audit</h2>
      <fieldset>
        <legend>What and when</legend>
        <div>
          <label htmlFor={`${f}-kind`}>Kind</label>
          <select id={`${f}-kind`} value={kind} onChange={(e) => setKind(e.target.value === 'drift_monitor' ? 'drift_monitor' : 'bias_reaudit')}>
            <option value="bias_reaudit">Bias re-audit (against the pre-launch audit)</option>
            <option value="drift_monitor">Drift monitor (population and feedback drift)</option>
          </select>
        </div>
        <div>
          <label htmlFor={`${f}-model`}>Model</label>
          <select id={`${f}-model`} value={model} required onChange={(e) => setModel(e.target.value)}>
            <option value="">Choose a model</option>
            {models.data?.map((m) => (
              <option key={m.name} value={m.name}>
                {m.name}
              </option>
            ))}
          </select>
        </div>
        {field('id', 'Audit id (optional)', id, setId, { hint: 'Lower-case letters, digits and dashes; default bias-reaudit-<model> or drift-monitor-<model>.' })}
        <div>
          <label htmlFor={`${f}-how`}>Runs on</label>
          <select id={`${f}-how`} value={how} onChange={(e) => setHow(e.target.value === 'interval' ? 'interval' : 'cron')}>
            <option value="cron">A cron schedule</option>
            <option value="interval">A fixed interval</option>
          </select>
        </div>
        {how === 'cron'
          ? field('cron', 'Cron expression', cron, setCron, { required: true, hint: 'minute hour day-of-month month day-of-week, e.g. "0 6 * * MON", or @daily, @weekly.' })
          : field('every', 'Every (hours)', everyHours, setEveryHours, { type: 'number', step: 'any', required: true })}
        {field('tz', 'Time zone', timezone, setTimezone, { required: true })}
        {field('window', 'Window (days of traffic before each run)', windowDays, setWindowDays, { type: 'number', required: true })}
        <div>
          <label htmlFor={`${f}-overlap`}>If the previous run is still going</label>
          <select id={`${f}-overlap`} value={overlap} onChange={(e) => setOverlap(OVERLAPS.find((o) => o === e.target.value) ?? 'skip')}>
            {OVERLAPS.map((o) => (
              <option key={o} value={o}>
                {o.replace('_', ' ')}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label className="inline">
            <input type="checkbox" checked={paused} onChange={(e) => setPaused(e.target.checked)} /> Create it paused
          </label>
        </div>
      </fieldset>
      <fieldset>
        <legend>Policy: when it alerts, and what it does</legend>
        {kind === 'bias_reaudit' && (
          <>
            {field('fpr', 'Largest FPR increase on a slice', maxFprIncrease, setMaxFprIncrease, { type: 'number', step: 'any', required: true })}
            {field('gap', 'Largest fairness gap', maxFairnessGap, setMaxFairnessGap, { type: 'number', step: 'any', required: true })}
            {field('support', 'Fewest examples to judge a slice', minSupport, setMinSupport, { type: 'number' })}
          </>
        )}
        {field('psi', 'Largest PSI (population shift)', maxPsi, setMaxPsi, { type: 'number', step: 'any' })}
        {kind === 'drift_monitor' && field('rise', 'Largest rise in the override rate (optional)', maxOverrideRise, setMaxOverrideRise, { type: 'number', step: 'any' })}
        {field('attrs', 'Slice attributes (comma-separated, optional)', attributes, setAttributes, { hint: 'e.g. sender_tld, format; default: all of the pre-launch audit.' })}
        <div>
          <label className="inline">
            <input type="checkbox" checked={startRetraining} onChange={(e) => setStartRetraining(e.target.checked)} /> Start a retraining run when it alerts
          </label>
        </div>
        {kind === 'bias_reaudit' && (
          <div>
            <label className="inline">
              <input type="checkbox" checked={proposeRollback} onChange={(e) => setProposeRollback(e.target.checked)} /> Propose a rollback to an approver when it alerts
            </label>
          </div>
        )}
        {field('hook', 'Alert webhook URL (optional)', webhookUrl, setWebhookUrl, { type: 'url' })}
        {field('secret', 'Webhook secret variable (optional)', secretEnv, setSecretEnv, { hint: 'The worker environment variable holding the signing secret: RETRAIN_WEBHOOK_SECRET_…' })}
      </fieldset>
      <button type="submit" disabled={create.isPending || model === ''}>
        {create.isPending ? 'Scheduling…' : 'Schedule audit'}
      </button>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </form>
  );
}
