// Where alerts may go, and which secret may sign them: the webhook rules that audits.create applies to
// an operator's input and the alert activity applies again at every delivery (a schedule stored before a
// rule changed, an allowlist entry removed since, a name that now resolves elsewhere).
//
// - secretEnv: only variables named RETRAIN_WEBHOOK_SECRET_<NAME> (or the default
//   RETRAIN_ALERT_WEBHOOK_SECRET). Any other name would let whoever writes a policy have the worker sign
//   alerts with, say, DATABASE_URL, and then test guesses of it offline against the signatures.
// - url: http or https, to a public address. A destination that is not public (private, loopback,
//   link-local, unique-local, CGNAT, multicast, unspecified, reserved, documentation ranges, IPv4 inside
//   IPv6 of those, or a name resolving to any of them) is refused unless an admin listed it in
//   webhook_destinations: by name, by address or by CIDR range, for one port or any. Every address a
//   name resolves to must pass; the sender then connects to the address it checked (no second lookup).
//
// The rule only: pure, given the allowlist's entries (db/webhooks.ts) and a resolver the caller brings
// (the API's and the worker's resolve with the system's DNS; tests stand in for it).
import { BlockList, isIP } from 'node:net';

// ---- secretEnv -------------------------------------------------------------------------------------------

/** The environment variable holding the signing secret when the webhook names none. */
export const DEFAULT_ALERT_SECRET_ENV = 'RETRAIN_ALERT_WEBHOOK_SECRET';
/** A webhook's secretEnv must start with this (or be DEFAULT_ALERT_SECRET_ENV). */
export const WEBHOOK_SECRET_ENV_PREFIX = 'RETRAIN_WEBHOOK_SECRET_';

/** Null when the name may hold a webhook secret; otherwise why not, for the operator. */
export function secretEnvRefusal(name: string): string | null {
  if (name === DEFAULT_ALERT_SECRET_ENV) return null;
  if (name.length > WEBHOOK_SECRET_ENV_PREFIX.length && name.startsWith(WEBHOOK_SECRET_ENV_PREFIX) && /^[A-Z0-9_]+$/.test(name)) return null;
  return (
    `secretEnv '${name}' is not a webhook secret variable: name one starting with ${WEBHOOK_SECRET_ENV_PREFIX} ` +
    `(e.g. ${WEBHOOK_SECRET_ENV_PREFIX}TEAM), or leave it out to use ${DEFAULT_ALERT_SECRET_ENV}`
  );
}

// ---- addresses ---------------------------------------------------------------------------------------------

type Family = 'ipv4' | 'ipv6';
const familyOf = (ip: string): Family => (isIP(ip) === 6 ? 'ipv6' : 'ipv4');

/** Ranges that are not a public destination, each with the name an operator reads in a refusal. */
const NOT_PUBLIC: [network: string, prefix: number, family: Family, what: string][] = [
  ['0.0.0.0', 8, 'ipv4', 'unspecified ("this network")'],
  ['10.0.0.0', 8, 'ipv4', 'private'],
  ['100.64.0.0', 10, 'ipv4', 'shared (CGNAT)'],
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  ['169.254.0.0', 16, 'ipv4', 'link-local'],
  ['172.16.0.0', 12, 'ipv4', 'private'],
  ['192.0.0.0', 24, 'ipv4', 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'ipv4', 'documentation'],
  ['192.88.99.0', 24, 'ipv4', '6to4 relay'],
  ['192.168.0.0', 16, 'ipv4', 'private'],
  ['198.18.0.0', 15, 'ipv4', 'benchmarking'],
  ['198.51.100.0', 24, 'ipv4', 'documentation'],
  ['203.0.113.0', 24, 'ipv4', 'documentation'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['240.0.0.0', 4, 'ipv4', 'reserved or broadcast'],
  ['::', 128, 'ipv6', 'unspecified'],
  ['::1', 128, 'ipv6', 'loopback'],
  ['::', 96, 'ipv6', 'IPv4-compatible (deprecated)'],
  ['64:ff9b:1::', 48, 'ipv6', 'local-use NAT64'],
  ['100::', 64, 'ipv6', 'discard-only'],
  ['2001::', 23, 'ipv6', 'IETF protocol assignments (Teredo and others)'],
  ['2001:db8::', 32, 'ipv6', 'documentation'],
  ['fc00::', 7, 'ipv6', 'unique-local'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['fec0::', 10, 'ipv6', 'site-local'],
  ['ff00::', 8, 'ipv6', 'multicast'],
];
const NOT_PUBLIC_LISTS = NOT_PUBLIC.map(([network, prefix, family, what]) => {
  const list = new BlockList();
  list.addSubnet(network, prefix, family);
  return { list, family, what };
});

/** The eight 16-bit words of an IPv6 address (isIP(ip) === 6). */
function ipv6Words(ip: string): number[] {
  let s = ip.toLowerCase().replace(/%.*$/, '');
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    s = `${s.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const headWords = head ? head.split(':') : [];
  const tailWords = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array<string>(8 - headWords.length - tailWords.length).fill('0');
  return [...headWords, ...fill, ...tailWords].map((w) => parseInt(w, 16));
}

/** The IPv4 address an IPv6 address carries (mapped, translated, NAT64 well-known prefix, 6to4), if any. */
export function embeddedIPv4(ip: string): string | null {
  if (isIP(ip) !== 6) return null;
  const w = ipv6Words(ip);
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const zero = (from: number, to: number) => w.slice(from, to).every((x) => x === 0);
  if (zero(0, 5) && w[5] === 0xffff) return v4(w[6]!, w[7]!); // ::ffff:a.b.c.d, mapped
  if (zero(0, 4) && w[4] === 0xffff && w[5] === 0) return v4(w[6]!, w[7]!); // ::ffff:0:a.b.c.d, translated
  if (w[0] === 0x64 && w[1] === 0xff9b && zero(2, 6)) return v4(w[6]!, w[7]!); // 64:ff9b::a.b.c.d, NAT64
  if (w[0] === 0x2002) return v4(w[1]!, w[2]!); // 2002:aabb:ccdd::, 6to4
  return null;
}

/**
 * Null for a public address; otherwise what it is ('loopback', 'private', ...). An IPv6 address that
 * carries an IPv4 address is judged by that address too.
 */
export function nonPublicKind(ip: string): string | null {
  if (!isIP(ip)) throw new TypeError(`not an IP address: ${ip}`);
  const inner = embeddedIPv4(ip);
  if (inner !== null) {
    const kind = nonPublicKind(inner);
    if (kind !== null) return `${kind} (IPv4 ${inner} inside IPv6)`;
  }
  const family = familyOf(ip);
  const address = ip.replace(/%.*$/, '');
  return NOT_PUBLIC_LISTS.find((r) => r.family === family && r.list.check(address, family))?.what ?? null;
}

// ---- allowlist entries ----------------------------------------------------------------------------------

/** An allowlist entry's host as an admin may write it: a DNS name, an IP address, or a CIDR range. */
export type DestinationHost = { kind: 'name'; host: string } | { kind: 'address'; host: string } | { kind: 'range'; host: string };

/** The canonical form of an IP address (IPv6 compressed, lower-case; IPv4 dotted decimal). */
function canonicalIp(ip: string): string {
  return isIP(ip) === 6 ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : new URL(`http://${ip}/`).hostname;
}

/**
 * Parses an allowlist host: `alerts.internal`, `10.1.2.3`, `[fd00::1]` or `fd00::1`, `10.0.0.0/8`,
 * `fd00::/8`. Returns the canonical form, or throws a TypeError saying what is wrong.
 */
export function parseDestinationHost(raw: string): DestinationHost {
  const text = raw.trim();
  const range = /^\[?([^\]/]+)\]?\/(\d{1,3})$/.exec(text);
  if (range) {
    const [, ip, bits] = range as unknown as [string, string, string];
    const version = isIP(ip);
    const prefix = Number(bits);
    if (!version) throw new TypeError(`'${raw}' is not a CIDR range: ${ip} is not an IP address`);
    if (prefix > (version === 4 ? 32 : 128)) throw new TypeError(`'${raw}' is not a CIDR range: /${prefix} is too long for IPv${version}`);
    return { kind: 'range', host: `${canonicalIp(ip)}/${prefix}` };
  }
  const bare = text.replace(/^\[(.*)\]$/, '$1');
  if (isIP(bare)) return { kind: 'address', host: canonicalIp(bare) };
  if (!/^[A-Za-z0-9._-]+\.?$/.test(bare) || bare.startsWith('.') || bare.includes('..') || bare.length > 253) {
    throw new TypeError(`'${raw}' is neither a host name, an IP address nor a CIDR range`);
  }
  // As URLs spell it: lower case; a number-only name such as 2130706433 is an IPv4 address there too.
  const host = new URL(`http://${bare}/`).hostname.replace(/\.$/, '');
  return isIP(host) ? { kind: 'address', host } : { kind: 'name', host };
}

// ---- the rule --------------------------------------------------------------------------------------------

/** An allowlist entry as stored: a canonical host (parseDestinationHost), a port (0 = any). */
export interface AllowlistEntry {
  host: string;
  port: number;
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}
/** Resolves a host name to every address it has (the system resolver, as connections would use). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

/** How long a destination check waits for DNS. */
export const RESOLVE_TIMEOUT_MS = 5000;

export type DestinationVerdict =
  /** Every address is public or listed; `addresses` are the ones checked, for the sender to connect to. */
  | { verdict: 'allowed'; url: URL; addresses: ResolvedAddress[]; listed: boolean }
  /** bad_url: not an http(s) URL with a host; not_allowed: a destination that is not public and not listed. */
  | { verdict: 'refused'; code: 'bad_url' | 'not_allowed'; reason: string }
  /** The name does not resolve now (or DNS failed): nothing to connect to, nothing known to refuse. */
  | { verdict: 'unresolved'; url: URL; reason: string };

/** The webhook URL, parsed, with the port a connection would use; throws a TypeError when it is unusable. */
export function webhookTarget(raw: string): { url: URL; host: string; port: number } {
  const url = new URL(raw);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`unsupported protocol ${url.protocol} (http or https only)`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (!host) throw new TypeError('no host');
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { url, host, port };
}

/**
 * Judges a webhook URL against the rule and the admin's allowlist: resolves its host (unless it is an
 * address), and allows it only when every address is public or covered by an entry for this port. A
 * host listed by name is allowed whatever it resolves to (the admin vouched for the name).
 */
export async function checkWebhookDestination(
  raw: string,
  allowlist: readonly AllowlistEntry[],
  opts: { resolve: Resolver; timeoutMs?: number },
): Promise<DestinationVerdict> {
  let target: ReturnType<typeof webhookTarget>;
  try {
    target = webhookTarget(raw);
  } catch (err) {
    return { verdict: 'refused', code: 'bad_url', reason: `webhook URL is not usable: ${err instanceof Error ? err.message : String(err)}` };
  }
  const { url, host, port } = target;
  const entries = allowlist.filter((e) => e.port === 0 || e.port === port);
  const listedByName = !isIP(host) && entries.some((e) => e.host === host);

  let addresses: ResolvedAddress[];
  if (isIP(host)) {
    addresses = [{ address: canonicalIp(host), family: isIP(host) === 6 ? 6 : 4 }];
  } else {
    const resolve = opts.resolve;
    const timeoutMs = opts.timeoutMs ?? RESOLVE_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    try {
      addresses = await Promise.race([
        resolve(host),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (err) {
      const why = err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : String(err);
      return { verdict: 'unresolved', url, reason: `${host} does not resolve (${why})` };
    } finally {
      clearTimeout(timer);
    }
    if (addresses.length === 0) return { verdict: 'unresolved', url, reason: `${host} has no addresses` };
  }
  if (listedByName) return { verdict: 'allowed', url, addresses, listed: true };

  const ranges = entries
    .filter((e) => isIP(e.host) || e.host.includes('/'))
    .map((e) => {
      const list = new BlockList();
      const [network, bits] = e.host.split('/') as [string, string | undefined];
      const family = familyOf(network);
      if (bits === undefined) list.addAddress(network, family);
      else list.addSubnet(network, Number(bits), family);
      return { list, family };
    });
  const covered = (ip: string) => {
    const bare = ip.replace(/%.*$/, '');
    const candidates = [bare, embeddedIPv4(bare)].filter((a): a is string => a !== null);
    return candidates.some((a) => ranges.some((r) => r.family === familyOf(a) && r.list.check(a, r.family)));
  };
  let listed = false;
  for (const { address } of addresses) {
    if (covered(address)) {
      listed = true;
      continue;
    }
    const kind = nonPublicKind(address);
    if (kind !== null) {
      const via = address === host ? '' : ` (${host} resolves to ${address})`;
      return {
        verdict: 'refused',
        code: 'not_allowed',
        reason:
          `webhook destination ${host}:${port} is a ${kind} address${via} and is not on the webhook allowlist; ` +
          `an admin may allow it (POST /api/webhooks/destinations)`,
      };
    }
  }
  return { verdict: 'allowed', url, addresses, listed };
}
