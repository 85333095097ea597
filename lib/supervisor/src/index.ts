// Supervised long-running work: restart with backoff, stop on abort.
export {
  Supervisor,
  sleep,
  untilAborted,
  type Runnable,
  type SupervisorEvents,
  type SupervisorOptions,
} from './supervisor.js';
