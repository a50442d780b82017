// NVIDIA's per-device rules (Project-HAMi/HAMi pkg/device/nvidia/device.go Fit, CustomFilterRule,
// AddResourceUsage): on a GPU shared through HAMi-core, free memory, then cores in HAMi's order; on
// a GPU in mode mig, the same checks and then a free instance that holds the request (mig.ts), and
// the container takes that whole instance.

import type { ContainerDevice, Device, DeviceUsage } from "../device.js";
import { memoryRequest, type DeviceRequest } from "../pod-request.js";
import { FitReason } from "../reasons.js";
import { MIG_MODE, migChoice } from "./mig.js";

/** The word HAMi writes as the device type in pod allocation annotations. */
export const NVIDIA = "NVIDIA";

/** HAMi's order of core checks. */
function coreReason(device: Device, used: DeviceUsage, cores: number): FitReason | undefined {
  if (device.cores - used.cores < cores) return FitReason.CardInsufficientCore;
  // 100 cores asks for the card alone, but only where a card is 100 (deviceCoreScaling 1).
  if (device.cores === 100 && cores === 100 && used.slots > 0)
    return FitReason.ExclusiveDeviceAllocateConflict;
  if (device.cores !== 0 && used.cores >= device.cores && cores === 0)
    return FitReason.CardComputeUnitsExhausted;
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
  const core = coreReason(device, used, request.cores);
  if (core !== undefined || device.mode !== MIG_MODE) return core;
  return migInstance(device, used, memory) === undefined
    ? FitReason.CardMigTopologyInfeasible
    : undefined;
}

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
