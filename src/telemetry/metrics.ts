// Prometheus metrics. Each process owns a Registry passed to components, so tests can create
// isolated ones and two components in one process never collide on a global registry.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

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
  type: string;
  memoryCapacityMiB: number;
  memoryAllocatedMiB: number;
  coresAllocated: number;
  slices: { namespace: string; pod: string; cores: number }[];
}

/** A namespace's GPU quota for one resource, for the hami_resource_quota_* gauges. */
export interface QuotaStat {
  namespace: string;
  resource: string;
  used: number;
  limit?: number;
}

export interface SchedulerMetrics {
  latency: Histogram<"verb">;
  binds: Counter<"result">;
}

const MiB = 1024 * 1024;

/** Scheduler metrics; device gauges use HAMi's names where the meaning matches. */
export function schedulerMetrics(
  registry: Registry,
  devices: () => DeviceStat[],
  quotas: () => QuotaStat[] = () => [],
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
  const deviceLabels = ["node", "deviceuuid", "devicetype"] as const;
  const gauge = (name: string, help: string, value: (d: DeviceStat) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: deviceLabels,
      registers: [registry],
      collect() {
        this.reset();
        for (const d of devices())
          this.set({ node: d.node, deviceuuid: d.uuid, devicetype: d.type }, value(d));
      },
    });
  };
  gauge(
    "hami_gpu_memory_allocated_bytes",
    "Device memory given to pods",
    (d) => d.memoryAllocatedMiB * MiB,
  );
  gauge(
    "hami_gpu_memory_capacity_bytes",
    "Device memory offered to pods (memory x deviceMemoryScaling)",
    (d) => d.memoryCapacityMiB * MiB,
  );
  gauge(
    "hami_gpu_core_allocated_ratio",
    "Share of the device's cores given to pods (0..1)",
    (d) => d.coresAllocated / 100,
  );
  gauge("hami_gpu_shared_count", "Containers sharing the device", (d) => d.slices.length);
  new Gauge({
    name: "hami_vgpu_core_allocated_ratio",
    help: "Share of the device's cores given to one pod's container slice (0..1)",
    labelNames: ["podnamespace", "podname", "node", "deviceuuid"],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of devices())
        for (const s of d.slices)
          this.set(
            { podnamespace: s.namespace, podname: s.pod, node: d.node, deviceuuid: d.uuid },
            s.cores / 100,
          );
    },
  });
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
