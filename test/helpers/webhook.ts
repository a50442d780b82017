// Builds the webhook app with real parts (memory bus, isolated metrics registry, silent logger).

import { pino } from "pino";
import { MemoryBus } from "../../src/events/index.js";
import { createRegistry, webhookMetrics } from "../../src/telemetry/index.js";
import { createWebhookApp, type AppDeps } from "../../src/webhook/index.js";
import { policy } from "./pods.js";

export function webhookApp(overrides: Partial<AppDeps> = {}) {
  const registry = createRegistry(false);
  const bus = new MemoryBus();
  const deps: AppDeps = {
    policy: () => policy(),
    log: pino({ level: "silent" }),
    metrics: webhookMetrics(registry),
    registry,
    bus,
    clock: () => new Date("2026-01-01T00:00:00Z"),
    ready: () => true,
    ...overrides,
  };
  return { app: createWebhookApp(deps), bus, registry };
}
