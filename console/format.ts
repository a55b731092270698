// Small formatting shared by the pages: numbers, shares, intervals and times as a person reads them.
export const fmt = (x: number | null | undefined, digits = 3): string => (x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits));
export const pct = (x: number | null | undefined, digits = 1): string => (x === null || x === undefined || !Number.isFinite(x) ? '—' : `${(x * 100).toFixed(digits)}%`);
export const interval = (lower: number | null | undefined, upper: number | null | undefined, digits = 3): string => `[${fmt(lower, digits)}, ${fmt(upper, digits)}]`;
export const when = (d: Date | string | null | undefined): string => (d === null || d === undefined ? '—' : new Date(d).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' }));
export const shortHash = (h: string | null | undefined): string => (h ? h.replace(/^sha256:/, '').slice(0, 12) : '—');
