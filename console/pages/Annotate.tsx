// Label (a helper fills this page in).
export function AnnotatePage() {
  return (
    <section>
      <h1>Label</h1>
    </section>
  );
}
