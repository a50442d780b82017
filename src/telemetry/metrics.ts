// Prometheus metrics. Each process owns a Registry passed to components, so tests can create
// isolated ones and two components in one process never collide on a global registry.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { ClusterStatus } from "../core/index.js";

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

/** One GPU as the scheduler accounts it, for the gauges read at scrape time. */
export interface DeviceStat {
  node: string;
  uuid: string;
  index: number;
  type: string;
  memoryCapacityMiB: number;
  cores: number;
  memoryAllocatedMiB: number;
  coresAllocated: number;
  /** HAMi's operating mode (hami-core, mig). */
  mode: string;
  /** In mode mig: per profile, free instances of all. */
  mig?: { profile: string; free: number; total: number }[];
  /** Per container slice on it; containerIndex is its place in the pod's device list. */
  slices: {
    namespace: string;
    pod: string;
    containerIndex: number;
    memoryMiB: number;
    cores: number;
  }[];
}

/** A namespace's GPU quota for one resource, for the hami_resource_quota_* gauges. */
export interface QuotaStat {
  namespace: string;
  resource: string;
  used: number;
  limit?: number;
}

/** The cluster in one line (core clusterSummary, plus what the node monitors report). */
export type ClusterStat = ClusterStatus;

export interface SchedulerMetrics {
  latency: Histogram<"verb">;
  binds: Counter<"result">;
}

const MiB = 1024 * 1024;
/** HAMi registers its collectors with the constant label zone="vGPU" (cmd/scheduler/metrics.go,
 * cmd/vGPUmonitor/metrics.go NewClusterManager); its dashboards may select on it. */
export const HAMI_ZONE = "vGPU";

type DeviceLabel = "node" | "device_uuid" | "device_index" | "device_type" | "zone";
type Labels = Partial<Record<string, string>>;

function gauges(
  registry: Registry,
  series: [string, string, readonly string[], () => [Labels, number][]][],
): void {
  for (const [name, help, labelNames, values] of series)
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const [labels, value] of values()) this.set(labels, value);
      },
    });
}

/** HAMi's scheduler gauges, same names, labels and values (Project-HAMi/HAMi cmd/scheduler/metrics.go). */
function hamiDeviceGauges(registry: Registry, devices: () => DeviceStat[]): void {
  const base: DeviceLabel[] = ["node", "device_uuid", "device_index", "device_type", "zone"];
  const labels = (d: DeviceStat): Labels => ({
    node: d.node,
    device_uuid: d.uuid,
    device_index: String(d.index),
    device_type: d.type,
    zone: HAMI_ZONE,
  });
  const withCores = (d: DeviceStat): Labels => ({ ...labels(d), device_cores: String(d.cores) });
  const each = (value: (d: DeviceStat) => [Labels, number]) => () => devices().map(value);
  const slice = ["namespace", "node", "pod", "container_index", "device_uuid", "zone"];
  const slices = (value: (s: DeviceStat["slices"][number]) => number) => () =>
    devices().flatMap((d) =>
      d.slices.map((s): [Labels, number] => [
        {
          namespace: s.namespace,
          node: d.node,
          pod: s.pod,
          container_index: String(s.containerIndex),
          device_uuid: d.uuid,
          zone: HAMI_ZONE,
        },
        value(s),
      ]),
    );
  gauges(registry, [
    [
      "hami_gpu_memory_limit_bytes",
      "Device memory limit for a certain GPU",
      base,
      each((d) => [labels(d), d.memoryCapacityMiB * MiB]),
    ],
    [
      "hami_gpu_core_limit_ratio",
      "Device core limit for a certain GPU",
      base,
      each((d) => [labels(d), d.cores]),
    ],
    [
      "hami_gpu_memory_allocated_bytes",
      "Device memory allocated for a certain GPU",
      [...base, "device_cores"],
      each((d) => [withCores(d), d.memoryAllocatedMiB * MiB]),
    ],
    [
      "hami_gpu_shared_count",
      "Number of containers sharing this GPU",
      base,
      each((d) => [labels(d), d.slices.length]),
    ],
    [
      "hami_gpu_core_allocated_ratio",
      "Device core allocated for a certain GPU",
      base,
      each((d) => [labels(d), d.coresAllocated]),
    ],
    [
      "hami_node_gpu_overview",
      "GPU overview on a certain node",
      [...base, "device_cores", "device_memory_limit"],
      each((d) => [
        { ...withCores(d), device_memory_limit: String(d.memoryCapacityMiB) },
        d.memoryAllocatedMiB * MiB,
      ]),
    ],
    [
      "hami_node_gpu_memory_allocated_ratio",
      "GPU Memory Allocated Percentage on a certain GPU",
      base,
      () =>
        devices()
          .filter((d) => d.memoryCapacityMiB > 0)
          .map((d) => [labels(d), d.memoryAllocatedMiB / d.memoryCapacityMiB]),
    ],
    [
      "hami_vgpu_memory_allocated_bytes",
      "vGPU memory allocated from a container",
      slice,
      slices((s) => s.memoryMiB * MiB),
    ],
    [
      "hami_vgpu_core_allocated_ratio",
      "vGPU core allocated from a container",
      slice,
      slices((s) => s.cores),
    ],
  ]);
}

/** Ours: which mode each GPU is in, and a MIG GPU's instances per profile and state. */
function modeGauges(registry: Registry, devices: () => DeviceStat[]): void {
  gauges(registry, [
    [
      "hami_gpu_mode_info",
      "A GPU's operating mode (hami-core: shared through HAMi-core; mig: one MIG instance per container)",
      ["node", "device_uuid", "device_type", "mode"],
      () =>
        devices().map((d) => [
          { node: d.node, device_uuid: d.uuid, device_type: d.type, mode: d.mode },
          1,
        ]),
    ],
    [
      "hami_gpu_mig_instances",
      "MIG instances of a GPU in mode mig, per profile, free or used",
      ["node", "device_uuid", "profile", "state"],
      () =>
        devices().flatMap((d) =>
          (d.mig ?? []).flatMap((m): [Labels, number][] => [
            [{ node: d.node, device_uuid: d.uuid, profile: m.profile, state: "free" }, m.free],
            [
              { node: d.node, device_uuid: d.uuid, profile: m.profile, state: "used" },
              m.total - m.free,
            ],
          ]),
        ),
    ],
  ]);
}

/** Ours: the cluster summary the page shows, as gauges. */
function clusterGauges(registry: Registry, cluster: () => ClusterStat): void {
  const one = (value: (c: ClusterStat) => number | undefined) => (): [Labels, number][] => {
    const v = value(cluster());
    return v === undefined ? [] : [[{}, v]];
  };
  const ratio = (a: number, b: number): number | undefined => (b > 0 ? a / b : undefined);
  gauges(registry, [
    ["hami_cluster_gpus", "GPUs registered by node agents", [], one((c) => c.gpus)],
    [
      "hami_cluster_gpu_memory_allocated_ratio",
      "Device memory booked by pods over all GPUs' (0..1)",
      [],
      one((c) => ratio(c.memoryAllocatedMiB, c.memoryMiB)),
    ],
    [
      "hami_cluster_gpu_core_allocated_ratio",
      "Cores booked by pods over all GPUs' (0..1)",
      [],
      one((c) => ratio(c.coresAllocated, c.cores)),
    ],
    [
      "hami_cluster_gpu_memory_used_ratio",
      "Device memory in use as the node monitors report it, over the GPUs reporting (0..1)",
      [],
      one((c) => ratio(c.hostMemoryUsedMiB, c.hostMemoryTotalMiB)),
    ],
    [
      "hami_cluster_gpus_reporting",
      "GPUs whose node monitor reports host figures",
      [],
      one((c) => c.gpusReporting),
    ],
    ["hami_cluster_gpu_free", "Free GPU share, summed (GPUs)", [], one((c) => c.freeGpus)],
    [
      "hami_cluster_gpu_fragmentation",
      "Free GPU share the current workload's task classes cannot use (GPUs; the placement benchmark's measure)",
      [],
      one((c) => c.fragmentationGpus),
    ],
    [
      "hami_cluster_fragmented_gpus",
      "GPUs partly booked whose free share is smaller than any current task class asks for",
      [],
      one((c) => c.fragmentedGpus),
    ],
  ]);
}

/** Scheduler metrics: HAMi's scheduler gauges (names, labels, values), the cluster summary, and ours. */
export function schedulerMetrics(
  registry: Registry,
  devices: () => DeviceStat[],
  quotas: () => QuotaStat[] = () => [],
  cluster?: () => ClusterStat,
): SchedulerMetrics {
  // HAMi's names and labels (cmd/scheduler/metrics.go collectQuotaMetrics), for its dashboards.
  new Gauge({
    name: "hami_resource_quota_used",
    help: "resourcequota usage for a certain device",
    labelNames: ["namespace", "quota_name", "limit"],
    registers: [registry],
    collect() {
      this.reset();
      for (const q of quotas())
        this.set(
          { namespace: q.namespace, quota_name: q.resource, limit: String(q.limit ?? 0) },
          q.used,
        );
    },
  });
  new Gauge({
    name: "hami_resource_quota_limit",
    help: "resourcequota limit for a certain device",
    labelNames: ["namespace", "quota_name"],
    registers: [registry],
    collect() {
      this.reset();
      for (const q of quotas())
        if (q.limit !== undefined)
          this.set({ namespace: q.namespace, quota_name: q.resource }, q.limit);
    },
  });
  hamiDeviceGauges(registry, devices);
  modeGauges(registry, devices);
  if (cluster !== undefined) clusterGauges(registry, cluster);
  return {
    latency: new Histogram({
      name: "hami_scheduler_latency_seconds",
      help: "Time to answer an extender call, by verb (filter, prioritize, bind)",
      labelNames: ["verb"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5],
      registers: [registry],
    }),
    binds: new Counter({
      name: "hami_scheduler_binds_total",
      help: "Bind calls, by result (bound, unfit, conflict, error)",
      labelNames: ["result"],
      registers: [registry],
    }),
  };
}

export interface NodeMetrics {
  /** After each Allocate: did the kubelet give the devices to the container served? */
  verified: Counter<"result">;
  mismatches: Counter;
}

export function nodeMetrics(registry: Registry): NodeMetrics {
  return {
    verified: new Counter({
      name: "hami_allocation_verified_total",
      help: "Allocate answers checked against the kubelet's PodResources API, by result (match, mismatch, unverified)",
      labelNames: ["result"],
      registers: [registry],
    }),
    mismatches: new Counter({
      name: "hami_allocation_mismatch_total",
      help: "Allocate answers whose devices the kubelet gave to another container than the one served",
      registers: [registry],
    }),
  };
}
