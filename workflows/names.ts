// Names the workflows share with whoever configures Temporal for them (temporal-config/, .ci/run through
// temporal-config/searchAttributes.ts): the task queues and the custom search attributes. Plain data with
// no imports, so workflow code and Node code can both take them from here.

/** Default task queue names: `control` runs workflows and light activities, `training` the built-in trainer. */
export const TASK_QUEUES = { control: 'control', training: 'training' } as const;
export type TaskQueueName = (typeof TASK_QUEUES)[keyof typeof TASK_QUEUES];

/** Custom search attributes, all of type Keyword: a run is listable by model, trigger and step. */
export const SEARCH_ATTRIBUTES = {
  model: 'RetrainModel',
  trigger: 'RetrainTrigger',
  step: 'RetrainStep',
} as const;
