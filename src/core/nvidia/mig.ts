// MIG, HAMi's way (Project-HAMi/HAMi at HEAD after v2.10.0): a GPU registered in operating mode
// "mig" lists its MIG profiles in the register annotation (pkg/device/devices.go MigProfile: name,
// memoryMB, core, sliceCount, placements of {start, size}); a container given such a GPU gets one
// whole instance: the smallest profile (by memory, then slice count) whose memory holds the request
// and that still has a placement overlapping no instance in use (pkg/device/nvidia/device.go
// selectMigCandidate, mig_topology.go selectMigPlacement: 1g. and 3g. profiles try the highest start
// first, others the lowest). Which instance each container got is the pod annotation
// hami.io/vgpu-mig-allocations (mig_allocations.go: JSON list of containerIndex, deviceIndex, gpuUUID,
// profile, placement, and, once the node realised it, migUUID, gpuInstanceID, computeInstanceID).
// Pure: decisions and codecs only.

import { z } from "zod";
import type { MigPlacement, MigProfile, MigSlice, PodDevices } from "../device.js";
import { allocationRecord, decodePodDevices, invalidAnnotation } from "../codec.js";
import type { HamiError } from "../errors.js";

/** HAMi's operating mode word for a GPU offered as MIG instances. */
export const MIG_MODE = "mig";

/** HAMi's pod annotation recording each container's MIG instance. */
export const MIG_ALLOCATIONS = "hami.io/vgpu-mig-allocations";

export function placementsOverlap(a: MigPlacement, b: MigPlacement): boolean {
  return a.start < b.start + b.size && b.start < a.start + a.size;
}

function placementOrder(profile: string, placements: readonly MigPlacement[]): MigPlacement[] {
  const high = profile.startsWith("1g.") || profile.startsWith("3g.");
  return [...placements].sort((a, b) => (high ? b.start - a.start : a.start - b.start));
}

/** The instance HAMi would give a container asking `memoryMiB` on a GPU whose instances in use sit
 * at `occupied`, or undefined when no profile that holds it has a free placement. */
export function migChoice(
  profiles: readonly MigProfile[],
  occupied: readonly MigPlacement[],
  memoryMiB: number,
): (MigSlice & { memoryMiB: number; cores: number }) | undefined {
  const candidates = [...profiles].sort(
    (a, b) => a.memoryMiB - b.memoryMiB || a.sliceCount - b.sliceCount,
  );
  for (const profile of candidates) {
    if (profile.memoryMiB < memoryMiB) continue;
    const placement = placementOrder(profile.name, profile.placements).find(
      (candidate) => !occupied.some((used) => placementsOverlap(candidate, used)),
    );
    if (placement !== undefined)
      return {
        profile: profile.name,
        placement,
        memoryMiB: profile.memoryMiB,
        cores: profile.cores,
      };
  }
  return undefined;
}

/** One entry of hami.io/vgpu-mig-allocations. */
export interface MigAllocation {
  containerIndex: number;
  deviceIndex: number;
  gpuUUID: string;
  profile: string;
  placement: MigPlacement;
  /** Set by the node once the instance is known (all three or none). */
  migUUID?: string;
  gpuInstanceID?: number;
  computeInstanceID?: number;
}

const uint32 = z
  .number()
  .int()
  .min(0)
  .max(2 ** 32 - 1);
const allocationSchema = z.looseObject({
  containerIndex: z.number().int().min(0).max(1023),
  deviceIndex: z.number().int().min(0).max(1023),
  gpuUUID: z.string().min(1).max(256),
  profile: z.string().min(1).max(64),
  placement: z.looseObject({ start: uint32, size: uint32.min(1) }),
  migUUID: z.string().max(256).optional(),
  gpuInstanceID: uint32.optional(),
  computeInstanceID: uint32.optional(),
});
const allocationsSchema = z.array(allocationSchema).max(4096).nullable();

function invalid(raw: string, message: string): HamiError {
  return invalidAnnotation(MIG_ALLOCATIONS, raw, message);
}

/** HAMi's EncodeMigAllocations bytes (Go's json.Marshal of its struct: field order, omitempty on the
 * runtime identity), or undefined when no container holds a MIG instance. */
export function encodeMigAllocations(devices: PodDevices): string | undefined {
  const entries: string[] = [];
  devices.forEach((container, containerIndex) => {
    container.forEach((device, deviceIndex) => {
      if (device.mig === undefined) return;
      const { profile, placement } = device.mig;
      entries.push(
        `{"containerIndex":${containerIndex},"deviceIndex":${deviceIndex},"gpuUUID":${JSON.stringify(device.uuid)},"profile":${JSON.stringify(profile)},"placement":{"start":${placement.start},"size":${placement.size}}}`,
      );
    });
  });
  return entries.length === 0 ? undefined : `[${entries.join(",")}]`;
}

/** Reads hami.io/vgpu-mig-allocations with HAMi's checks (DecodeMigAllocations): complete entries,
 * runtime identity all or nothing, one entry per container device. */
export function decodeMigAllocations(raw: string): MigAllocation[] {
  if (raw === "") return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw invalid(raw, `not JSON: ${(error as Error).message}`);
  }
  const result = allocationsSchema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw invalid(raw, `${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`);
  }
  const seen = new Set<string>();
  return (result.data ?? []).map((entry, i) => {
    const runtime = [entry.migUUID, entry.gpuInstanceID, entry.computeInstanceID].filter(
      (field) => field !== undefined && field !== "",
    ).length;
    if (runtime !== 0 && runtime !== 3)
      throw invalid(raw, `entry ${i} has a partial runtime identity`);
    const key = `${entry.containerIndex}/${entry.deviceIndex}`;
    if (seen.has(key))
      throw invalid(
        raw,
        `container ${entry.containerIndex} device ${entry.deviceIndex} is listed twice`,
      );
    seen.add(key);
    const allocation: MigAllocation = {
      containerIndex: entry.containerIndex,
      deviceIndex: entry.deviceIndex,
      gpuUUID: entry.gpuUUID,
      profile: entry.profile,
      placement: { start: entry.placement.start, size: entry.placement.size },
    };
    if (runtime === 3) {
      allocation.migUUID = entry.migUUID;
      allocation.gpuInstanceID = entry.gpuInstanceID;
      allocation.computeInstanceID = entry.computeInstanceID;
    }
    return allocation;
  });
}

/** The pod's devices with each MIG instance attached to the container device it names; an entry
 * naming a device that is not there, or another GPU, is an error (the two annotations disagree). */
export function withMigSlices(
  devices: PodDevices,
  allocations: readonly MigAllocation[],
): PodDevices {
  if (allocations.length === 0) return devices;
  const result = devices.map((container) => container.map((device) => ({ ...device })));
  for (const allocation of allocations) {
    const device = result[allocation.containerIndex]?.[allocation.deviceIndex];
    if (device?.uuid !== allocation.gpuUUID)
      throw invalid(
        JSON.stringify(allocation),
        `container ${allocation.containerIndex} device ${allocation.deviceIndex} is not ${allocation.gpuUUID} in the pod's allocation`,
      );
    device.mig = { profile: allocation.profile, placement: allocation.placement };
  }
  return result;
}

/** A pod's planned devices (the allocation record allocationRecord names) with the MIG instances
 * its hami.io/vgpu-mig-allocations records; undefined when it has no allocation record. */
export function plannedDevices(
  annotations: Readonly<Record<string, string>>,
): PodDevices | undefined {
  const { key, raw } = allocationRecord(annotations);
  return raw === undefined ? undefined : attachMigSlices(decodePodDevices(raw, key), annotations);
}

/** A MIG instance as the page, status and errors show it: "1g.10gb at 2:1". */
export function migSliceText(slice: MigSlice): string {
  return `${slice.profile} at ${slice.placement.start}:${slice.placement.size}`;
}

/** A pod's devices as decoded from its allocation annotation, with the MIG instances its
 * hami.io/vgpu-mig-allocations records (unchanged when it has none). */
export function attachMigSlices(
  devices: PodDevices,
  annotations: Readonly<Record<string, string>>,
): PodDevices {
  const raw = annotations[MIG_ALLOCATIONS];
  return raw === undefined ? devices : withMigSlices(devices, decodeMigAllocations(raw));
}

/** Per profile, how many of its placements are free (overlap no instance in use) of how many. */
export function migFree(
  profiles: readonly MigProfile[],
  occupied: readonly MigPlacement[],
): { profile: string; free: number; total: number }[] {
  return profiles.map((p) => ({
    profile: p.name,
    free: p.placements.filter((at) => !occupied.some((used) => placementsOverlap(at, used))).length,
    total: p.placements.length,
  }));
}
