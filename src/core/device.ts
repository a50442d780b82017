// Devices as the scheduler and the node agent see them, and what is in use on each. Plain data; the
// annotation codecs (codec.ts) turn them into HAMi's strings and back.

/** Where an instance sits on its GPU, in memory slices (NVML's GPU instance placement). */
export interface MigPlacement {
  start: number;
  size: number;
}

/** One MIG profile a GPU offers and where its instances may sit. */
export interface MigProfile {
  /** NVIDIA's profile name, e.g. "1g.10gb". */
  name: string;
  memoryMiB: number;
  /** Share of the GPU's SMs, in percent (HAMi's core). */
  cores: number;
  sliceCount: number;
  placements: readonly MigPlacement[];
}

/** The instance a container got on one GPU. */
export interface MigSlice {
  profile: string;
  placement: MigPlacement;
}

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
  /** HAMi's operating mode: "hami-core" (shared through HAMi-core) or "mig" (one MIG instance per
   * container, see nvidia/mig.ts); "mps" is not served by us. */
  mode: string;
  /** In mode "mig": the profiles it offers and where their instances sit. */
  migProfiles?: readonly MigProfile[];
  healthy: boolean;
  /** Listed in the node's hami.io/device-cordon: keeps its pods, gets no new ones. */
  cordoned?: boolean;
}

/** One device slice given to one container (HAMi's ContainerDevice). */
export interface ContainerDevice {
  uuid: string;
  /** The vendor's word HAMi writes here (Vendor.word, e.g. "NVIDIA"). */
  type: string;
  memoryMiB: number;
  cores: number;
  /** On a GPU in mode "mig": the instance this container got. */
  mig?: MigSlice;
}

/** Devices of each container of a pod: init containers in spec order, then app containers (HAMi's
 * order since v2.9). A position past the end holds nothing. */
export type PodDevices = ContainerDevice[][];

/** What is taken on one device by the pods placed on it. */
export interface DeviceUsage {
  slots: number;
  memoryMiB: number;
  cores: number;
  /** On a GPU in mode "mig": where its instances in use sit. */
  mig?: readonly MigPlacement[];
}

/** CPU and host memory still free on a node. */
export interface HostFree {
  cpuMilli: number;
  memoryMiB: number;
}

export const NO_USAGE: Readonly<DeviceUsage> = { slots: 0, memoryMiB: 0, cores: 0 };

/** Instances in use on a MIG GPU from two usages. An init container's instance stays reserved next
 * to the app containers' while the pod lives (conservative; when an app container reuses it, it is
 * listed twice, which takes nothing more). */
export function joinPlacements(
  a: readonly MigPlacement[] | undefined,
  b: readonly MigPlacement[] | undefined,
): readonly MigPlacement[] | undefined {
  if (a === undefined || a.length === 0) return b;
  if (b === undefined || b.length === 0) return a;
  return [...a, ...b];
}

/** A usage with `mig` set only when there is one, so plain GPUs' usages keep one shape. */
export function usageOf(
  slots: number,
  memoryMiB: number,
  cores: number,
  mig: readonly MigPlacement[] | undefined,
): DeviceUsage {
  return mig === undefined ? { slots, memoryMiB, cores } : { slots, memoryMiB, cores, mig };
}

/** The sum of two usages (b absent: a). */
export function plus(a: DeviceUsage, b: DeviceUsage | undefined): DeviceUsage {
  if (b === undefined) return a;
  return usageOf(
    a.slots + b.slots,
    a.memoryMiB + b.memoryMiB,
    a.cores + b.cores,
    joinPlacements(a.mig, b.mig),
  );
}

/** The per-field larger of two usages (an init container against the app containers). */
export function maxOf(
  a: DeviceUsage | undefined,
  b: DeviceUsage | undefined,
): DeviceUsage | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return usageOf(
    Math.max(a.slots, b.slots),
    Math.max(a.memoryMiB, b.memoryMiB),
    Math.max(a.cores, b.cores),
    joinPlacements(a.mig, b.mig),
  );
}

/** What one container's slice takes on its device. */
export function sliceUsage(slice: ContainerDevice): DeviceUsage {
  return usageOf(1, slice.memoryMiB, slice.cores, slice.mig && [slice.mig.placement]);
}

/** Adds a container's slices to a usage map, in place. */
function accumulate(usage: Map<string, DeviceUsage>, slices: readonly ContainerDevice[]): void {
  for (const slice of slices)
    usage.set(slice.uuid, plus(usage.get(slice.uuid) ?? NO_USAGE, sliceUsage(slice)));
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
    for (const [uuid, u] of one) result.set(uuid, maxOf(result.get(uuid), u) ?? u);
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
      total[i] = plus(total[i] ?? NO_USAGE, u);
    }
  }
  return total;
}
