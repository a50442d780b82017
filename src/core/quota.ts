// Namespace GPU quota, as HAMi enforces it (Project-HAMi/HAMi pkg/device/quota.go, webhook.go
// fitResourceQuota, nvidia/device.go fitQuota): a ResourceQuota's `limits.<gpumem name>` caps the
// MiB a namespace's pods hold over all their devices, `limits.<gpucores name>` their cores; the
// memory limit counts in gpumem units (x memoryFactor). Usage is what placed pods hold (an init
// container's peak counted as the pod's effective request). Pure: limits and usage come in as data.

import { podUsage, type DeviceUsage, type PodDevices } from "./device.js";
import type { PodRequest } from "./pod-request.js";
import type { ResourceNames } from "./types.js";

export interface QuotaAmount {
  memoryMiB: number;
  cores: number;
}

/** A namespace's limits (absent: no limit) and what its placed pods hold. */
export interface NamespaceQuota {
  namespace: string;
  memoryMiB?: number;
  cores?: number;
  used: QuotaAmount;
}

/** What a pod's per-device usage counts against its namespace's quota: summed over its devices. */
export function quotaUsage(usage: ReadonlyMap<string, DeviceUsage>): QuotaAmount {
  let memoryMiB = 0;
  let cores = 0;
  for (const u of usage.values()) {
    memoryMiB += u.memoryMiB;
    cores += u.cores;
  }
  return { memoryMiB, cores };
}

/** What a placed pod counts against its namespace's quota. */
export function podQuotaUsage(devices: PodDevices, initContainers: number): QuotaAmount {
  return quotaUsage(podUsage(devices, initContainers));
}

/** What admission can count before placement: MiB and cores times the GPU count; a percentage is
 * resolved only against the chosen card, so it is checked at placement. */
export function requestQuotaUsage(request: PodRequest): QuotaAmount {
  const apps = { memoryMiB: 0, cores: 0 };
  const inits = { memoryMiB: 0, cores: 0 };
  for (const slot of request.slots) {
    const r = slot.request;
    if (r === undefined || r.count === 0) continue;
    const memoryMiB = "mib" in r.memory ? r.memory.mib * r.count : 0;
    const cores = r.cores * r.count;
    if (slot.init) {
      inits.memoryMiB = Math.max(inits.memoryMiB, memoryMiB);
      inits.cores = Math.max(inits.cores, cores);
    } else {
      apps.memoryMiB += memoryMiB;
      apps.cores += cores;
    }
  }
  return {
    memoryMiB: Math.max(apps.memoryMiB, inits.memoryMiB),
    cores: Math.max(apps.cores, inits.cores),
  };
}

/** The ResourceQuota entries HAMi reads: `limits.` + the gpumem and gpucores resource names. */
export function quotaResourceNames(names: ResourceNames): { memory: string; cores: string } {
  return { memory: `limits.${names.memory}`, cores: `limits.${names.cores}` };
}

export interface QuotaNames {
  /** The quota resource names, e.g. limits.nvidia.com/gpumem and limits.nvidia.com/gpucores. */
  memory: string;
  cores: string;
  memoryFactor: number;
}

/** Why asking `asked` more would exceed the namespace's quota, or undefined when it fits. */
export function quotaExceeded(
  quota: NamespaceQuota,
  asked: QuotaAmount,
  names: QuotaNames,
): string | undefined {
  const { memoryMiB, cores, used, namespace } = quota;
  if (memoryMiB !== undefined && asked.memoryMiB > 0) {
    const limit = memoryMiB * names.memoryFactor;
    if (used.memoryMiB + asked.memoryMiB > limit)
      return `ResourceQuotaNotFit: namespace ${namespace} quota ${names.memory}: used ${used.memoryMiB} MiB + asked ${asked.memoryMiB} MiB > limit ${limit} MiB`;
  }
  if (cores !== undefined && asked.cores > 0 && used.cores + asked.cores > cores)
    return `ResourceQuotaNotFit: namespace ${namespace} quota ${names.cores}: used ${used.cores} + asked ${asked.cores} > limit ${cores}`;
  return undefined;
}
