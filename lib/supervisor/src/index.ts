// Supervised long-running work: a tree of named runnables, restarted with backoff, stopped on abort.
export {
  Supervisor,
  sleep,
  untilAborted,
  type Runnable,
  type RunnableContext,
  type RunnableState,
  type RunOptions,
  type SupervisorEvents,
  type SupervisorOptions,
} from './supervisor.js';
