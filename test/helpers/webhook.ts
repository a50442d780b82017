// Builds the webhook app with real parts (memory bus, isolated metrics registry, silent logger).

import { join } from "node:path";
import { pino } from "pino";
import { MemoryBus } from "../../src/events/index.js";
import { createRegistry, webhookMetrics } from "../../src/telemetry/index.js";
import { createWebhookApp, serveHttps, type AppDeps } from "../../src/webhook/index.js";
import { policy } from "./pods.js";

export function webhookApp(overrides: Partial<AppDeps> = {}) {
  const registry = createRegistry(false);
  const bus = overrides.bus instanceof MemoryBus ? overrides.bus : new MemoryBus();
  const deps: AppDeps = {
    policy: () => policy(),
    log: pino({ level: "silent" }),
    metrics: webhookMetrics(registry),
    registry,
    clock: () => new Date("2026-01-01T00:00:00Z"),
    ready: () => true,
    ...overrides,
    bus,
  };
  return { app: createWebhookApp(deps), bus, registry };
}

/** The webhook app served over real HTTPS on a free loopback port, with tls.crt/tls.key from dir. */
export async function serveWebhook(dir: string, overrides: Partial<AppDeps> = {}) {
  const { app, bus } = webhookApp(overrides);
  const server = await serveHttps({
    handler: app,
    host: "127.0.0.1",
    port: 0,
    certFile: join(dir, "tls.crt"),
    keyFile: join(dir, "tls.key"),
    log: pino({ level: "silent" }),
    certPollMs: 60_000,
  });
  return { server, bus };
}
