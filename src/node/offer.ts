// How discovered GPUs are offered: HAMi registers memory x deviceMemoryScaling and 100 x
// deviceCoreScaling (Project-HAMi/HAMi, nvinternal/plugin/register.go), so the scheduler never
// scales again. A GPU with MIG mode on is offered by its MIG instances (mode "mig": devcore 100, the
// card's memory, count = its instances, its profiles and their placements) when the node's operating
// mode is mig or its migstrategy is mixed; otherwise HAMi-core cannot share it and it is unhealthy.

import { status } from "@grpc/grpc-js";
import {
  HAMI_CORE_MODE,
  MIG_MODE,
  migSliceText,
  type ContainerDevice,
  type Device,
  type MigPlacement,
  type MigProfile,
} from "../core/index.js";
import { AllocateError } from "./plugin.js";
import type { DiscoveredGpu } from "./discovery.js";
import type { MigInstance } from "./mig-discovery.js";

/** HAMi's migProfileAllowlist entry: for GPUs whose type contains one of `models`, only these
 * profiles are offered (the first matching entry applies; no entry matches: none is offered). */
export interface MigAllowlistEntry {
  models: readonly string[];
  profiles: readonly string[];
}

export interface Offer {
  splitCount: number;
  memoryScaling: number;
  coreScaling: number;
  /** Present when MIG-enabled GPUs are offered by instance; an empty allowlist offers every
   * instance that exists. */
  mig?: { allowlist: readonly MigAllowlistEntry[] };
}

/** The instances the allowlist lets through for a GPU of this type. */
function allowed(
  type: string,
  instances: readonly MigInstance[],
  allowlist: readonly MigAllowlistEntry[],
): MigInstance[] {
  if (allowlist.length === 0) return [...instances];
  const entry = allowlist.find((e) => e.models.some((model) => type.includes(model)));
  return instances.filter((i) => entry?.profiles.includes(i.profile) === true);
}

/** A discovered GPU as it will be offered: a MIG-enabled one keeps only the instances offered, and
 * is unhealthy, with why, when MIG is not offered or none of its instances is. Idempotent. */
export function offered(gpu: DiscoveredGpu, offer: Offer): DiscoveredGpu {
  if (gpu.mig === undefined) return gpu;
  if (offer.mig === undefined)
    return {
      ...gpu,
      healthy: false,
      problem: "MIG mode is on (offered only with operating mode mig or migstrategy mixed)",
    };
  const instances = allowed(gpu.type, gpu.mig, offer.mig.allowlist);
  if (instances.length > 0) return { ...gpu, mig: instances };
  return {
    ...gpu,
    mig: instances,
    healthy: false,
    problem: gpu.problem ?? "MIG mode is on, but no MIG instance exists or is allowed",
  };
}

/** Instances grouped by profile, placements by start (HAMi's MigProfile list). */
export function migProfiles(instances: readonly MigInstance[]): MigProfile[] {
  const profiles = new Map<string, MigProfile & { placements: MigInstance["placement"][] }>();
  for (const i of [...instances].sort((a, b) => a.placement.start - b.placement.start)) {
    const known = profiles.get(i.profile);
    if (known === undefined)
      profiles.set(i.profile, {
        name: i.profile,
        memoryMiB: i.memoryMiB,
        cores: i.cores,
        sliceCount: i.sliceCount,
        placements: [i.placement],
      });
    else known.placements.push(i.placement);
  }
  return [...profiles.values()];
}

function toDevice(gpu: DiscoveredGpu, offer: Offer): Device {
  const base = { uuid: gpu.uuid, index: gpu.index, type: gpu.type, numa: gpu.numa };
  if (gpu.mig !== undefined && offer.mig !== undefined && gpu.healthy)
    return {
      ...base,
      memoryMiB: gpu.memoryMiB,
      cores: 100,
      splitCount: gpu.mig.length,
      mode: MIG_MODE,
      migProfiles: migProfiles(gpu.mig),
      healthy: true,
    };
  return {
    ...base,
    memoryMiB: Math.trunc(gpu.memoryMiB * offer.memoryScaling),
    cores: Math.trunc(100 * offer.coreScaling),
    splitCount: offer.splitCount,
    mode: HAMI_CORE_MODE,
    healthy: gpu.healthy,
  };
}

/** Discovered GPUs as registered devices; a GPU seen before and now missing stays, unhealthy. */
export function toDevices(
  found: readonly DiscoveredGpu[],
  known: readonly Device[],
  offer: Offer,
): Device[] {
  const devices = found.map((gpu) => toDevice(offered(gpu, offer), offer));
  const present = new Set(devices.map((d) => d.uuid));
  for (const gone of known) if (!present.has(gone.uuid)) devices.push({ ...gone, healthy: false });
  return devices;
}

/** The MIG UUID of the instance at `placement` on GPU `gpu`, from the last discovery. */
export function migUuids(found: readonly DiscoveredGpu[]): Map<string, string> {
  const uuids = new Map<string, string>();
  for (const gpu of found)
    for (const i of gpu.mig ?? [])
      uuids.set(migKey(gpu.uuid, i.placement.start, i.placement.size), i.uuid);
  return uuids;
}

export function migKey(gpu: string, start: number, size: number): string {
  return `${gpu}/${start}:${size}`;
}

/** A container's devices as it sees them: a MIG instance by its MIG UUID (its `mig` kept). An
 * instance that no longer exists fails the Allocate call, naming it. */
export function visibleDevices(
  devices: readonly ContainerDevice[],
  migDevice: ((gpu: string, placement: MigPlacement) => string | undefined) | undefined,
): ContainerDevice[] {
  return devices.map((device) => {
    if (device.mig === undefined) return device;
    const uuid = migDevice?.(device.uuid, device.mig.placement);
    if (uuid === undefined)
      throw new AllocateError(
        status.FAILED_PRECONDITION,
        `no MIG instance ${migSliceText(device.mig)} on ${device.uuid} (destroyed or reconfigured?)`,
      );
    return { ...device, uuid };
  });
}
