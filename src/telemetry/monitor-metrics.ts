// The node monitor's metrics, read from its latest sample at scrape time. The names and labels are
// HAMi's device monitor's (Project-HAMi/HAMi cmd/vGPUmonitor/metrics.go), so its Grafana boards work
// unchanged (with its constant label zone="vGPU"); the figures HAMi does not have (temperature,
// power, tracked and untracked memory) are ours.

import { Gauge, type Registry } from "prom-client";
import { HAMI_ZONE } from "./metrics.js";
import {
  UUID_LABEL_CHARS,
  type ContainerUsage,
  type GpuUsage,
  type NodeUsage,
  type VDeviceUsage,
} from "../core/index.js";

const CONTAINER_LABELS = [
  "namespace",
  "pod",
  "container",
  "vdevice_index",
  "device_uuid",
  "zone",
] as const;
const HOST_LABELS = ["node", "device_index", "device_uuid", "device_type", "zone"] as const;

type ContainerFigure = (d: VDeviceUsage, c: ContainerUsage) => number | undefined;
type HostFigure = (g: GpuUsage) => number | undefined;

/** HAMi's per-container series (first), then its host series, then ours. */
const CONTAINER_SERIES: [string, string, ContainerFigure][] = [
  ["hami_vgpu_memory_used_bytes", "vGPU device memory usage in bytes", (d) => d.usedBytes],
  ["hami_vgpu_memory_limit_bytes", "vGPU device memory limit in bytes", (d) => d.limitBytes],
  [
    "hami_container_device_memory_bytes",
    "Container device memory usage in bytes",
    (d) => d.usedBytes,
  ],
  [
    "hami_container_device_utilization_ratio",
    "Container device SM utilization ratio",
    (d) => d.smUtil,
  ],
  [
    "hami_container_last_kernel_elapsed_seconds",
    "Seconds since last kernel execution in container",
    (_, c) => c.lastKernelAgeSeconds,
  ],
  [
    "hami_vgpu_memory_context_bytes",
    "Container device memory context size in bytes",
    (d) => d.contextBytes,
  ],
  [
    "hami_vgpu_memory_module_bytes",
    "Container device memory module size in bytes",
    (d) => d.moduleBytes,
  ],
  [
    "hami_vgpu_memory_buffer_bytes",
    "Container device memory buffer size in bytes",
    (d) => d.bufferBytes,
  ],
];

const HOST_SERIES: [string, string, HostFigure][] = [
  ["hami_host_gpu_memory_used_bytes", "GPU device memory usage in bytes", (g) => g.memoryUsedBytes],
  ["hami_host_gpu_utilization_ratio", "GPU core utilization ratio (0-100)", (g) => g.utilization],
  ["hami_host_gpu_memory_total_bytes", "GPU device memory in bytes", (g) => g.memoryTotalBytes],
  ["hami_host_gpu_temperature_celsius", "GPU temperature", (g) => g.temperatureC],
  ["hami_host_gpu_power_watts", "GPU power draw", (g) => g.powerW],
  [
    "hami_vgpu_memory_untracked_bytes",
    "Device memory in use on the GPU that no container's HAMi-core region accounts for",
    (g) => g.untrackedBytes,
  ],
  [
    "hami_vgpu_memory_tracked_bytes",
    "Device memory the GPU's containers' HAMi-core regions report, summed",
    (g) => g.trackedBytes,
  ],
];

export function monitorMetrics(registry: Registry, latest: () => NodeUsage | undefined): void {
  for (const [name, help, figure] of CONTAINER_SERIES)
    new Gauge({
      name,
      help,
      labelNames: CONTAINER_LABELS,
      registers: [registry],
      collect() {
        this.reset();
        for (const c of latest()?.containers ?? [])
          for (const d of c.devices) {
            const value = figure(d, c);
            if (value === undefined) continue;
            const labels = {
              namespace: c.namespace,
              pod: c.pod,
              container: c.container,
              vdevice_index: String(d.index),
              device_uuid: d.uuid.slice(0, UUID_LABEL_CHARS),
              zone: HAMI_ZONE,
            };
            this.set(labels, value);
          }
      },
    });
  for (const [name, help, figure] of HOST_SERIES)
    new Gauge({
      name,
      help,
      labelNames: HOST_LABELS,
      registers: [registry],
      collect() {
        this.reset();
        const usage = latest();
        for (const g of usage?.gpus ?? []) {
          const value = figure(g);
          if (value === undefined || usage === undefined) continue;
          const labels = {
            node: usage.node,
            device_index: String(g.index),
            device_uuid: g.uuid,
            device_type: g.type,
            zone: HAMI_ZONE,
          };
          this.set(labels, value);
        }
      },
    });
  new Gauge({
    name: "hami_monitor_orphan_regions",
    help: "HAMi-core regions on the node whose pod is gone or unknown (not reported)",
    registers: [registry],
    collect() {
      this.set(latest()?.orphans ?? 0);
    },
  });
  new Gauge({
    name: "hami_monitor_last_sample_timestamp_seconds",
    help: "When the node monitor last read the regions and the host figures",
    registers: [registry],
    collect() {
      const time = latest()?.time;
      if (time !== undefined) this.set(Date.parse(time) / 1000);
    },
  });
}
