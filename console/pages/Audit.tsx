// Audit schedule (a helper fills this page in).
export function AuditPage() {
  return (
    <section>
      <h1>Audit schedule</h1>
    </section>
  );
}
