// Audits (a helper fills this page in).
export function AuditsPage() {
  return (
    <section>
      <h1>Audits</h1>
    </section>
  );
}
