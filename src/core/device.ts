// Devices as the scheduler and the node agent see them, and what is in use on each. Plain data; the
// annotation codecs (codec.ts) turn them into HAMi's strings and back.

/** One physical GPU of a node, as its agent registered it. */
export interface Device {
  uuid: string;
  /** Position on the node (order of registration). */
  index: number;
  /** Model as NVML names it, "NVIDIA-" prefixed when missing ("NVIDIA-Tesla T4"); type filters
   * match substrings of it. */
  type: string;
  /** Memory slices may take: the card's MiB x deviceMemoryScaling, as registered (HAMi's devmem). */
  memoryMiB: number;
  /** Compute slices may take, 100 x deviceCoreScaling, as registered (HAMi's devcore). */
  cores: number;
  /** How many containers may share it (deviceSplitCount). */
  splitCount: number;
  numa: number;
  /** HAMi's operating mode ("hami-core"; "mig" and "mps" are not served by us). */
  mode: string;
  healthy: boolean;
  /** Listed in the node's hami.io/device-cordon: keeps its pods, gets no new ones. */
  cordoned?: boolean;
}

/** One device slice given to one container (HAMi's ContainerDevice). */
export interface ContainerDevice {
  uuid: string;
  /** The vendor word HAMi writes here ("NVIDIA"). */
  type: string;
  memoryMiB: number;
  cores: number;
}

/** Devices of each container of a pod: init containers in spec order, then app containers (HAMi's
 * order since v2.9). A position past the end holds nothing. */
export type PodDevices = ContainerDevice[][];

/** What is taken on one device by the pods placed on it. */
export interface DeviceUsage {
  slots: number;
  memoryMiB: number;
  cores: number;
}

/** CPU and host memory still free on a node. */
export interface HostFree {
  cpuMilli: number;
  memoryMiB: number;
}

/** The word HAMi writes as the device type in pod allocation annotations. */
export const NVIDIA = "NVIDIA";

export const NO_USAGE: Readonly<DeviceUsage> = { slots: 0, memoryMiB: 0, cores: 0 };

/** Adds a container's slices to a usage map, in place. */
function accumulate(usage: Map<string, DeviceUsage>, slices: readonly ContainerDevice[]): void {
  for (const slice of slices) {
    const current = usage.get(slice.uuid) ?? NO_USAGE;
    usage.set(slice.uuid, {
      slots: current.slots + 1,
      memoryMiB: current.memoryMiB + slice.memoryMiB,
      cores: current.cores + slice.cores,
    });
  }
}

/** What a pod takes per device. Init containers run one at a time before the app containers, so a
 * pod holds, per device, the larger of its app containers' sum and its biggest init container:
 * Kubernetes' effective-request rule applied per device. */
export function podUsage(devices: PodDevices, initContainers: number): Map<string, DeviceUsage> {
  const result = new Map<string, DeviceUsage>();
  for (const app of devices.slice(initContainers)) accumulate(result, app);
  for (const init of devices.slice(0, initContainers)) {
    const one = new Map<string, DeviceUsage>();
    accumulate(one, init);
    for (const [uuid, u] of one) {
      const current = result.get(uuid) ?? NO_USAGE;
      result.set(uuid, {
        slots: Math.max(current.slots, u.slots),
        memoryMiB: Math.max(current.memoryMiB, u.memoryMiB),
        cores: Math.max(current.cores, u.cores),
      });
    }
  }
  return result;
}

/** Sums per-pod usages (by uuid) onto a node's devices, aligned with `devices`. */
export function usageOnDevices(
  devices: readonly Device[],
  usages: Iterable<ReadonlyMap<string, DeviceUsage>>,
): DeviceUsage[] {
  const position = new Map(devices.map((d, i) => [d.uuid, i]));
  const total: DeviceUsage[] = devices.map(() => NO_USAGE);
  for (const usage of usages) {
    for (const [uuid, u] of usage) {
      const i = position.get(uuid);
      if (i === undefined) continue;
      const current = total[i] ?? NO_USAGE;
      total[i] = {
        slots: current.slots + u.slots,
        memoryMiB: current.memoryMiB + u.memoryMiB,
        cores: current.cores + u.cores,
      };
    }
  }
  return total;
}
