// Device fit (DESIGN.md section 3): can this node hold every GPU container of a pod, and on which
// devices? Pure: the node's devices and their current usage come in, a plan or the counted reasons
// for refusal go out. Reservation is the caller's business (at bind, against the live view).

import {
  addUsage,
  coreCapacity,
  memoryCapacity,
  NO_USAGE,
  NVIDIA,
  podUsage,
  sumUsage,
  type ContainerDevice,
  type Device,
  type DeviceUsage,
  type PodDevices,
  type Scaling,
} from "./device.js";
import type { PodPreferences } from "./pod-annotations.js";
import type { DeviceRequest, PodRequest } from "./pod-request.js";
import { FitReason } from "./reasons.js";

export interface NodeState {
  name: string;
  devices: readonly Device[];
  /** Usage by the pods already on the node, by device uuid (this pod excluded). */
  usage: ReadonlyMap<string, DeviceUsage>;
}

/** How devices are chosen on a node: binpack fills used devices first, spread prefers idle ones. */
export type GPUPolicy = "binpack" | "spread";

export interface FitOptions {
  scaling: Scaling;
  gpuPolicy: GPUPolicy;
  preferences: PodPreferences;
}

export type FitResult =
  | { fits: true; devices: PodDevices; usage: Map<string, DeviceUsage> }
  | {
      fits: false;
      reason: FitReason;
      /** How many devices were refused for each reason, for the container that did not fit. */
      counts: Partial<Record<FitReason, number>>;
      message: string;
    };

function memoryRequest(device: Device, request: DeviceRequest, scaling: Scaling): number {
  return "mib" in request.memory
    ? request.memory.mib
    : Math.floor((memoryCapacity(device, scaling) * request.memory.percent) / 100);
}

function matchesAny(value: string, needles: readonly string[]): boolean {
  const lower = value.toLowerCase();
  return needles.some((needle) => lower.includes(needle.toLowerCase()));
}

function filterReason(device: Device, prefs: PodPreferences): FitReason | undefined {
  if (!device.healthy) return FitReason.CardNotHealthy;
  if (prefs.useGPUUUID !== undefined && !prefs.useGPUUUID.includes(device.uuid))
    return FitReason.CardUuidMismatch;
  if (prefs.nouseGPUUUID?.includes(device.uuid) === true) return FitReason.CardUuidMismatch;
  if (prefs.useGPUType !== undefined && !matchesAny(device.type, prefs.useGPUType))
    return FitReason.CardTypeMismatch;
  if (prefs.nouseGPUType !== undefined && matchesAny(device.type, prefs.nouseGPUType))
    return FitReason.CardTypeMismatch;
  return undefined;
}

/** Why one device cannot take one slice of this request, or undefined when it can. */
export function deviceReason(
  device: Device,
  used: DeviceUsage,
  request: DeviceRequest,
  options: FitOptions,
): FitReason | undefined {
  const filtered = filterReason(device, options.preferences);
  if (filtered !== undefined) return filtered;
  if (used.slots >= device.splitCount) return FitReason.CardTimeSlicingExhausted;
  const cores = coreCapacity(device, options.scaling);
  if (request.cores >= 100 && used.slots > 0) return FitReason.ExclusiveDeviceAllocateConflict;
  if (used.cores >= cores) return FitReason.CardComputeUnitsExhausted;
  const memory = memoryRequest(device, request, options.scaling);
  if (memoryCapacity(device, options.scaling) - used.memoryMiB < memory)
    return FitReason.CardInsufficientMemory;
  if (cores - used.cores < request.cores) return FitReason.CardInsufficientCore;
  return undefined;
}

/** Load of a device in 0..1: the mean of its slot, memory and core fractions. */
export function deviceLoad(device: Device, used: DeviceUsage, scaling: Scaling): number {
  return (
    (used.slots / device.splitCount +
      used.memoryMiB / Math.max(1, memoryCapacity(device, scaling)) +
      used.cores / Math.max(1, coreCapacity(device, scaling))) /
    3
  );
}

function orderCandidates(
  candidates: Device[],
  usage: ReadonlyMap<string, DeviceUsage>,
  options: FitOptions,
): Device[] {
  const sign = options.gpuPolicy === "binpack" ? -1 : 1;
  const load = (d: Device) => deviceLoad(d, usage.get(d.uuid) ?? NO_USAGE, options.scaling);
  return [...candidates].sort((a, b) => sign * (load(a) - load(b)) || a.index - b.index);
}

/** Picks `count` devices, all on one NUMA node when the pod asks for NUMA binding. */
function pick(ordered: Device[], count: number, numaBind: boolean): Device[] | undefined {
  if (!numaBind) return ordered.length >= count ? ordered.slice(0, count) : undefined;
  const groups = new Map<number, Device[]>();
  for (const device of ordered)
    groups.set(device.numa, [...(groups.get(device.numa) ?? []), device]);
  for (const group of groups.values()) if (group.length >= count) return group.slice(0, count);
  return undefined;
}

function describeCounts(counts: Partial<Record<FitReason, number>>): string {
  return Object.entries(counts)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([reason, n]) => `${n} ${reason}`)
    .join(", ");
}

function fitContainer(
  node: NodeState,
  usage: ReadonlyMap<string, DeviceUsage>,
  slot: { name: string; request: DeviceRequest },
  options: FitOptions,
): ContainerDevice[] | Extract<FitResult, { fits: false }> {
  const { request } = slot;
  const counts: Partial<Record<FitReason, number>> = {};
  const candidates: Device[] = [];
  for (const device of node.devices) {
    const reason = deviceReason(device, usage.get(device.uuid) ?? NO_USAGE, request, options);
    if (reason === undefined) candidates.push(device);
    else counts[reason] = (counts[reason] ?? 0) + 1;
  }
  const numaBind = options.preferences.numaBind === true;
  const chosen = pick(orderCandidates(candidates, usage, options), request.count, numaBind);
  if (chosen !== undefined)
    return chosen.map((device) => ({
      uuid: device.uuid,
      type: NVIDIA,
      memoryMiB: memoryRequest(device, request, options.scaling),
      cores: request.cores,
    }));
  const reason =
    node.devices.length < request.count
      ? FitReason.NodeInsufficientDevice
      : candidates.length >= request.count
        ? FitReason.NumaNotFit
        : FitReason.NodeUnfitPod;
  if (reason === FitReason.NumaNotFit) counts.NumaNotFit = candidates.length;
  const detail = describeCounts(counts);
  return {
    fits: false,
    reason,
    counts,
    message: `${reason}: container ${slot.name} needs ${request.count} GPU(s), ${candidates.length} of ${node.devices.length} fit${detail === "" ? "" : ` (${detail})`}`,
  };
}

/** Plans every GPU container of a pod on one node. App containers are placed together (they run
 * together); each init container is placed against the node without this pod's app containers,
 * since init containers run alone and before them. */
export function fitPod(node: NodeState, request: PodRequest, options: FitOptions): FitResult {
  if (node.devices.length === 0 && request.slots.some((s) => (s.request?.count ?? 0) > 0))
    return {
      fits: false,
      reason: FitReason.NodeNoDevices,
      counts: {},
      message: `${FitReason.NodeNoDevices}: node ${node.name} registered no GPUs`,
    };
  let usage: ReadonlyMap<string, DeviceUsage> = node.usage;
  const devices: PodDevices = [];
  for (const slot of request.slots) {
    const wanted = slot.request;
    if (wanted === undefined || wanted.count === 0) {
      devices.push([]);
      continue;
    }
    const base = slot.init ? node.usage : usage;
    const result = fitContainer(node, base, { name: slot.name, request: wanted }, options);
    if (!Array.isArray(result)) return result;
    devices.push(result);
    if (!slot.init) usage = addUsage(usage, result);
  }
  return {
    fits: true,
    devices,
    usage: sumUsage([node.usage, podUsage(devices, request.appContainers)]),
  };
}
