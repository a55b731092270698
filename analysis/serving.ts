/**
 * Which version answers a request, and which versions carry the champion and challenger aliases,
 * from a model's routes. Pure, so the API's serving procedures only load routes and shape answers.
 */
import { routeFor } from './rollout';

export interface RoutedVersion {
  kind: 'production' | 'canary' | 'shadow';
  version: number;
  /** The canary's share of request keys (0..1); production and shadow routes carry 1. */
  weight: number;
}

/**
 * The route that answers a request key: the canary for its share of keys (sticky: the same key, a
 * user or a mailbox, always lands on the same side), production for the rest; the canary alone
 * when there is no production route. Null when neither route exists: nothing serves.
 */
export function answeringRoute<T extends { weight: number }>(
  production: T | undefined,
  canary: T | undefined,
  requestKey: string,
): { route: 'production' | 'canary'; version: T } | null {
  if (canary && (!production || routeFor(requestKey, canary.weight) === 'canary')) return { route: 'canary', version: canary };
  return production ? { route: 'production', version: production } : null;
}

/** champion: the production version; challenger: the one being rolled out (canary, else shadow, else the newest candidate). */
export function modelAliases(
  routes: readonly RoutedVersion[],
  versions: readonly { version: number; status: string }[],
): { champion: number | null; challenger: number | null } {
  const on = (kind: RoutedVersion['kind']) => routes.find((r) => r.kind === kind)?.version;
  return {
    champion: on('production') ?? null,
    challenger: on('canary') ?? on('shadow') ?? versions.filter((v) => v.status === 'candidate').at(-1)?.version ?? null,
  };
}
