// Keyboard shortcuts of the labelling workspace: a key → an action, heard on the whole page except
// while a person types in a field (a reason, a filter), and never with a modifier held (the browser's
// and the screen reader's own shortcuts stay theirs).
import { useEffect, useRef } from 'react';

/** Whether a key pressed here is someone typing: text fields, selects and editable regions. */
export function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  return target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement;
}

/** Listens for `keys` (e.key, matched case-insensitively) while `enabled`; the latest actions are always used. */
export function useShortcuts(keys: Record<string, () => void>, enabled: boolean): void {
  const current = useRef(keys);
  current.current = keys;
  useEffect(() => {
    if (!enabled) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.repeat || e.altKey || e.ctrlKey || e.metaKey || isTyping(e.target)) return;
      const action = current.current[e.key.toLowerCase()];
      if (!action) return;
      e.preventDefault();
      action();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [enabled]);
}

/** The key that labels with the i-th label: 1–9 for the first nine, none after. */
export const labelKey = (i: number): string | null => (i < 9 ? String(i + 1) : null);

export const SKIP_KEY = 's';
