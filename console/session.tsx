// Signing in with an API token. The token is held in memory, and in this tab's sessionStorage only when
// the person asks (it is gone when the tab closes); it never goes into a URL or a log.
import { createContext, useContext, useState, type FormEvent, type ReactNode } from 'react';
import { errorMessage, makeClient, type Outputs } from './trpc';

const STORAGE_KEY = 'retrain.token';

export type Identity = Outputs['session']['whoami'];
export type RoleName = Identity['role'];

interface SessionValue {
  identity: Identity;
  /** Whether the signed-in token may act as this role (admin may act as all). */
  can(role: RoleName): boolean;
  signOut(): void;
}

const SessionContext = createContext<SessionValue | null>(null);

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside a signed-in session');
  return value;
}

let heldToken: string | null = null;
/** The token every request carries (console/trpc makeClient reads it). */
export const currentToken = () => heldToken;

export function storedToken(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

/** Asks the server who a token belongs to; null when it is refused. */
async function whoami(token: string): Promise<Identity> {
  return makeClient(() => token).session.whoami.query();
}

export function SessionProvider({ identity, onSignOut, children }: { identity: Identity; onSignOut(): void; children: ReactNode }) {
  const value: SessionValue = {
    identity,
    can: (role) => identity.actsAs.includes(role),
    signOut: () => {
      heldToken = null;
      try {
        sessionStorage.removeItem(STORAGE_KEY);
      } catch {
        // storage unavailable: nothing was kept there
      }
      onSignOut();
    },
  };
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

/** Resumes a session kept in this tab, if any; resolves to null when there is none or it is no longer valid. */
export async function resumeSession(): Promise<Identity | null> {
  const token = storedToken();
  if (!token) return null;
  try {
    const identity = await whoami(token);
    heldToken = token;
    return identity;
  } catch {
    sessionStorage.removeItem(STORAGE_KEY);
    return null;
  }
}

export function SignIn({ onSignedIn }: { onSignedIn(identity: Identity): void }) {
  const [token, setToken] = useState('');
  const [remember, setRemember] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const identity = await whoami(token.trim());
      heldToken = token.trim();
      if (remember) sessionStorage.setItem(STORAGE_KEY, heldToken);
      onSignedIn(identity);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="signin">
      <h1>retrain console</h1>
      <form onSubmit={submit} aria-label="Sign in">
        <label htmlFor="token">API token</label>
        <input id="token" type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} required />
        <label className="inline">
          <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.target.checked)} /> Keep me signed in while this tab is open
        </label>
        <button type="submit" disabled={busy || token.trim() === ''}>
          Sign in
        </button>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <p className="hint">
          Ask an admin for a token (<code>retrain tokens create --subject you --role approver</code>, or admin.createToken). It is kept in this tab only, never in the address bar.
        </p>
      </form>
    </main>
  );
}
