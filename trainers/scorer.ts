// The serving path's scorer: deserialised artifacts cached by content, scored in batches. The API gets
// one injected (api/ never imports trainers/), so a deployment can swap in a remote model server.
import { deserializeArtifact, predictBatch, type HashedLogRegArtifact } from './hashedLogReg';

/** Most recently used last; a 2^18-bucket model is 1 MiB, so a few stay warm. */
export function createScorer(cacheSize = 8) {
  const cache = new Map<string, HashedLogRegArtifact>();
  return {
    async score(artifactHash: string, load: () => Promise<Uint8Array>, inputs: Record<string, string>[]): Promise<Float64Array> {
      let artifact = cache.get(artifactHash);
      if (artifact) {
        cache.delete(artifactHash);
      } else {
        artifact = deserializeArtifact(await load());
      }
      cache.set(artifactHash, artifact);
      while (cache.size > cacheSize) cache.delete(cache.keys().next().value!);
      return predictBatch(artifact, inputs);
    },
  };
}
