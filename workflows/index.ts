// The worker's workflowsPath: every workflow type the control plane runs.
export { retrainingRun } from './retrainingRun';
