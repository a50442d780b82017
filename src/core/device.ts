// Devices as the scheduler and the node agent see them, and what is in use on each. Plain data; the
// annotation codecs (codec.ts) turn them into HAMi's strings and back.

/** One physical GPU of a node, as its agent registered it. */
export interface Device {
  uuid: string;
  /** Position on the node (order of registration). */
  index: number;
  /** Model name, e.g. "NVIDIA-A100-SXM4-80GB"; type filters match substrings of it. */
  type: string;
  memoryMiB: number;
  /** Compute units in percent of the device, 100 for a whole GPU. */
  cores: number;
  /** How many containers may share it (deviceSplitCount). */
  splitCount: number;
  numa: number;
  healthy: boolean;
}

/** One device slice given to one container (HAMi's ContainerDevice). */
export interface ContainerDevice {
  uuid: string;
  /** The vendor word HAMi writes here ("NVIDIA"). */
  type: string;
  memoryMiB: number;
  cores: number;
}

/** Devices of each container of a pod: app containers in spec order, then init containers. */
export type PodDevices = ContainerDevice[][];

/** What is taken on one device by the pods placed on it. */
export interface DeviceUsage {
  slots: number;
  memoryMiB: number;
  cores: number;
}

/** Oversubscription factors from config (deviceMemoryScaling, deviceCoreScaling). */
export interface Scaling {
  memory: number;
  cores: number;
}

/** The word HAMi writes as the device type in pod allocation annotations. */
export const NVIDIA = "NVIDIA";

export const NO_USAGE: Readonly<DeviceUsage> = { slots: 0, memoryMiB: 0, cores: 0 };

/** Memory a device offers to slices: its memory times deviceMemoryScaling. */
export function memoryCapacity(device: Device, scaling: Scaling): number {
  return Math.floor(device.memoryMiB * scaling.memory);
}

export function coreCapacity(device: Device, scaling: Scaling): number {
  return Math.floor(device.cores * scaling.cores);
}

/** Adds one slice to a usage map (copy-on-write: returns a new map). */
export function addUsage(
  usage: ReadonlyMap<string, DeviceUsage>,
  slices: readonly ContainerDevice[],
): Map<string, DeviceUsage> {
  const next = new Map(usage);
  for (const slice of slices) {
    const current = next.get(slice.uuid) ?? NO_USAGE;
    next.set(slice.uuid, {
      slots: current.slots + 1,
      memoryMiB: current.memoryMiB + slice.memoryMiB,
      cores: current.cores + slice.cores,
    });
  }
  return next;
}

/** What a pod takes per device. Init containers run one at a time before the app containers, so a
 * pod holds, per device, the larger of its app containers' sum and its biggest init container:
 * Kubernetes' effective-request rule applied per device. */
export function podUsage(devices: PodDevices, appContainers: number): Map<string, DeviceUsage> {
  const apps = devices.slice(0, appContainers).reduce((usage, c) => addUsage(usage, c), new Map());
  const result = new Map<string, DeviceUsage>(apps);
  for (const init of devices.slice(appContainers)) {
    for (const [uuid, one] of addUsage(new Map(), init)) {
      const current = result.get(uuid) ?? NO_USAGE;
      result.set(uuid, {
        slots: Math.max(current.slots, one.slots),
        memoryMiB: Math.max(current.memoryMiB, one.memoryMiB),
        cores: Math.max(current.cores, one.cores),
      });
    }
  }
  return result;
}

/** Sums per-pod usages into one node usage map. */
export function sumUsage(
  usages: Iterable<ReadonlyMap<string, DeviceUsage>>,
): Map<string, DeviceUsage> {
  const total = new Map<string, DeviceUsage>();
  for (const usage of usages) {
    for (const [uuid, u] of usage) {
      const current = total.get(uuid) ?? NO_USAGE;
      total.set(uuid, {
        slots: current.slots + u.slots,
        memoryMiB: current.memoryMiB + u.memoryMiB,
        cores: current.cores + u.cores,
      });
    }
  }
  return total;
}
