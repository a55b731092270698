// The console's entry: signs a person in, then serves the pages over the typed tRPC client.
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { currentToken, resumeSession, SessionProvider, SignIn, type Identity } from './session';
import { errorCode, makeClient, TRPCProvider } from './trpc';
import './styles.css';

function Root() {
  const [identity, setIdentity] = useState<Identity | null | undefined>(undefined);
  const [queryClient] = useState(
    () =>
      new QueryClient({
        defaultOptions: {
          // A refusal (bad input, no permission, not found) will not change by asking again.
          queries: { retry: (count, err) => count < 2 && !['UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND', 'BAD_REQUEST'].includes(errorCode(err) ?? ''), staleTime: 2_000 },
        },
      }),
  );
  const [trpcClient] = useState(() => makeClient(currentToken));
  useEffect(() => {
    void resumeSession().then(setIdentity);
  }, []);
  if (identity === undefined) return <p className="loading">Loading…</p>;
  if (identity === null) return <SignIn onSignedIn={setIdentity} />;
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        <SessionProvider
          identity={identity}
          onSignOut={() => {
            queryClient.clear();
            setIdentity(null);
          }}
        >
          <App />
        </SessionProvider>
      </TRPCProvider>
    </QueryClientProvider>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Root />
  </StrictMode>,
);
