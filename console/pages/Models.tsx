// Models (a helper fills this page in).
export function ModelsPage() {
  return (
    <section>
      <h1>Models</h1>
    </section>
  );
}
