// `hami webhook`: the admission webhook process. Wires config, logger, metrics, event bus and the
// HTTPS server together; owns signal handling.

import { parseArgs } from "node:util";
import { mutatePolicy, readEnv } from "../config/index.js";
import { describeNats, NatsBus, type EventBus } from "../events/index.js";
import { createLogger, createRegistry, webhookMetrics } from "../telemetry/index.js";
import { createWebhookApp, serveHttps } from "../webhook/index.js";
import { liveConfig } from "./live-config.js";
import { NATS_FLAGS, NATS_USAGE, natsSettings } from "./nats-flags.js";
import { UsageError } from "./usage.js";

export const WEBHOOK_USAGE = `usage: hami webhook --tls-cert FILE --tls-key FILE [--config FILE] [--port 8443] [--host 0.0.0.0] [--nats URL]
  --config    the hami-scheduler-device config (bare YAML/JSON or the ConfigMap manifest); reloaded on change
  audit events go to NATS when a URL is given (none = no audit events)
  ${NATS_USAGE}`;

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: "string", default: "8443" },
      host: { type: "string", default: "0.0.0.0" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      config: { type: "string" },
      ...NATS_FLAGS,
    },
    strict: true,
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port=${values.port}: not a TCP port`);
  const certFile = values["tls-cert"];
  const keyFile = values["tls-key"];
  if (certFile === undefined || keyFile === undefined)
    throw new UsageError("--tls-cert and --tls-key are required (npm run certs writes local ones)");
  return {
    port,
    host: values.host,
    certFile,
    keyFile,
    configFile: values.config,
    natsFlags: values,
  };
}

export async function runWebhook(argv: string[], started: number): Promise<void> {
  const opts = options(argv);
  const env = readEnv();
  const log = createLogger({ level: env.logLevel }).child({ component: "webhook" });
  const config = await liveConfig(opts.configFile, log, (next) => {
    policy = mutatePolicy(next);
  });
  let policy = mutatePolicy(config.current());
  const registry = createRegistry(true);
  const metrics = webhookMetrics(registry);
  const nats = natsSettings(opts.natsFlags, env);
  const bus: EventBus | undefined = nats
    ? await NatsBus.start({
        nats,
        log,
        onDrop: () => {
          metrics.eventsDropped.inc({ bus: "nats" });
        },
      })
    : undefined;
  if (bus === undefined)
    log.warn("no NATS_URL or --nats: admission audit events are not published");
  let ready = false;
  const app = createWebhookApp({
    policy: () => policy,
    log,
    metrics,
    bus,
    registry,
    clock: () => new Date(),
    ready: () => ready,
  });
  const running = await serveHttps({
    handler: app,
    host: opts.host,
    port: opts.port,
    certFile: opts.certFile,
    keyFile: opts.keyFile,
    log,
  });
  ready = true;
  log.info(
    {
      port: running.port,
      startupMs: Math.round(performance.now() - started),
      nats: nats === undefined ? "off" : describeNats(nats),
      config: opts.configFile ?? "defaults",
    },
    "webhook listening",
  );
  const shutdown = (signal: string): void => {
    ready = false;
    log.info({ signal }, "shutting down");
    config.stop();
    void running
      .close()
      .then(() => bus?.close())
      .finally(() => process.exit(0));
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
}
