// Prometheus metrics. Each process owns a Registry passed to components, so tests can create
// isolated ones and two components in one process never collide on a global registry.

import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export { Registry } from "prom-client";

export interface WebhookMetrics {
  requests: Counter<"decision">;
  denials: Counter<"reason">;
  latency: Histogram<"decision">;
  eventsDropped: Counter<"bus">;
}

export function createRegistry(withDefaults: boolean): Registry {
  const registry = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: "hami_" });
  return registry;
}

export function webhookMetrics(registry: Registry): WebhookMetrics {
  return {
    requests: new Counter({
      name: "hami_webhook_requests_total",
      help: "Admission requests answered, by decision (mutate, skip, deny, error)",
      labelNames: ["decision"],
      registers: [registry],
    }),
    denials: new Counter({
      name: "hami_webhook_denials_total",
      help: "Admission requests denied, by reason",
      labelNames: ["reason"],
      registers: [registry],
    }),
    latency: new Histogram({
      name: "hami_webhook_latency_seconds",
      help: "Time to answer an admission request",
      labelNames: ["decision"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    eventsDropped: new Counter({
      name: "hami_events_dropped_total",
      help: "Events dropped because the publish buffer was full",
      labelNames: ["bus"],
      registers: [registry],
    }),
  };
}
