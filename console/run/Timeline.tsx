// A run's steps as a timeline: done, current, pending (and the branch not taken), with what the current
// step is waiting on: the annotation batch, the saturation verdict, a trainer no worker serves.
import { when } from '../format';
import { stepStates, type Run } from './steps';

const label = (step: string) => step.replace(/_/g, ' ');

export function Timeline({ run, hadRollout }: { run: Run; hadRollout: boolean | null }) {
  const steps = stepStates(run, hadRollout);
  const live = run.live;
  const waiting = run.waitingForTrainer;
  return (
    <>
      <ol className="timeline" aria-label="Steps">
        {steps.map(({ step, state }) => (
          <li key={step} className={state.replace(' ', '-')} aria-current={state === 'current' ? 'step' : undefined}>
            {label(step)} <span className="step-state">({state})</span>
          </li>
        ))}
      </ol>
      {waiting && (
        <p className="panel" role="status">
          Waiting for trainer <strong>{waiting.trainer}</strong>: its {waiting.activity} job on queue <code>{waiting.taskQueue}</code> has no worker taking it (since {when(waiting.since)}; it
          fails after {waiting.timeToStartSeconds} s unstarted). Start a worker for that queue.
        </p>
      )}
      {live?.annotation && (
        <p className="hint">
          Annotation batch <code>{live.annotation.batchId}</code>: {live.annotation.tasks} tasks
          {live.annotation.aggregated !== null ? `, ${live.annotation.aggregated} labels aggregated` : ', labels not yet aggregated'}.
        </p>
      )}
      {live?.saturation && (
        <p className="hint">
          Saturation check: <strong>{live.saturation.verdict}</strong>. {live.saturation.recommendation}
        </p>
      )}
    </>
  );
}
