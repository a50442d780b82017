// A second device vendor for the tests of the vendor seam: "Acme NPU", made up, deliberately unlike
// NVIDIA. Its memory is given in whole 4096 MiB blocks (a request is rounded up), it has no compute
// share (cores are never booked), and its Allocate answer is its own environment, without HAMi-core.
// Only core's Vendor interface is used: if the generic fit leaned on NVIDIA's rules, these tests
// would see it.

import {
  FitReason,
  memoryRequest,
  type ContainerDevice,
  type Device,
  type DeviceRequest,
  type DeviceUsage,
  type Vendor,
} from "../../src/core/index.js";

export const BLOCK_MIB = 4096;

const blocks = (mib: number): number => Math.ceil(mib / BLOCK_MIB);

export const acme: Vendor = {
  word: "ACME",
  capacityReason(device: Device, used: DeviceUsage, request: DeviceRequest) {
    const free = blocks(device.memoryMiB) - blocks(used.memoryMiB);
    return blocks(memoryRequest(device, request)) > free
      ? FitReason.CardInsufficientMemory
      : undefined;
  },
  slice(device: Device, _used: DeviceUsage, request: DeviceRequest): ContainerDevice {
    const memoryMiB = blocks(memoryRequest(device, request)) * BLOCK_MIB;
    return { uuid: device.uuid, type: "ACME", memoryMiB, cores: 0 };
  },
  containerResponse(devices) {
    const envs: Record<string, string> = {
      ACME_VISIBLE_DEVICES: devices.map((d) => d.uuid).join(","),
    };
    devices.forEach((d, i) => {
      envs[`ACME_MEMORY_BLOCKS_${i}`] = String(d.memoryMiB / BLOCK_MIB);
    });
    return { envs, mounts: [] };
  },
};
