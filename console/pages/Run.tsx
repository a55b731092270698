// Run (a helper fills this page in).
export function RunPage() {
  return (
    <section>
      <h1>Run</h1>
    </section>
  );
}
