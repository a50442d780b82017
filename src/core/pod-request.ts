// What a pod asks of GPUs, per container, with the same defaults the webhook writes (a pod that
// bypassed the webhook is placed as if it had been mutated). Order matches PodDevices: app
// containers in spec order, then init containers.

import { asksForGPU, readContainerRequest } from "./container-request.js";
import type { Pod, ResourceNames } from "./types.js";

/** One container's per-device request, defaults applied. Memory is MiB or a percentage. */
export interface DeviceRequest {
  count: number;
  memory: { mib: number } | { percent: number };
  cores: number;
}

export interface ContainerSlot {
  name: string;
  init: boolean;
  /** Undefined for a container that asks no GPU. */
  request?: DeviceRequest;
}

export interface PodRequest {
  slots: ContainerSlot[];
  appContainers: number;
}

export interface RequestDefaults {
  resourceNames: ResourceNames;
  defaultMemory: number;
  defaultCores: number;
  defaultGPUNum: number;
  maxGPUCount: number;
}

/** Reads every container's request; throws HamiError naming the field on an invalid value. */
export function podRequest(pod: Pod, defaults: RequestDefaults): PodRequest {
  const read = (container: Pod["spec"]["containers"][number], path: string, init: boolean) => {
    const raw = readContainerRequest(container, defaults.resourceNames, defaults, path);
    if (!asksForGPU(raw)) return { name: container.name, init };
    const memory =
      raw.memoryMiB !== undefined
        ? { mib: raw.memoryMiB }
        : raw.memoryPercentage !== undefined
          ? { percent: raw.memoryPercentage }
          : defaults.defaultMemory > 0
            ? { mib: defaults.defaultMemory }
            : { percent: 100 };
    const whole = "percent" in memory && memory.percent === 100;
    const cores =
      raw.cores ?? (defaults.defaultCores > 0 ? defaults.defaultCores : whole ? 100 : 0);
    const request: DeviceRequest = { count: raw.count ?? defaults.defaultGPUNum, memory, cores };
    return { name: container.name, init, request };
  };
  const apps = pod.spec.containers.map((c, i) => read(c, `spec.containers[${i}]`, false));
  const inits = (pod.spec.initContainers ?? []).map((c, i) =>
    read(c, `spec.initContainers[${i}]`, true),
  );
  return { slots: [...apps, ...inits], appContainers: apps.length };
}

/** True when any container asks for a GPU. */
export function asksForDevices(request: PodRequest): boolean {
  return request.slots.some((slot) => slot.request !== undefined && slot.request.count > 0);
}
