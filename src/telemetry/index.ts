// Public surface of telemetry: logger factory and metrics.

export { createLogger } from "./logger.js";
export type { Logger, LoggerOptions } from "./logger.js";
export {
  createRegistry,
  HAMI_ZONE,
  nodeMetrics,
  Registry,
  schedulerMetrics,
  webhookMetrics,
} from "./metrics.js";
export type {
  ClusterStat,
  DeviceStat,
  NodeMetrics,
  QuotaStat,
  SchedulerMetrics,
  WebhookMetrics,
} from "./metrics.js";
export { monitorMetrics } from "./monitor-metrics.js";
