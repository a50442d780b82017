// `hami node`: the per-node agent (DaemonSet): GPU discovery, registration, the kubelet device
// plugin and the allocator.

import { createServer, type Server } from "node:http";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { readFile } from "node:fs/promises";
import {
  nodeSettings,
  parseNodeConfig,
  readEnv,
  watchDirectories,
  type Config,
  type NodeConfigFile,
  type NodeSettings,
} from "../config/index.js";
import { nvidia as nvidiaVendor, VGPU_LOCK_DIR, type NodeUsage } from "../core/index.js";
import { NatsBus, type UsageBoard } from "../events/index.js";
import { loadKubeConfig } from "../k8s/index.js";
import {
  fileSource,
  NodeAgent,
  nvidiaSmiSource,
  type AgentOptions,
  type AgentSettings,
  type DeviceSource,
} from "../node/index.js";
import {
  createLogger,
  createRegistry,
  monitorMetrics,
  nodeMetrics,
  type Logger,
  type Registry,
} from "../telemetry/index.js";
import { liveConfig } from "./live-config.js";
import { NATS_FLAGS, NATS_USAGE, natsSettings } from "./nats-flags.js";
import { UsageError } from "./usage.js";

export const NODE_USAGE = `usage: hami node [--node-name NAME] [--devices nvml|file:PATH] [--device-plugin-dir /var/lib/kubelet/device-plugins]
                 [--kubeconfig FILE] [--config FILE] [--lease-namespace kube-system] [--nats URL]
                 [--vgpu-lock-dir /tmp/vgpulock] [--pod-resources-socket PATH] [--metrics-port 0]
                 [--node-config config.json] [--monitor-port 0] [--monitor-period 10] [--untracked-threshold-mib 1024]
                 [--untracked-hold 300] [--state-dir HOOKPATH/vgpu/state]
  --node-name      defaults to $NODE_NAME, then the host name
  --devices        nvml: nvidia-smi on this host; file:PATH: GPUs described in a YAML/JSON file (mock)
  --vgpu-lock-dir  host directory mounted at /tmp/vgpulock for HAMi-core's locks (HAMi's is the same path)
  --pod-resources-socket  the kubelet's PodResources API (default: pod-resources/kubelet.sock beside
                   the device-plugins dir); each Allocate answer is checked against it
  --node-config    HAMi's per-node config.json ({"nodeconfig": [{"name": NODE, "devicesplitcount": 4, ...}]}):
                   this node's entry overrides the cluster's split count, scaling, log level and
                   filters GPUs (filterdevices uuid/index); followed on change
  --metrics-port   serve /metrics (hami_allocation_verified_total, hami_allocation_mismatch_total) on
                   this port, read only; 0: off
  --monitor-port   serve the node monitor's /metrics (HAMi's device monitor names: hami_vgpu_memory_used_bytes,
                   hami_host_gpu_utilization_ratio, ...; HAMi serves them on 9394), read only; 0: off
  --monitor-period seconds between monitor samples (HAMi-core regions and host GPU figures); 0: no monitor
  --untracked-threshold-mib, --untracked-hold  a GPU with more device memory in use than its containers'
                   regions account for, by this many MiB for this many seconds, gets a Warning Event on the Node
  --state-dir      host directory for the served log (<node>.served.log): Allocate answers once what it
                   served is on disk there and records it on the pod right after, again after a restart;
                   default: the hook path's vgpu/state (already a host path in the chart)
  ${NATS_USAGE}`;

/** The served log's file: <state dir>/<node>.served.log. */
function servedLog(stateDir: string | undefined, hookPath: string, node: string): string {
  const dir = stateDir ?? join(hookPath, "vgpu", "state");
  if (!dir.startsWith("/")) throw new UsageError(`--state-dir=${dir}: expected an absolute path`);
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(node))
    throw new UsageError(`node name ${JSON.stringify(node)} is not a Kubernetes node name`);
  return join(dir, `${node}.served.log`);
}

function source(spec: string, node: string): DeviceSource {
  if (spec === "nvml") return nvidiaSmiSource();
  if (spec.startsWith("file:") && spec.length > 5) return fileSource(spec.slice(5), node);
  throw new UsageError(`--devices=${spec}: expected nvml or file:PATH`);
}

/** The agent's settings: the cluster's nvidia settings, with this node's nodeconfig entry over
 * them when given (HAMi's per-node config.json). */
export function agentSettings(config: Config, lockDir: string, node?: NodeSettings): AgentSettings {
  const { nvidia } = config;
  const own = node ?? nodeSettings(nvidia, undefined, "");
  const logLevel = own.libCudaLogLevel.value;
  return {
    vendor: nvidiaVendor,
    offer: {
      splitCount: own.deviceSplitCount.value,
      memoryScaling: own.deviceMemoryScaling.value,
      coreScaling: own.deviceCoreScaling.value,
      // HAMi's operating mode mig, or migstrategy mixed: MIG-enabled GPUs are offered by instance.
      ...(own.operatingMode.value === "mig" || own.migstrategy.value === "mixed"
        ? { mig: { allowlist: nvidia.migProfileAllowlist ?? [] } }
        : {}),
    },
    resourceName: nvidia.resourceCountName,
    allocate: {
      hookPath: nvidia.hookPath,
      memoryScaling: own.deviceMemoryScaling.value,
      disableCoreLimit: nvidia.disablecorelimit,
      lockDir,
      ...(logLevel === undefined ? {} : { libCudaLogLevel: logLevel }),
    },
    filter: own.filterDevices.value,
    ...(node === undefined ? {} : { published: node }),
  };
}

/** HAMi's config.json with the nodeconfig list, followed: an invalid new version is logged and the
 * running one kept. */
async function liveNodeConfig(
  path: string | undefined,
  log: Logger,
): Promise<{ current: () => NodeConfigFile | undefined; stop: () => void }> {
  if (path === undefined) return { current: () => undefined, stop: () => undefined };
  const read = async (): Promise<NodeConfigFile> =>
    parseNodeConfig(await readFile(path, "utf8"), path);
  let file = await read();
  const stop = watchDirectories({
    paths: [path],
    debounceMs: 200,
    onChange: () => {
      read()
        .then((next) => {
          file = next;
          log.info({ source: path }, "node config reloaded");
        })
        .catch((error: unknown) => {
          log.error({ err: error }, "node config reload failed, keeping the running one");
        });
    },
    onError: (error) => {
      log.error({ err: error }, "cannot watch the node config");
    },
  });
  return { current: () => file, stop };
}

/** GET /metrics only: read only, nothing else answers. */
function serveMetrics(registry: Registry, port: number): Server {
  return createServer((req, res) => {
    if (req.method !== "GET" || req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    void registry.metrics().then((text) => {
      res.writeHead(200, { "content-type": registry.contentType }).end(text);
    });
  }).listen(port);
}

type Flags = Record<string, string | boolean | undefined>;

/** A whole number flag (seconds, MiB), 0 or more. */
function whole(values: Flags, name: string): number {
  const raw = values[name];
  const value = Number(raw);
  if (typeof raw !== "string" || !/^\d+$/.test(raw) || !Number.isSafeInteger(value))
    throw new UsageError(`--${name}=${String(raw)}: expected a whole number, 0 or more`);
  return value;
}

function port(values: Flags, name: string): number {
  const value = whole(values, name);
  if (value > 65535) throw new UsageError(`--${name}=${String(values[name])}: not a TCP port`);
  return value;
}

/** The node monitor's settings from the flags (none with --monitor-period 0); samples go to NATS
 * when there is a bus. */
function monitorOptions(values: Flags, usage: UsageBoard | undefined): Partial<AgentOptions> {
  const period = whole(values, "monitor-period");
  if (period === 0) return {};
  return {
    monitor: {
      periodMs: period * 1000,
      drift: {
        thresholdBytes: whole(values, "untracked-threshold-mib") * 1024 * 1024,
        holdMs: whole(values, "untracked-hold") * 1000,
      },
      ...(usage === undefined
        ? {}
        : {
            onSample: (sample: NodeUsage) => {
              usage.publish(sample);
            },
          }),
    },
  };
}

export async function runNode(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      "node-name": { type: "string" },
      devices: { type: "string", default: "nvml" },
      "device-plugin-dir": { type: "string", default: "/var/lib/kubelet/device-plugins" },
      kubeconfig: { type: "string" },
      config: { type: "string" },
      "lease-namespace": { type: "string", default: "kube-system" },
      "vgpu-lock-dir": { type: "string", default: VGPU_LOCK_DIR },
      "pod-resources-socket": { type: "string" },
      "metrics-port": { type: "string", default: "0" },
      "node-config": { type: "string" },
      "monitor-port": { type: "string", default: "0" },
      "monitor-period": { type: "string", default: "10" },
      "untracked-threshold-mib": { type: "string", default: "1024" },
      "untracked-hold": { type: "string", default: "300" },
      "state-dir": { type: "string" },
      ...NATS_FLAGS,
    },
    strict: true,
  });
  const env = readEnv();
  const registry = createRegistry(true);
  const node = values["node-name"] ?? process.env.NODE_NAME ?? hostname();
  const log = createLogger({ level: env.logLevel }).child({ component: "node", node });
  const config = await liveConfig(values.config, log);
  const nodeConfig = await liveNodeConfig(values["node-config"], log);
  const settingsOf = (): NodeSettings =>
    nodeSettings(config.current().nvidia, nodeConfig.current(), node);
  for (const note of settingsOf().notes) log.warn({ node, source: values["node-config"] }, note);
  const nats = natsSettings(values, env);
  const lockDir = values["vgpu-lock-dir"];
  if (!lockDir.startsWith("/"))
    throw new UsageError(`--vgpu-lock-dir=${lockDir}: expected an absolute path`);
  const metricsPort = port(values, "metrics-port");
  const monitorPort = port(values, "monitor-port");
  const monitorRegistry = createRegistry(false);
  const pluginDir = values["device-plugin-dir"];
  const bus = nats === undefined ? undefined : await NatsBus.start({ nats, log });
  if (bus === undefined)
    log.warn("no NATS_URL or --nats: allocations are read from the API server only");
  const usage = bus?.usageBoard();
  const agent = new NodeAgent({
    kc: loadKubeConfig(values.kubeconfig),
    node,
    source: source(values.devices, node),
    pluginDir,
    settings: () => agentSettings(config.current(), lockDir, settingsOf()),
    leaseNamespace: values["lease-namespace"],
    bus,
    log,
    podResourcesSocket:
      values["pod-resources-socket"] ?? join(dirname(pluginDir), "pod-resources", "kubelet.sock"),
    metrics: nodeMetrics(registry),
    servedLog: servedLog(values["state-dir"], config.current().nvidia.hookPath, node),
    ...monitorOptions(values, usage),
  });
  monitorMetrics(monitorRegistry, () => agent.monitor?.latest);
  await agent.start();
  const servers = [
    ...(metricsPort > 0 ? [serveMetrics(registry, metricsPort)] : []),
    ...(monitorPort > 0 ? [serveMetrics(monitorRegistry, monitorPort)] : []),
  ];
  const shutdown = (signal: string): void => {
    log.info({ signal }, "shutting down");
    config.stop();
    nodeConfig.stop();
    for (const server of servers) server.close();
    void agent
      .stop()
      .then(() => bus?.close())
      .finally(() => process.exit(0));
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
}
