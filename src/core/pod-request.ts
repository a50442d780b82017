// What a pod asks of GPUs, per container, with the same defaults the webhook writes (a pod that
// bypassed the webhook is placed as if it had been mutated). Order matches PodDevices: init
// containers in spec order, then app containers (HAMi's order since v2.9).

import { asksForGPU, readContainerRequest } from "./container-request.js";
import type { Device } from "./device.js";
import type { ContainerGPURequest, Pod, ResourceNames } from "./types.js";

/** One container's per-device request, defaults applied. Memory is MiB or a percentage. */
export interface DeviceRequest {
  count: number;
  memory: { mib: number } | { percent: number };
  cores: number;
}

/** MiB, or the percentage of the registered (scaled) memory, truncated as HAMi does. */
export function memoryRequest(device: Device, request: DeviceRequest): number {
  return memoryOn(device.memoryMiB, request);
}

/** memoryRequest on a device of `capacityMiB`. */
export function memoryOn(capacityMiB: number, request: DeviceRequest): number {
  return "mib" in request.memory
    ? request.memory.mib
    : Math.floor((capacityMiB * request.memory.percent) / 100);
}

export interface ContainerSlot {
  name: string;
  init: boolean;
  /** Undefined for a container that asks no GPU. */
  request?: DeviceRequest;
}

export interface PodRequest {
  slots: ContainerSlot[];
  /** The first this many slots are init containers. */
  initContainers: number;
}

export interface RequestDefaults {
  resourceNames: ResourceNames;
  defaultMemory: number;
  defaultCores: number;
  defaultGPUNum: number;
  /** gpumem is counted in units of this many MiB (HAMi's memoryFactor). */
  memoryFactor: number;
}

/** HAMi's exclusive default (its webhook's defaultExclusiveCoreIfNeeded): a container that names no
 * cores gets 100 when its percentage is 100, or when it names no memory at all. */
export function exclusiveByDefault(raw: ContainerGPURequest): boolean {
  if (raw.cores !== undefined) return false;
  if (raw.memoryPercentage !== undefined) return raw.memoryPercentage === 100;
  return raw.memoryMiB === undefined;
}

/** One container's per-device request as HAMi's scheduler reads it (GenerateResourceRequests):
 * MiB x memoryFactor, else a percentage, else defaultMemory (0 = 100%); 0 means unset. */
export function deviceRequest(raw: ContainerGPURequest, defaults: RequestDefaults): DeviceRequest {
  const memory =
    raw.memoryMiB !== undefined && raw.memoryMiB > 0
      ? { mib: raw.memoryMiB * defaults.memoryFactor }
      : raw.memoryPercentage !== undefined && raw.memoryPercentage > 0
        ? { percent: raw.memoryPercentage }
        : defaults.defaultMemory > 0
          ? { mib: defaults.defaultMemory }
          : { percent: 100 };
  const cores = exclusiveByDefault(raw) ? 100 : Math.min(100, raw.cores ?? defaults.defaultCores);
  return { count: raw.count ?? defaults.defaultGPUNum, memory, cores };
}

/** Reads every container's request; throws HamiError naming the field on an invalid value. */
export function podRequest(pod: Pod, defaults: RequestDefaults): PodRequest {
  const read = (container: Pod["spec"]["containers"][number], path: string, init: boolean) => {
    const raw = readContainerRequest(container, defaults.resourceNames, path);
    if (!asksForGPU(raw)) return { name: container.name, init };
    return { name: container.name, init, request: deviceRequest(raw, defaults) };
  };
  const inits = (pod.spec.initContainers ?? []).map((c, i) =>
    read(c, `spec.initContainers[${i}]`, true),
  );
  const apps = pod.spec.containers.map((c, i) => read(c, `spec.containers[${i}]`, false));
  return { slots: [...inits, ...apps], initContainers: inits.length };
}

/** True when any container asks for a GPU. */
export function asksForDevices(request: PodRequest): boolean {
  return request.slots.some((slot) => slot.request !== undefined && slot.request.count > 0);
}
