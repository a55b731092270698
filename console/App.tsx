// The console's frame: who is signed in, the pages their role can use, and the routes.
import { Link, Redirect, Route, Switch, useLocation } from 'wouter';
import { useSession, type RoleName } from './session';
import { AnnotatePage } from './pages/Annotate';
import { AnnotationOpsPage } from './pages/AnnotationOps';
import { AuditPage } from './pages/Audit';
import { AuditsPage } from './pages/Audits';
import { ModelPage } from './pages/Model';
import { ModelsPage } from './pages/Models';
import { RolloutPage } from './pages/Rollout';
import { RunPage } from './pages/Run';
import { RunsPage } from './pages/Runs';
import { PacketPage } from './packet/PacketPage';

/** The pages in the navigation, each offered only to a role that may read it. */
const NAV: { href: string; label: string; role: RoleName }[] = [
  { href: '/runs', label: 'Runs', role: 'viewer' },
  { href: '/models', label: 'Models', role: 'viewer' },
  { href: '/audits', label: 'Audits', role: 'viewer' },
  { href: '/annotation', label: 'Annotation', role: 'viewer' },
  { href: '/annotate', label: 'Label', role: 'annotator' },
];

function Nav() {
  const { identity, can, signOut } = useSession();
  const [location] = useLocation();
  return (
    <header className="top">
      <nav aria-label="Main">
        <span className="brand">retrain</span>
        <ul>
          {NAV.filter((n) => can(n.role)).map((n) => (
            <li key={n.href}>
              <Link href={n.href} aria-current={location === n.href || location.startsWith(`${n.href}/`) ? 'page' : undefined}>
                {n.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <div className="who" aria-label="Signed in">
        <span>
          Signed in as <strong>{identity.subject}</strong> <span className="role">({identity.role})</span>
        </span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </div>
    </header>
  );
}

function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        No page here. <Link href="/">Go to the start page</Link>.
      </p>
    </section>
  );
}

export function App() {
  const { can } = useSession();
  const home = can('viewer') ? '/runs' : can('annotator') ? '/annotate' : null;
  return (
    <>
      <Nav />
      <main>
        <Switch>
          <Route path="/">{home ? <Redirect to={home} replace /> : <NoPages />}</Route>
          <Route path="/runs" component={RunsPage} />
          <Route path="/runs/:runId/rollout" component={RolloutPage} />
          <Route path="/runs/:runId/packet" component={PacketPage} />
          <Route path="/runs/:runId" component={RunPage} />
          <Route path="/models" component={ModelsPage} />
          <Route path="/models/:name" component={ModelPage} />
          <Route path="/audits" component={AuditsPage} />
          <Route path="/audits/:scheduleId" component={AuditPage} />
          <Route path="/annotate" component={AnnotatePage} />
          <Route path="/annotation" component={AnnotationOpsPage} />
          <Route component={NotFound} />
        </Switch>
      </main>
    </>
  );
}

function NoPages() {
  const { identity } = useSession();
  return (
    <section>
      <h1>Nothing to show</h1>
      <p>
        The role <strong>{identity.role}</strong> has no pages in the console (it is for machines: ingest and trainers).
      </p>
    </section>
  );
}
