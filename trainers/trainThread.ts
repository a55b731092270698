// Runs in a worker thread of trainers/threadPool: trains one model and hands back its serialised artifact.
import { serializeArtifact, trainHashedLogReg, type LabelledInput, type TrainerParams } from './hashedLogReg';

export default async function train(job: { examples: LabelledInput[]; params: Partial<TrainerParams> }): Promise<Uint8Array> {
  return serializeArtifact(await trainHashedLogReg(job.examples, job.params));
}
