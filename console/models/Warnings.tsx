// What will not work yet for a model (the `warnings` models.get and models.list answer with, e.g. no gate
// policy: runs are refused until one is set): an alert on the model's page, a marker in the models list.
/** The model page's alert: each warning in full (each says what to do). Nothing when there is none. */
export function ModelWarnings({ model, warnings }: { model: string; warnings: readonly string[] }) {
  if (warnings.length === 0) return null;
  return (
    <div className="panel" role="alert" aria-label={`Warnings for ${model}`}>
      {warnings.map((w) => (
        <p key={w}>
          <span className="badge warn">warning</span> {w}
        </p>
      ))}
    </div>
  );
}

/** The models list's marker: how many warnings, opening to their text. Nothing when there is none. */
export function WarningsMarker({ model, warnings }: { model: string; warnings: readonly string[] }) {
  if (warnings.length === 0) return null;
  return (
    <details aria-label={`Warnings for ${model}`}>
      <summary>
        <span className="badge warn">{warnings.length === 1 ? '1 warning' : `${warnings.length} warnings`}</span>
      </summary>
      <ul className="hint">
        {warnings.map((w) => (
          <li key={w}>{w}</li>
        ))}
      </ul>
    </details>
  );
}
