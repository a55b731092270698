// The annotator's workspace: the task they hold (or the next one), labelled with a click or a key,
// one after another, until nothing waits for them. `next` is idempotent (asking again returns the task
// held), so a reload, a second tab or a retry after an error never loses or doubles a task.
import { useMutation } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { Workspace, Progress } from '../annotation/Workspace';
import { Loading } from '../components/states';
import { errorMessage, useTRPC, type Outputs } from '../trpc';

type Next = Outputs['annotation']['next'];

export function AnnotatePage() {
  const trpc = useTRPC();
  const next = useMutation(trpc.annotation.next.mutationOptions());
  const submit = useMutation(trpc.annotation.submit.mutationOptions());
  const skip = useMutation(trpc.annotation.skip.mutationOptions());
  // The last answer of `next` is kept while the following one loads, so the page does not flash.
  const [current, setCurrent] = useState<Next | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [notice, setNotice] = useState<{ text: string; error: boolean } | null>(null);
  const [mine, setMine] = useState(0);
  // The guidelines version of the last task shown: a new version is pointed out (and opened).
  const shownSpec = useRef<number | null>(null);
  const [specChanged, setSpecChanged] = useState(false);

  const { mutate: pull } = next;
  const fetchNext = () =>
    pull(
      {},
      {
        onSuccess: (answer) => {
          setLoadError(null);
          if (answer.task) {
            const before = shownSpec.current;
            setSpecChanged(before !== null && before !== answer.task.spec.version);
            shownSpec.current = answer.task.spec.version;
          }
          setCurrent(answer);
        },
        onError: (err) => setLoadError(errorMessage(err)),
      },
    );
  const fetchNextRef = useRef(fetchNext);
  fetchNextRef.current = fetchNext;
  useEffect(() => fetchNextRef.current(), []);

  const task = current?.task ?? null;
  const busy = next.isPending || submit.isPending || skip.isPending;

  const label = (i: number) => {
    if (!task || busy) return;
    const name = task.spec.labels[i];
    submit.mutate(
      { taskId: task.taskId, label: i, specVersion: task.spec.version },
      {
        onSuccess: (r) => {
          if (!r.duplicate) setMine((n) => n + 1);
          setNotice({ text: `Task ${task.taskId} labelled ${name}.`, error: false });
        },
        onError: (err) => setNotice({ text: `Task ${task.taskId} was not labelled: ${errorMessage(err)}`, error: true }),
        onSettled: fetchNext,
      },
    );
  };
  const skipTask = (reason: string) => {
    if (!task || busy) return;
    skip.mutate(
      { taskId: task.taskId, ...(reason ? { reason } : {}) },
      {
        onSuccess: () => setNotice({ text: `Task ${task.taskId} skipped; it goes to someone else.`, error: false }),
        onError: (err) => setNotice({ text: `Task ${task.taskId} was not skipped: ${errorMessage(err)}`, error: true }),
        onSettled: fetchNext,
      },
    );
  };

  return (
    <section>
      <h1>Label</h1>
      <p className={notice?.error ? 'error' : 'hint'} role="status" aria-live="polite">
        {notice?.text}
      </p>
      {loadError && (
        <div className="state error" role="alert">
          Could not fetch your next task: {loadError}{' '}
          <button type="button" onClick={fetchNext}>
            Try again
          </button>
        </div>
      )}
      {current === null ? (
        !loadError && <Loading what="your next task" />
      ) : task ? (
        <>
          <Progress progress={current.progress} mine={mine} />
          <Workspace task={task} busy={busy} guidelinesChanged={specChanged} onLabel={label} onSkip={skipTask} />
        </>
      ) : (
        <NothingToLabel mine={mine} busy={busy} onCheck={fetchNext} />
      )}
    </section>
  );
}

function NothingToLabel({ mine, busy, onCheck }: { mine: number; busy: boolean; onCheck(): void }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  return (
    <div className="state empty done">
      <h2 ref={heading} tabIndex={-1}>
        Nothing to label
      </h2>
      <p>
        No task waits for you: every item open to you is labelled, held by someone else, or its batch has closed.
        {mine > 0 && ` You labelled ${mine} ${mine === 1 ? 'task' : 'tasks'} in this session.`}
      </p>
      <button type="button" onClick={onCheck} disabled={busy}>
        Check for new tasks
      </button>
    </div>
  );
}
