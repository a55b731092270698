// Annotation, for operators (and viewers, read-only): a model's batches with status, progress and
// deadline, and the quality of its annotators: agreement with gold, drift, slice-bias flags.
import { useQuery } from '@tanstack/react-query';
import { useSearchParams } from 'wouter';
import { AnnotatorsTable, BatchesTable, GoldChart } from '../annotation/quality';
import { Empty, Query } from '../components/states';
import { interval, pct, fmt } from '../format';
import { useTRPC, type Outputs } from '../trpc';

type Batch = Outputs['annotation']['batches'][number];

export function AnnotationOpsPage() {
  const trpc = useTRPC();
  const [params, setParams] = useSearchParams();
  const models = useQuery(trpc.models.list.queryOptions());
  const model = params.get('model') || models.data?.[0]?.name;
  return (
    <section>
      <h1>Annotation</h1>
      <Query q={models} what="models">
        {(list) =>
          list.length === 0 ? (
            <Empty>No models registered yet.</Empty>
          ) : (
            <>
              <form className="filters" aria-label="Choose a model" onSubmit={(e) => e.preventDefault()}>
                <div>
                  <label htmlFor="a-model">Model</label>
                  <select
                    id="a-model"
                    value={model ?? ''}
                    onChange={(e) =>
                      setParams((p) => {
                        p.set('model', e.target.value);
                        return p;
                      })
                    }
                  >
                    {list.map((m) => (
                      <option key={m.name} value={m.name}>
                        {m.name}
                      </option>
                    ))}
                  </select>
                </div>
              </form>
              {model && <ModelAnnotation model={model} />}
            </>
          )
        }
      </Query>
    </section>
  );
}

function ModelAnnotation({ model }: { model: string }) {
  const trpc = useTRPC();
  const batches = useQuery({ ...trpc.annotation.batches.queryOptions({ model }), refetchInterval: 5_000 });
  const annotators = useQuery({ ...trpc.annotation.annotators.queryOptions({ model }), refetchInterval: 15_000 });
  return (
    <>
      <h2>Batches</h2>
      <Query q={batches} what="batches">
        {(rows) => <BatchesTable rows={rows} />}
      </Query>
      <Query q={batches} what="the latest batch">
        {(rows) => (rows[0] ? <LatestBatch batch={rows[0]} /> : null)}
      </Query>
      <h2>Pool-wide bias</h2>
      <PoolBias model={model} />
      <h2>Annotators</h2>
      <Query q={annotators} what="annotators">
        {(rows) =>
          rows.length === 0 ? (
            <Empty>No one has labelled this model’s items yet.</Empty>
          ) : (
            <>
              <AnnotatorsTable rows={rows} />
              <h3>Gold accuracy</h3>
              <GoldChart rows={rows} />
            </>
          )
        }
      </Query>
    </>
  );
}

/**
 * The whole pool against gold per slice value (a bias every annotator shares, which per-annotator
 * flags cannot see), and the newest batch's composition requirements.
 */
function PoolBias({ model }: { model: string }) {
  const trpc = useTRPC();
  const report = useQuery({ ...trpc.annotation.poolBias.queryOptions({ model }), refetchInterval: 15_000 });
  return (
    <Query q={report} what="the pool’s gold accuracy">
      {(r) =>
        r.goldLabels === 0 ? (
          <Empty>No gold labels yet.</Empty>
        ) : (
          <>
            <p>
              Pool accuracy on gold {pct(r.overall.estimate)} {interval(r.overall.lower, r.overall.upper)} over {r.goldLabels} gold labels on {r.goldItems} items.{' '}
              {r.slices.some((s) => s.flagged)
                ? `The pool disagrees with gold on ${r.slices
                    .filter((s) => s.flagged)
                    .map((s) => `${s.slice}=${s.value} (${pct(s.accuracy.estimate)} ${interval(s.accuracy.lower, s.accuracy.upper)} vs ${pct(s.rest.estimate)} elsewhere)`)
                    .join(', ')}.`
                : `No slice where the pool disagrees with gold (${r.tested} values tested).`}
              {r.composition.length > 0 &&
                ` Composition: ${r.composition.map((c) => `${c.slice}=${c.value} needs ${c.min} with ${c.attribute}=${c.equals}, has ${c.qualified}${c.met ? '' : ` (not met, ${c.openTasks} items wait)`}`).join('; ')}.`}
            </p>
          </>
        )
      }
    </Query>
  );
}

/** Agreement in the newest batch (its stored quality, once it has been aggregated). */
function LatestBatch({ batch }: { batch: Batch }) {
  const trpc = useTRPC();
  const detail = useQuery({ ...trpc.annotation.batch.queryOptions({ batchId: batch.batchId }), refetchInterval: 5_000 });
  const quality = detail.data?.estimate?.quality;
  const summary = detail.data?.estimate?.summary;
  if (!detail.data) return null;
  return (
    <>
      <h3>Newest batch: agreement</h3>
      <dl className="facts">
        <dt>Guidelines version</dt>
        <dd>{detail.data.specVersion}</dd>
        <dt>Annotators per item</dt>
        <dd>{detail.data.overlap}</dd>
        <dt>Agreement (mean Cohen’s κ)</dt>
        <dd>{quality ? fmt(quality.cohen_kappa_mean) : 'not aggregated yet'}</dd>
        <dt>Krippendorff’s α</dt>
        <dd>{quality ? fmt(quality.krippendorff_alpha) : 'not aggregated yet'}</dd>
        {summary && (
          <>
            <dt>Adjudicated items</dt>
            <dd>{summary.adjudicated}</dd>
          </>
        )}
        {detail.data.sla && (
          <>
            <dt>Closed by</dt>
            <dd>{detail.data.sla.closedBy}</dd>
            <dt>Backlog at close</dt>
            <dd>{detail.data.sla.backlogAtClose}</dd>
          </>
        )}
        {quality && (
          <>
            <dt>Class balance</dt>
            <dd>{quality.class_balance.map((c) => `${c.category} ${pct(c.share)}`).join(', ')}</dd>
          </>
        )}
      </dl>
    </>
  );
}
