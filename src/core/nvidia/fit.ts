// NVIDIA's per-device rules (Project-HAMi/HAMi pkg/device/nvidia/device.go Fit, CustomFilterRule,
// AddResourceUsage): on a GPU shared through HAMi-core, free memory, then cores in HAMi's order; on
// a GPU in mode mig, the same checks and then a free instance that holds the request (mig.ts), and
// the container takes that whole instance.

import type { ContainerDevice, Device, DeviceUsage } from "../device.js";
import { CAPACITY_CORES, CAPACITY_MIB, USED_CORES, USED_MIB, USED_SLOTS } from "../device-table.js";
import { memoryRequest, type DeviceRequest } from "../pod-request.js";
import { FitReason } from "../reasons.js";
import { MIG_MODE, migChoice } from "./mig.js";

/** The word HAMi writes as the device type in pod allocation annotations. */
export const NVIDIA = "NVIDIA";

/** HAMi's order of core checks: the card's cores, those in use, containers on it, the request. */
function coreReason(
  capacity: number,
  used: number,
  slots: number,
  cores: number,
): FitReason | undefined {
  if (capacity - used < cores) return FitReason.CardInsufficientCore;
  // 100 cores asks for the card alone, but only where a card is 100 (deviceCoreScaling 1).
  if (capacity === 100 && cores === 100 && slots > 0)
    return FitReason.ExclusiveDeviceAllocateConflict;
  if (capacity !== 0 && used >= capacity && cores === 0) return FitReason.CardComputeUnitsExhausted;
  return undefined;
}

/** The MIG instance a container asking `memoryMiB` gets on a GPU in mode mig. */
function migInstance(device: Device, used: DeviceUsage, memoryMiB: number) {
  return migChoice(device.migProfiles ?? [], used.mig ?? [], memoryMiB);
}

export function capacityReason(
  device: Device,
  used: DeviceUsage,
  request: DeviceRequest,
): FitReason | undefined {
  const memory = memoryRequest(device, request);
  if (device.memoryMiB - used.memoryMiB < memory) return FitReason.CardInsufficientMemory;
  const core = coreReason(device.cores, used.cores, used.slots, request.cores);
  if (core !== undefined || device.mode !== MIG_MODE) return core;
  return migInstance(device, used, memory) === undefined
    ? FitReason.CardMigTopologyInfeasible
    : undefined;
}

/** capacityReason on a GPU shared through HAMi-core, from its device-table row. */
export function rowReason(
  row: Float64Array,
  at: number,
  memoryMiB: number,
  cores: number,
): FitReason | undefined {
  const free = (row[at + CAPACITY_MIB] ?? 0) - (row[at + USED_MIB] ?? 0);
  if (free < memoryMiB) return FitReason.CardInsufficientMemory;
  const capacity = row[at + CAPACITY_CORES] ?? 0;
  const used = row[at + USED_CORES] ?? 0;
  return coreReason(capacity, used, row[at + USED_SLOTS] ?? 0, cores);
}

/** Every mode but mig needs nothing but numbers. */
export const plainDevice = (device: Device): boolean => device.mode !== MIG_MODE;

/** What one container takes on one GPU it was given: its request, or on a GPU in mode mig the
 * whole instance it gets (the profile's memory and cores, as HAMi's AddResourceUsage). */
export function slice(device: Device, used: DeviceUsage, request: DeviceRequest): ContainerDevice {
  const memoryMiB = memoryRequest(device, request);
  const instance = device.mode === MIG_MODE ? migInstance(device, used, memoryMiB) : undefined;
  if (instance === undefined)
    return { uuid: device.uuid, type: NVIDIA, memoryMiB, cores: request.cores };
  const { profile, placement } = instance;
  return {
    uuid: device.uuid,
    type: NVIDIA,
    memoryMiB: instance.memoryMiB,
    cores: instance.cores,
    mig: { profile, placement },
  };
}
