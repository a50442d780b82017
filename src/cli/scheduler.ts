// `hami scheduler`: the kube-scheduler extender (filter, prioritize, bind, explain) over a live view
// of the cluster. With --tls-cert/--tls-key it serves HTTPS and the webhook's admission routes in
// the same process, as HAMi's hami-scheduler pod does.

import { createServer } from "node:http";
import { parseArgs } from "node:util";
import express from "express";
import {
  mutatePolicy,
  placementPolicy,
  readEnv,
  resourceNames,
  type Config,
} from "../config/index.js";
import { fgdScorer, quotaResourceNames } from "../core/index.js";
import { NatsBus } from "../events/index.js";
import { loadKubeConfig, podApi } from "../k8s/index.js";
import {
  type SchedulerAppDeps,
  ClusterView,
  clusterStatus,
  createSchedulerApp,
  deviceStats,
  feedView,
  LiveUsage,
  RecentEvents,
  podEventRecorder,
  requeueOnRelease,
  type SchedulerPolicy,
} from "../scheduler/index.js";
import {
  createLogger,
  createRegistry,
  schedulerMetrics,
  webhookMetrics,
  type Logger,
} from "../telemetry/index.js";
import { closeServer, createWebhookApp, notFound, serveHttps } from "../webhook/index.js";
import { liveConfig } from "./live-config.js";
import { electExtenderLeader, leaderGate } from "./scheduler-leader.js";
import { NATS_FLAGS, NATS_USAGE, natsSettings } from "./nats-flags.js";
import { UsageError } from "./usage.js";

export const SCHEDULER_USAGE = `usage: hami scheduler [--port 8888] [--host 0.0.0.0] [--kubeconfig FILE] [--config FILE]
                      [--tls-cert FILE --tls-key FILE [--extender-port 8888] [--extender-host 127.0.0.1]
                       [--extender-client-ca FILE [--extender-client-name hami-kube-scheduler]]
                       [--status-port 9395] [--without-webhook]] [--lease-namespace kube-system]
                      [--require-agent-lease] [--register-stale-seconds 0] [--nats URL]
                      [--leader-elect [--leader-lease-seconds 15] [--pod-name $POD_NAME]
                       [--pod-namespace $POD_NAMESPACE]]
  the kube-scheduler extender: POST /filter /prioritize /bind, GET /explain/NS/POD, /ui, /metrics
  without TLS (development): every route on --host:--port, plain HTTP
  --tls-cert/--tls-key   the deployed shape: --port serves only the webhook (/mutate, /webhook) and
                         health over HTTPS; the extender verbs (they bind pods) on plain HTTP at
                         --extender-host:--extender-port, loopback by default, for the kube-scheduler
                         in the same pod; /explain, /ui and /metrics (read only) on --status-port
  --extender-client-ca   the extender verbs over mutual TLS instead (kube-scheduler in its own pod):
                         HTTPS with the same certificate, only for clients whose certificate this
                         CA signed for the common name --extender-client-name
  --without-webhook      the webhook runs as its own service (hami webhook): --port serves health only
  --require-agent-lease  nodes without a hami-agent-<node> Lease get no pods (expired ones never do)
  --leader-elect         replicas elect one extender on the Lease hami-extender (in --lease-namespace);
                         only it answers the verbs (others: 503) and it labels its pod
                         hami.io/extender-leader=true; webhook and status serve on every replica
  ${NATS_USAGE}`;

function options(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: "string", default: "8888" },
      host: { type: "string", default: "0.0.0.0" },
      kubeconfig: { type: "string" },
      config: { type: "string" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      "without-webhook": { type: "boolean", default: false },
      "extender-host": { type: "string", default: "127.0.0.1" },
      "extender-port": { type: "string", default: "8888" },
      "extender-client-ca": { type: "string" },
      "extender-client-name": { type: "string", default: "hami-kube-scheduler" },
      "status-port": { type: "string", default: "9395" },
      "lease-namespace": { type: "string", default: "kube-system" },
      "require-agent-lease": { type: "boolean", default: false },
      "register-stale-seconds": { type: "string", default: "0" },
      "leader-elect": { type: "boolean", default: false },
      "leader-lease-seconds": { type: "string", default: "15" },
      "pod-name": { type: "string", default: process.env.POD_NAME },
      "pod-namespace": { type: "string", default: process.env.POD_NAMESPACE },
      ...NATS_FLAGS,
    },
    strict: true,
  });
  const tcpPort = (flag: string, value: string): number => {
    const port = Number(value);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new UsageError(`--${flag}=${value}: not a TCP port`);
    return port;
  };
  const port = tcpPort("port", values.port);
  const extenderPort = tcpPort("extender-port", values["extender-port"]);
  const statusPort = tcpPort("status-port", values["status-port"]);
  const stale = Number(values["register-stale-seconds"]);
  if (!Number.isFinite(stale) || stale < 0)
    throw new UsageError(
      `--register-stale-seconds=${values["register-stale-seconds"]}: not a number of seconds >= 0`,
    );
  if ((values["tls-cert"] === undefined) !== (values["tls-key"] === undefined))
    throw new UsageError("--tls-cert and --tls-key go together");
  const leaseSeconds = Number(values["leader-lease-seconds"]);
  if (!Number.isInteger(leaseSeconds) || leaseSeconds < 1)
    throw new UsageError(
      `--leader-lease-seconds=${values["leader-lease-seconds"]}: a whole number of seconds >= 1`,
    );
  if (values["without-webhook"] && values["tls-cert"] === undefined)
    throw new UsageError("--without-webhook needs --tls-cert and --tls-key (the deployed shape)");
  if (values["extender-client-ca"] !== undefined && values["tls-cert"] === undefined)
    throw new UsageError("--extender-client-ca needs --tls-cert and --tls-key");
  if (values["tls-cert"] !== undefined) {
    const ports = [port, extenderPort, statusPort].filter((p) => p !== 0);
    if (new Set(ports).size !== ports.length)
      throw new UsageError(
        `--port=${port}, --extender-port=${extenderPort} and --status-port=${statusPort} must differ`,
      );
  }
  return { ...values, port, extenderPort, statusPort, stale, leaseSeconds };
}

function podOf(opts: ReturnType<typeof options>): { name: string; namespace: string } | undefined {
  const name = opts["pod-name"];
  if (name === undefined || name === "") return undefined;
  return { name, namespace: opts["pod-namespace"] ?? opts["lease-namespace"] };
}

function schedulerPolicy(config: Config, view: ClusterView): SchedulerPolicy {
  const placement = placementPolicy(config);
  return {
    request: mutatePolicy(config),
    placement: { ...placement, scorers: { fgd: fgdScorer(view.workload()) } },
  };
}

interface Listening {
  serves: string;
  port: number;
  close(): Promise<void>;
}

function listenHttp(
  app: express.Express,
  host: string,
  port: number,
  serves: string,
): Promise<Listening> {
  return new Promise((resolve, reject) => {
    const server = createServer(app);
    server.once("error", reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve({
        serves,
        port: typeof address === "object" && address !== null ? address.port : port,
        close: () => closeServer(server),
      });
    });
  });
}

/** The deployed shape: the webhook alone on the TLS port (the Service's; health only with
 * --without-webhook), the extender verbs on loopback for a kube-scheduler in the same pod or over
 * mutual TLS for one in its own pod, the read-only status routes on their own port. */
async function serveDeployed(
  opts: ReturnType<typeof options>,
  tls: { certFile: string; keyFile: string },
  deps: SchedulerAppDeps,
  apps: { webhook: () => express.Express; gate: express.RequestHandler },
): Promise<Listening[]> {
  const front = opts["without-webhook"]
    ? createSchedulerApp(deps, { extender: false, status: false })
    : express().use(apps.webhook(), notFound);
  const https = await serveHttps({
    handler: front,
    host: opts.host,
    port: opts.port,
    ...tls,
    log: deps.log,
  });
  const extenderApp = express();
  extenderApp.use(apps.gate, createSchedulerApp(deps, { extender: true, status: false }));
  const clientCA = opts["extender-client-ca"];
  const extender =
    clientCA === undefined
      ? await listenHttp(extenderApp, opts["extender-host"], opts.extenderPort, "extender")
      : await serveHttps({
          handler: extenderApp,
          host: opts["extender-host"],
          port: opts.extenderPort,
          ...tls,
          log: deps.log,
          clientAuth: { caFile: clientCA, commonNames: [opts["extender-client-name"]] },
        }).then((server) => ({
          serves: "extender (mutual TLS)",
          port: server.port,
          close: () => server.close(),
        }));
  const status = await listenHttp(
    createSchedulerApp(deps, { extender: false, status: true }),
    opts.host,
    opts.statusPort,
    "status",
  );
  const serves = opts["without-webhook"] ? "health" : "webhook";
  return [{ serves, port: https.port, close: () => https.close() }, extender, status];
}

async function startBus(
  flags: ReturnType<typeof options>,
  log: Logger,
  onDrop: () => void,
): Promise<NatsBus | undefined> {
  const nats = natsSettings(flags, readEnv());
  if (nats === undefined) {
    log.warn("no NATS_URL or --nats: allocation events are not published");
    return undefined;
  }
  return NatsBus.start({ nats, log, onDrop });
}

/** The page's live sources: every node's latest usage sample, and the audit events of the last hour
 * onward (an ephemeral consumer: read only). */
function watchLive(
  bus: NatsBus,
  live: { usage: LiveUsage; events: RecentEvents },
  log: Logger,
): { stop: () => Promise<void> }[] {
  return [
    bus.usageBoard().watch(
      (usage) => {
        live.usage.set(usage);
      },
      (problem) => {
        log.warn({ problem }, "ignoring an invalid usage sample");
      },
    ),
    bus.consume({
      filter: ">",
      start: { kind: "time", time: new Date(Date.now() - 3600_000) },
      handler: (event) => {
        live.events.add(event);
      },
    }),
  ];
}

export async function runScheduler(argv: string[]): Promise<void> {
  const opts = options(argv);
  const log = createLogger({ level: readEnv().logLevel }).child({ component: "scheduler" });
  const config = await liveConfig(opts.config, log);
  const kc = loadKubeConfig(opts.kubeconfig);
  const requeue = requeueOnRelease(kc, log);
  const view = new ClusterView({
    now: () => Date.now(),
    registerStaleMs: opts.stale * 1000,
    requireLease: opts["require-agent-lease"],
    offeredResource: config.current().nvidia.resourceCountName,
    onInvalid: (what, error) => {
      log.warn({ what, err: error }, "ignoring an invalid annotation");
    },
    onRelease: (node) => {
      requeue.released(node);
    },
  });
  // The quota ResourceQuota entries follow the live config's resource names.
  const quotaNames = () => quotaResourceNames(resourceNames(config.current()));
  const registry = createRegistry(true);
  const live = { usage: new LiveUsage(), events: new RecentEvents() };
  const metrics = schedulerMetrics(
    registry,
    () => deviceStats(view),
    () => view.quotas.stats(quotaNames()),
    () => clusterStatus(view, live.usage),
  );
  const admission = webhookMetrics(registry);
  const bus = await startBus(opts, log, () => {
    admission.eventsDropped.inc({ bus: "nats" });
  });
  const watches = bus === undefined ? [] : watchLive(bus, live, log);
  const feed = feedView(kc, view, { leaseNamespace: opts["lease-namespace"], log });
  const api = podApi(kc);
  const deps = {
    view,
    policy: () => schedulerPolicy(config.current(), view),
    log,
    metrics,
    requeue,
    api,
    podEvent: podEventRecorder(api, log),
    bus,
    clock: () => new Date(),
    registry,
    ready: () => feed.isSynced(),
    live,
  };
  const leader = opts["leader-elect"]
    ? await electExtenderLeader({
        kc,
        leaseNamespace: opts["lease-namespace"],
        leaseSeconds: opts.leaseSeconds,
        pod: podOf(opts),
        log,
      })
    : { leading: () => true, stop: () => Promise.resolve() };
  const gate = leaderGate(leader);
  const certFile = opts["tls-cert"];
  const keyFile = opts["tls-key"];
  const webhook = () =>
    createWebhookApp({
      policy: () => mutatePolicy(config.current()),
      log,
      metrics: admission,
      bus,
      registry,
      clock: () => new Date(),
      ready: deps.ready,
      metricsRoute: false,
      quotas: (namespace) => view.quotas.quota(namespace, quotaNames()),
    });
  const servers =
    certFile !== undefined && keyFile !== undefined
      ? await serveDeployed(opts, { certFile, keyFile }, deps, { webhook, gate })
      : [
          await listenHttp(
            express().use(gate, createSchedulerApp(deps)),
            opts.host,
            opts.port,
            "all routes",
          ),
        ];
  const close = (): Promise<unknown> => Promise.all(servers.map((s) => s.close()));
  log.info(
    {
      listening: Object.fromEntries(servers.map((s) => [s.serves, s.port])),
      tls: certFile !== undefined,
      config: opts.config ?? "defaults",
    },
    "scheduler extender listening",
  );
  await feed.synced;
  log.info({ nodes: view.nodeNames().length }, "informers synced: nodes, leases and pods loaded");
  const shutdown = (signal: string): void => {
    log.info({ signal }, "shutting down");
    config.stop();
    requeue.stop();
    void leader
      .stop()
      .catch(() => undefined)
      .then(() => Promise.allSettled([close(), feed.stop(), ...watches.map((w) => w.stop())]))
      .then(() => bus?.close())
      .finally(() => process.exit(0));
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
}
