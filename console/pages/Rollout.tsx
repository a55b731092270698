// Rollout (a helper fills this page in).
export function RolloutPage() {
  return (
    <section>
      <h1>Rollout</h1>
    </section>
  );
}
