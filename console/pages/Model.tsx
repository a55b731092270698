// Model (a helper fills this page in).
export function ModelPage() {
  return (
    <section>
      <h1>Model</h1>
    </section>
  );
}
