// kube-scheduler for tests: src/local (shared with the local mode).
export {
  SCHEDULER_NAME,
  schedulerConfig,
  startScheduler,
  type RunningScheduler,
} from "../../src/local/index.js";
