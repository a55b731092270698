// Annotation (a helper fills this page in).
export function AnnotationOpsPage() {
  return (
    <section>
      <h1>Annotation</h1>
    </section>
  );
}
