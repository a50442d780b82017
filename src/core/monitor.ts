// What a node's GPUs are really doing, next to what was booked: per container the figures its
// HAMi-core shared region reports, per GPU what the host (NVML) reports, and the drift between
// them: device memory in use on a GPU that no container's region accounts for. Pure: the regions,
// pods and host figures come in as data; the node monitor reads them.

import { HAMI_CORE_MODE } from "./codec.js";
import type { SharedRegion } from "./shared-region.js";

/** HAMi's monitor labels a device by the first 40 characters of the region's uuid
 * (Project-HAMi/HAMi cmd/vGPUmonitor/metrics.go, collectContainerMetrics). */
export const UUID_LABEL_CHARS = 40;

/** One container's region, found at <hookPath>/vgpu/containers/<podUID>_<container>/. */
export interface ContainerRegion {
  podUID: string;
  container: string;
  region: SharedRegion;
}

/** What the host reports for one GPU; a figure it cannot read is absent. */
export interface HostGpuUsage {
  uuid: string;
  /** Busy share of the last sample period, percent (0..100). */
  utilization?: number;
  memoryUsedBytes?: number;
  memoryTotalBytes?: number;
  temperatureC?: number;
  powerW?: number;
}

export interface GpuUsage extends HostGpuUsage {
  index: number;
  type: string;
  /** Device memory the containers' regions on this GPU report, summed. */
  trackedBytes: number;
  /** Host used minus tracked, never below 0; absent when the host figure is unknown. */
  untrackedBytes?: number;
  containers: number;
}

export interface VDeviceUsage {
  /** The device's position in the container (its CUDA_DEVICE_MEMORY_LIMIT_<i>). */
  index: number;
  uuid: string;
  usedBytes: number;
  limitBytes: number;
  contextBytes: number;
  moduleBytes: number;
  bufferBytes: number;
  /** SM utilisation its processes report, summed (percent; HAMi-core's raw figure). */
  smUtil: number;
  smLimit: number;
}

export interface ContainerUsage {
  namespace: string;
  pod: string;
  podUID: string;
  container: string;
  devices: VDeviceUsage[];
  processes: number;
  /** Seconds since a kernel last ran; absent when none ever ran. */
  lastKernelAgeSeconds?: number;
}

export interface NodeUsage {
  node: string;
  /** When sampled (ISO 8601). */
  time: string;
  gpus: GpuUsage[];
  containers: ContainerUsage[];
  /** Regions whose pod or container is not (or no longer) on this node: not reported. */
  orphans: number;
}

export interface PodOnNode {
  namespace: string;
  name: string;
  containers: readonly string[];
}

export interface UsageInput {
  node: string;
  now: Date;
  /** The node's registered GPUs; `mode` as registered (absent: hami-core). */
  gpus: readonly { index: number; uuid: string; type: string; mode?: string }[];
  host: readonly HostGpuUsage[];
  regions: readonly ContainerRegion[];
  /** Pods on this node by uid, with their containers' names (init and app). */
  pods: ReadonlyMap<string, PodOnNode>;
}

function containerUsage(
  entry: ContainerRegion,
  pod: PodOnNode,
  nowSeconds: number,
): ContainerUsage {
  const { region } = entry;
  const usage: ContainerUsage = {
    namespace: pod.namespace,
    pod: pod.name,
    podUID: entry.podUID,
    container: entry.container,
    devices: region.devices.map((d, index) => ({ index, ...d })),
    processes: region.processes.length,
  };
  if (region.lastKernelTime > 0)
    usage.lastKernelAgeSeconds = Math.max(0, nowSeconds - region.lastKernelTime);
  return usage;
}

export function nodeUsage(input: UsageInput): NodeUsage {
  const nowSeconds = Math.floor(input.now.getTime() / 1000);
  const containers: ContainerUsage[] = [];
  let orphans = 0;
  for (const entry of input.regions) {
    const pod = input.pods.get(entry.podUID);
    if (pod?.containers.includes(entry.container) !== true) orphans++;
    else containers.push(containerUsage(entry, pod, nowSeconds));
  }
  const host = new Map(input.host.map((h) => [h.uuid, h]));
  const gpus = input.gpus.map((gpu): GpuUsage => {
    const on = containers.flatMap((c) => c.devices.filter((d) => d.uuid === gpu.uuid));
    const trackedBytes = on.reduce((sum, d) => sum + d.usedBytes, 0);
    const seen = host.get(gpu.uuid);
    const usage: GpuUsage = {
      ...seen,
      uuid: gpu.uuid,
      index: gpu.index,
      type: gpu.type,
      trackedBytes,
      containers: on.length,
    };
    // Only HAMi-core keeps regions: on a GPU in another mode (MIG instances) nothing is tracked, so
    // nothing there is "untracked" either.
    const regionsTrack = gpu.mode === undefined || gpu.mode === HAMI_CORE_MODE;
    if (seen?.memoryUsedBytes !== undefined && regionsTrack)
      usage.untrackedBytes = Math.max(0, seen.memoryUsedBytes - trackedBytes);
    return usage;
  });
  return { node: input.node, time: input.now.toISOString(), gpus, containers, orphans };
}

/** When untracked memory on a GPU is a problem: above thresholdBytes for holdMs in a row. */
export interface DriftPolicy {
  thresholdBytes: number;
  holdMs: number;
}

export const DEFAULT_DRIFT: DriftPolicy = {
  thresholdBytes: 1024 * 1024 * 1024,
  holdMs: 5 * 60_000,
};

/** Per GPU: since when it has been above the threshold, and whether that was reported. */
export type DriftState = ReadonlyMap<string, { since: number; raised: boolean }>;

export interface DriftAlert {
  kind: "raised" | "cleared";
  gpu: GpuUsage;
  /** How long it has been above the threshold (ms). */
  forMs: number;
}

/** The next drift state after a sample, and what changed: a GPU raised once it has stayed above
 * the threshold for holdMs, cleared once it drops below after being raised. */
export function watchDrift(
  state: DriftState,
  usage: NodeUsage,
  nowMs: number,
  policy: DriftPolicy,
): { state: DriftState; alerts: DriftAlert[] } {
  const next = new Map<string, { since: number; raised: boolean }>();
  const alerts: DriftAlert[] = [];
  for (const gpu of usage.gpus) {
    const before = state.get(gpu.uuid);
    const wasRaised = before?.raised === true;
    if ((gpu.untrackedBytes ?? 0) <= policy.thresholdBytes) {
      if (wasRaised) alerts.push({ kind: "cleared", gpu, forMs: 0 });
      continue;
    }
    const since = before?.since ?? nowMs;
    const raised = wasRaised || nowMs - since >= policy.holdMs;
    if (raised && !wasRaised) alerts.push({ kind: "raised", gpu, forMs: nowMs - since });
    next.set(gpu.uuid, { since, raised });
  }
  return { state: next, alerts };
}
