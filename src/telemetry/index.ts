// Public surface of telemetry: logger factory and metrics.

export { createLogger } from "./logger.js";
export type { Logger, LoggerOptions } from "./logger.js";
export { createRegistry, Registry, schedulerMetrics, webhookMetrics } from "./metrics.js";
export type { DeviceStat, QuotaStat, SchedulerMetrics, WebhookMetrics } from "./metrics.js";
