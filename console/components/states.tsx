// Loading, empty and error states, designed once and used by every page.
import type { ReactNode } from 'react';
import { errorMessage } from '../trpc';

export function Loading({ what }: { what: string }) {
  return (
    <p className="state loading" role="status">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="state empty">{children}</p>;
}

export function ErrorState({ error, what }: { error: unknown; what: string }) {
  return (
    <p className="state error" role="alert">
      Could not load {what}: {errorMessage(error)}
    </p>
  );
}

/** A query's three states and its data: `<Query q={q} what="runs">{(runs) => …}</Query>`. */
export function Query<T>({ q, what, children }: { q: { isPending: boolean; isError: boolean; error: unknown; data: T | undefined }; what: string; children: (data: T) => ReactNode }) {
  if (q.isError) return <ErrorState error={q.error} what={what} />;
  if (q.isPending || q.data === undefined) return <Loading what={what} />;
  return <>{children(q.data)}</>;
}
