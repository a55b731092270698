// The serving path's scorer: deserialised artifacts cached by content, scored in batches. The API gets
// one injected (api/ never imports trainers/), so a deployment can swap in a remote model server.
import { deserializeArtifact, featureKey, featuresFor, predictFromFeatures, type HashedLogRegArtifact, type SparseVector } from './hashedLogReg';

/** Most recently used last; a 2^18-bucket model is 1 MiB, so a few stay warm. */
export function createScorer(cacheSize = 8) {
  const cache = new Map<string, HashedLogRegArtifact>();
  // Featurising is most of the cost of a score. When the same request is scored twice (production and a
  // shadow version, same buckets and n-grams), the second reuses the first's features; keyed by the
  // input object, so they go when the request does.
  const features = new WeakMap<object, Map<string, SparseVector>>();
  return {
    async score(artifactHash: string, load: () => Promise<Uint8Array | null>, inputs: Record<string, string>[]): Promise<Float64Array> {
      let artifact = cache.get(artifactHash);
      if (artifact) {
        cache.delete(artifactHash);
      } else {
        const bytes = await load();
        // A version whose trainer keeps its artifact is served by the team's own system (resolve, then log predictions).
        if (!bytes) throw new Error(`artifact ${artifactHash} is kept by its trainer, not in the control plane's store: serve it from your own system and log predictions`);
        artifact = deserializeArtifact(bytes);
      }
      cache.set(artifactHash, artifact);
      while (cache.size > cacheSize) cache.delete(cache.keys().next().value!);
      const key = featureKey(artifact);
      const out = new Float64Array(inputs.length);
      for (let i = 0; i < inputs.length; i++) {
        const input = inputs[i]!;
        let byKey = features.get(input);
        if (!byKey) features.set(input, (byKey = new Map()));
        let x = byKey.get(key);
        if (!x) byKey.set(key, (x = featuresFor(artifact, input)));
        out[i] = predictFromFeatures(artifact, x);
      }
      return out;
    },
  };
}
