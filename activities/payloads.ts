// What an activity hands back to a workflow is written into Temporal's history, where every payload
// counts against the event's size limit and against the history's. Anything that grows with the data
// (examples, slice values, annotators, measurements) stays in the database, where the activity stored
// it; the workflow gets counts, hashes, ids and these bounded lists: the worst items first, then a
// count of the rest.

/** Most items of one list in a workflow payload. */
export const MAX_PAYLOAD_ITEMS = 20;
/** Longest string in a workflow payload, in characters. */
export const MAX_PAYLOAD_TEXT = 1000;

/** `text`, cut at `max` characters with a note of how much was left out. */
export function boundedText(text: string, max = MAX_PAYLOAD_TEXT): string {
  if (text.length <= max) return text;
  const note = `… (${text.length - max} more characters)`;
  return `${text.slice(0, Math.max(0, max - note.length))}${note}`;
}

/** The first `max` items (put the ones a reader needs first) and how many were left out. */
export function boundedList<T>(items: readonly T[], max = MAX_PAYLOAD_ITEMS): { kept: T[]; omitted: number } {
  return { kept: items.slice(0, max), omitted: Math.max(0, items.length - max) };
}

/**
 * Reasons as a workflow carries them: each bounded, at most `max` of them, the last one saying how many
 * more there are and where they are kept.
 */
export function boundedReasons(reasons: readonly string[], keptIn: string, max = MAX_PAYLOAD_ITEMS): string[] {
  if (reasons.length <= max) return reasons.map((r) => boundedText(r));
  const kept = reasons.slice(0, max - 1).map((r) => boundedText(r));
  return [...kept, `… and ${reasons.length - kept.length} more (${keptIn})`];
}
