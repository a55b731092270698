// The worker's workflowsPath: every workflow type the control plane runs.
export { annotationBatch } from './annotationBatch';
export { biasReaudit } from './biasReaudit';
export { driftMonitor } from './driftMonitor';
export { retrainingRun } from './retrainingRun';
export { rollout } from './rollout';
export { saturationCheck } from './saturationCheck';
export { trainerCall } from './trainerCall';
