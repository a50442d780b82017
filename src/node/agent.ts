// The per-node agent: discovery -> registration (annotation + Lease) -> device plugin, with the
// allocator fed by the allocation events for this node and by a pod informer on this node. Owns the
// timers; stop() leaves nothing running.

import { randomUUID } from "node:crypto";
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import {
  Annotation,
  encodePairScores,
  type AllocatePolicy,
  type Device,
  type DriftAlert,
  type DriftPolicy,
  type NodeUsage,
  type Vendor,
} from "../core/index.js";
import { subjectToken, type EventBus, type Subscription } from "../events/index.js";
import { podApi, startInformer, type RunningInformer } from "../k8s/index.js";
import type { Logger, NodeMetrics } from "../telemetry/index.js";
import { Allocator } from "./allocator.js";
import { reportMismatch } from "./mismatch.js";
import { NodeMonitor } from "./monitor.js";
import { AllocationVerifier, type VerifyResult } from "./verify.js";
import type { DeviceSource } from "./discovery.js";
import { DevicePluginServer } from "./plugin.js";
import { registrar, type Registrar } from "./registration.js";
import { migKey, migUuids, offered, toDevices, type Offer } from "./offer.js";

/** How long the agent waits for the kubelet to list its devices before taking pods anyway. */
const LISTED_WAIT_MS = 10_000;

export const PLUGIN_SOCKET = "hami-nvidia.sock";

export interface AgentSettings {
  /** Whose GPUs these are: capacity rules and the Allocate answer (core's Vendor). */
  vendor: Vendor;
  offer: Offer;
  resourceName: string;
  allocate: AllocatePolicy;
  /** GPUs not to register (HAMi's nodeconfig filterdevices), by uuid or index. */
  filter?: { uuid: readonly string[]; index: readonly number[] };
  /** The effective settings as published on the Node (hami.io/node-settings). */
  published?: unknown;
}

export interface AgentOptions {
  kc: KubeConfig;
  node: string;
  source: DeviceSource;
  pluginDir: string;
  settings: () => AgentSettings;
  leaseNamespace: string;
  bus?: EventBus;
  log: Logger;
  /** Device re-read period (default 10 s), Lease renewal (10 s), register refresh (60 s). */
  pollMs?: number;
  leaseMs?: number;
  registerMs?: number;
  /** The kubelet's PodResources socket: each Allocate answer is checked against it. */
  podResourcesSocket?: string;
  /** The served log (write-ahead record of Allocate answers); without it each answer waits for
   * the API patch. */
  servedLog?: string;
  metrics?: NodeMetrics;
  /** The node monitor: real usage from HAMi-core's regions and the host, sampled this often. */
  monitor?: { periodMs: number; drift: DriftPolicy; onSample?: (usage: NodeUsage) => void };
}

export class NodeAgent {
  readonly allocator: Allocator;
  readonly plugin: DevicePluginServer;
  devices: Device[] = [];
  /** MIG UUIDs of the instances found by the last discovery, by GPU and placement (migKey). */
  private migDevices = new Map<string, string>();
  /** The GPUs' pair scores as published (hami.io/node-nvidia-score), when the source has them. */
  private scores: string | undefined;
  private readonly options: AgentOptions;
  private readonly registrar: Registrar;
  private pods: RunningInformer<V1Pod> | undefined;
  private subscription: Subscription | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly verifier: AllocationVerifier | undefined;
  readonly monitor: NodeMonitor | undefined;
  /** Allocate answers checked against the kubelet's PodResources, by result. */
  readonly verified: Record<VerifyResult, number> = { match: 0, mismatch: 0, unverified: 0 };

  constructor(options: AgentOptions) {
    this.options = options;
    const { kc, node, log } = options;
    const core = kc.makeApiClient(CoreV1Api);
    const api = podApi(kc);
    const fieldSelector = `spec.nodeName=${node}`;
    this.registrar = registrar(kc, {
      node,
      leaseNamespace: options.leaseNamespace,
      leaseSeconds: Math.max(10, Math.ceil((4 * (options.leaseMs ?? 10_000)) / 1000)),
      clock: () => new Date(),
    });
    this.plugin = new DevicePluginServer({
      dir: options.pluginDir,
      socketName: PLUGIN_SOCKET,
      resourceName: options.settings().resourceName,
      log,
      allocate: (request) => this.allocator.allocate(request),
    });
    this.allocator = new Allocator({
      node,
      api,
      listPods: async () => (await core.listPodForAllNamespaces({ fieldSelector })).items,
      bus: options.bus,
      log,
      policy: () => options.settings().allocate,
      isKnownDevice: (id) => this.plugin.isHealthy(id),
      vendor: options.settings().vendor,
      migDevice: (gpu, at) => this.migDevices.get(migKey(gpu, at.start, at.size)),
      newId: () => randomUUID(),
      clock: () => new Date(),
      verify: (served) =>
        this.verifier?.check({ ...served, resource: options.settings().resourceName }),
    });
    const socket = options.podResourcesSocket;
    this.verifier =
      socket === undefined
        ? undefined
        : new AllocationVerifier({
            socket,
            log,
            // Counted once handled: a mismatch counts after its pod was marked and told.
            onResult: async (served, result, found) => {
              if (result === "match")
                log.info(
                  {
                    pod: `${served.namespace}/${served.name}`,
                    node,
                    container: served.container,
                    devices: served.deviceIds,
                    reason: "verified",
                  },
                  "allocation verified: the kubelet gave the devices to this container",
                );
              if (result === "mismatch" && found !== undefined) {
                this.allocator.markMismatched([served]);
                const deps = { node, api, bus: options.bus, log, clock: () => new Date() };
                await reportMismatch(deps, served, found);
                options.metrics?.mismatches.inc();
              }
              this.verified[result]++;
              options.metrics?.verified.inc({ result });
            },
          });
    this.monitor = this.newMonitor();
  }

  private newMonitor(): NodeMonitor | undefined {
    const { monitor, node, log, source } = this.options;
    if (monitor === undefined) return undefined;
    return new NodeMonitor({
      node,
      hookPath: () => this.options.settings().allocate.hookPath,
      source,
      gpus: () => this.devices,
      pods: () =>
        new Map(
          (this.pods?.list() ?? []).map((p) => [
            p.metadata?.uid ?? "",
            {
              namespace: p.metadata?.namespace ?? "",
              name: p.metadata?.name ?? "",
              containers: [...(p.spec?.initContainers ?? []), ...(p.spec?.containers ?? [])].map(
                (c) => c.name,
              ),
            },
          ]),
        ),
      log,
      drift: monitor.drift,
      ...(monitor.onSample === undefined ? {} : { onSample: monitor.onSample }),
      onDrift: (alert) => this.driftEvent(alert),
    });
  }

  /** A Warning (raised) or Normal (cleared) Event on the Node, as the kubelet records its own. */
  private async driftEvent(alert: DriftAlert): Promise<void> {
    const { node } = this.options;
    const { gpu } = alert;
    const MiB = 1024 * 1024;
    const message =
      alert.kind === "raised"
        ? `GPU ${gpu.uuid}: ${Math.round((gpu.untrackedBytes ?? 0) / MiB)} MiB of device memory in use that no container's HAMi-core region accounts for (tracked ${Math.round(gpu.trackedBytes / MiB)} MiB), for ${Math.round(alert.forMs / 1000)} s`
        : `GPU ${gpu.uuid}: untracked device memory back under the threshold`;
    const now = new Date();
    await this.options.kc.makeApiClient(CoreV1Api).createNamespacedEvent({
      namespace: "default",
      body: {
        metadata: { generateName: `${node}.` },
        involvedObject: { kind: "Node", apiVersion: "v1", name: node, uid: node },
        type: alert.kind === "raised" ? "Warning" : "Normal",
        reason: alert.kind === "raised" ? "GPUMemoryUntracked" : "GPUMemoryTracked",
        message,
        source: { component: "hami-node", host: node },
        reportingComponent: "hami-node",
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  }

  async start(): Promise<void> {
    const { kc, node, log } = this.options;
    await this.discover();
    // Before the informer: a container served before a restart must read as served.
    if (this.options.servedLog !== undefined)
      await this.allocator.openServedLog(this.options.servedLog);
    const core = kc.makeApiClient(CoreV1Api);
    const fieldSelector = `spec.nodeName=${node}`;
    this.pods = startInformer<V1Pod>(
      kc,
      {
        path: "/api/v1/pods",
        list: () => core.listPodForAllNamespaces({ fieldSelector }),
        fieldSelector,
        onError: (error, retryInMs) => {
          log.warn({ err: error, retryInMs }, "pod informer failed, restarting");
        },
      },
      {
        add: (pod) => {
          this.allocator.fromPod(pod);
        },
        update: (pod) => {
          this.allocator.fromPod(pod);
        },
        delete: (pod) => void this.allocator.release(pod),
      },
    );
    await this.pods.synced;
    this.subscription = this.options.bus?.consume({
      filter: `allocation.${subjectToken(node)}`,
      durable: `hami-node-${subjectToken(node).replaceAll("_", "-")}`,
      start: { kind: "new" },
      handler: (event) => {
        this.allocator.fromEvent(event);
      },
      onInvalid: (problem) => {
        log.warn({ problem }, "ignoring an invalid allocation event");
      },
    });
    await this.plugin.start();
    // The Lease last: the scheduler places pods here once the kubelet has our devices.
    if (!(await this.plugin.listedByKubelet(LISTED_WAIT_MS)))
      log.warn(
        { waitedMs: LISTED_WAIT_MS },
        "the kubelet has not asked for our devices since registering; taking pods anyway",
      );
    await this.registrar.renewLease();
    this.every(this.options.pollMs ?? 10_000, () => this.discover());
    this.every(this.options.leaseMs ?? 10_000, () => this.registrar.renewLease());
    this.every(this.options.registerMs ?? 60_000, () =>
      this.registrar.register(this.devices, this.nodeAnnotations()),
    );
    if (this.options.monitor !== undefined) this.monitor?.start(this.options.monitor.periodMs);
    log.info(
      { node, devices: this.devices.length, source: this.options.source.describe },
      "node agent started",
    );
  }

  /** Stops serving. The Lease goes first: the kubelet fails any pod it admits while the plugin is
   * gone ("Allocate failed due to no healthy devices present"), so none may be placed here meanwhile. */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.monitor?.stop();
    await this.registrar.releaseLease().catch((error: unknown) => {
      this.options.log.warn({ err: error }, "could not delete the agent Lease; it expires instead");
    });
    await this.plugin.stop();
    await this.allocator.close();
    await this.verifier?.close();
    await this.subscription?.stop();
    await this.pods?.stop();
  }

  /** What the agent publishes on its Node besides the register annotation. */
  private nodeAnnotations(): Record<string, string> {
    const { published } = this.options.settings();
    return {
      ...(published === undefined ? {} : { [Annotation.nodeSettings]: JSON.stringify(published) }),
      ...(this.scores === undefined ? {} : { [Annotation.nodeScores]: this.scores }),
    };
  }

  /** Re-reads the GPUs; on any change re-registers and re-sends ListAndWatch. */
  private async discover(): Promise<void> {
    const settings = this.options.settings();
    const skip = settings.filter;
    const found = (await this.options.source.read())
      .filter(
        (g) => skip === undefined || !(skip.uuid.includes(g.uuid) || skip.index.includes(g.index)),
      )
      .map((g) => offered(g, settings.offer));
    const next = toDevices(found, this.devices, settings.offer);
    for (const gpu of found)
      if (gpu.problem !== undefined)
        this.options.log.warn(
          { gpu: gpu.uuid, reason: gpu.problem },
          gpu.healthy ? "GPU partly offered" : "GPU unhealthy",
        );
    this.migDevices = migUuids(found);
    const scores = await this.options.source.topology(found).catch(() => undefined);
    const encoded = scores === undefined ? undefined : encodePairScores(scores);
    if (JSON.stringify(next) === JSON.stringify(this.devices) && encoded === this.scores) return;
    this.devices = next;
    this.scores = encoded;
    this.plugin.setDevices(next);
    await this.registrar.register(next, this.nodeAnnotations());
  }

  private every(ms: number, task: () => Promise<void>): void {
    const timer = setInterval(() => {
      task().catch((error: unknown) => {
        this.options.log.warn({ err: error }, "periodic node agent task failed");
      });
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }
}
