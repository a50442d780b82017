// The vendor seam (DESIGN.md section 7): what differs between device vendors, as decisions only
// (HAMi's Devices interface, pkg/device/devices.go, without its I/O: no node locks, no API calls).
// The generic fit (fit.ts) filters a node's devices by health, cordon, UUID and type, enforces the
// device's share count and the mutex policy, orders and picks devices (binpack/spread, NUMA,
// topology) and keeps the pod's running usage; the vendor says whether one device can take one more
// container and what that container then takes, and what the node answers the kubelet's Allocate.
// NVIDIA (core/nvidia/) is the first vendor; nothing in fit, score or placement names it.

import type { AllocatePolicy, ContainerIdentity, ContainerResponse } from "./allocate.js";
import type { ContainerDevice, Device, DeviceUsage } from "./device.js";
import type { DeviceRequest } from "./pod-request.js";
import type { FitReason } from "./reasons.js";

export interface Vendor {
  /** HAMi's CommonWord: the device type written in pod allocation annotations ("NVIDIA"). */
  readonly word: string;
  /** Why `device`, with `used` taken already, cannot take one more container asking `request`
   * (its memory, compute and any vendor rule), or undefined when it can. */
  capacityReason(device: Device, used: DeviceUsage, request: DeviceRequest): FitReason | undefined;
  /** What a container asking `request` takes on a device it was given (after capacityReason said
   * yes with the same `used`). */
  slice(device: Device, used: DeviceUsage, request: DeviceRequest): ContainerDevice;
  /** Filter's fast path (device-table.ts): which devices capacityReason judges from numbers alone
   * (`plain`), and its verdict from their row (`fits`: the container asks `memoryMiB` there and
   * `cores`). Absent: every node takes the general path. */
  readonly rows?: {
    plain: (device: Device) => boolean;
    reason: (
      row: Float64Array,
      at: number,
      memoryMiB: number,
      cores: number,
    ) => FitReason | undefined;
  };
  /** The Allocate answer for one container; `devices` are as the container sees them. */
  containerResponse(
    devices: readonly ContainerDevice[],
    who: ContainerIdentity,
    policy: AllocatePolicy,
    cacheFileId: string,
  ): ContainerResponse;
}
